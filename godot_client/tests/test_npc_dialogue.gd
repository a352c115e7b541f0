## NpcDialogue against a live npc-runtime server (gRPC-Web, the real default model, the
## example world): what a game sees through the node's signals. With a server that has
## tokens and TLS (as the harness starts it), every node talks with the client token over
## https; only starting a quest (SetQuestState) uses the admin token.
extends "test_case.gd"

const DialoguePb := preload("res://addons/npc_dialogue/proto/dialogue_pb.gd")
const STEW := "I'll bring the boy some stew."  # the quest's authored player option

var _players := 0


func test_open_session_names_the_npc() -> void:
	var npc := _npc()
	var opened := []
	npc.session_opened.connect(func(id: String, npc_name: String) -> void: opened.append(npc_name))
	check(await npc.open_session(), "open_session succeeds")
	check(npc.session_id != "", "a session id")
	check_eq(opened, [npc.npc_name], "session_opened once, with the name")
	check(npc.npc_name != "", "the NPC's display name")


func test_say_streams_tokens_then_one_line() -> void:
	var npc := _npc()
	var tokens: Array[int] = []  # arrival times, ms
	var text := []
	var lines: Array[DialoguePb.LineDone] = []
	var line_at := [0]
	npc.token.connect(
		func(piece: String) -> void:
			tokens.append(Time.get_ticks_msec())
			text.append(piece)
	)
	npc.line.connect(
		func(done: NpcDialogue.DialoguePb.LineDone) -> void:  # as the README writes it
			lines.append(done)
			line_at[0] = Time.get_ticks_msec()
	)
	var done := await npc.say("How much is a room for the night?")
	if not check(done != null, "say returns the finished line"):
		return
	check_eq(lines.size(), 1, "one line signal")
	check(tokens.size() > 0, "token signals before the line")
	check(done.text.strip_edges() != "", "a line")
	check(done.timings != null and done.timings.ttft_ms > 0, "timings")
	if done.check.action != DialoguePb.CheckAction.CHECK_ACTION_FALLBACK:
		check_eq("".join(text).strip_edges(), done.text.strip_edges(), "tokens add up to the line")
	# Streamed sentence by sentence as each passes, not buffered until the end: a line of
	# one sentence arrives as one piece right before its LineDone, so only a line that came
	# in pieces shows the stream.
	if tokens.size() > 1:
		check(line_at[0] - tokens[0] >= 10, "tokens arrive before the line, over time")
	print("  %d tokens, line after %d ms: %s" % [tokens.size(), line_at[0] - tokens[0], done.text])


func test_tool_call_round_trip_advances_the_quest() -> void:
	var npc := _npc()
	var calls: Array[DialoguePb.ToolCall] = []
	var arguments := []
	var quest := PackedStringArray()
	var offered := PackedStringArray()
	npc.tool_call.connect(
		func(call: DialoguePb.ToolCall, args: Dictionary) -> void:
			calls.append(call)
			arguments.append(args)
			# The game hands the item over, then answers; the reply waits for this.
			npc.submit_tool_result(call.call_id, {"given": true})
	)
	npc.quest_update.connect(func(changes: PackedStringArray) -> void: quest.append_array(changes))
	var last_offer := [PackedStringArray()]
	npc.options.connect(
		func(choices: PackedStringArray) -> void:
			offered.append_array(choices)
			last_offer[0] = choices
	)
	if not check(await _start_quest(npc), "the quest starts at its first stage"):
		return
	var done := await npc.say("Can I have a room key for the night?", "give_item")
	if not check(done != null and calls.size() == 1, "a line after one tool call"):
		return
	check_eq(calls[0].executor, DialoguePb.ToolExecutor.TOOL_EXECUTOR_ENGINE, "executor")
	check_eq(calls[0].tool, "give_item", "tool")
	check_eq(arguments[0].get("item"), "room_key", "the item argument")
	var outcome := done.tool_calls[0]
	check_eq(outcome.call_id, calls[0].call_id, "the outcome of that call")
	check_eq(outcome.status, DialoguePb.ToolCallStatus.TOOL_CALL_STATUS_OK, "status OK")
	check("noises_below: asked -> trusted" in outcome.changes, "changes: %s" % [outcome.changes])
	check("noises_below: asked -> trusted" in quest, "quest_update: %s" % [quest])
	check(STEW in offered, "the new stage's option offered: %s" % [offered])
	var state := await npc.get_quest_state()
	check(state != null and "room_key" in state.player_items, "the player holds the key")
	print("  %s(%s) -> %s: %s" % [outcome.tool, outcome.arguments_json, quest, done.text])
	# Saying an offered option takes its transition before the NPC answers.
	quest.clear()
	done = await npc.say(STEW, "none")
	check(done != null and "noises_below: trusted -> done" in quest, "option moved: %s" % [quest])
	check_eq(last_offer[0], PackedStringArray(), "no options once the quest is done")


func test_errors_map_to_status_codes() -> void:
	var npc := _npc()
	var errors := []
	npc.error.connect(func(code: int, message: String) -> void: errors.append([code, message]))
	npc.session_id = "no-such-session"
	check(await npc.say("Hello?") == null, "say to an unknown session returns null")
	_check_error(errors, NpcDialogue.Code.NOT_FOUND, "", "unknown session")
	check(await npc.open_session(), "a real session")
	errors.clear()
	check(await npc.say("") == null, "say with empty text returns null")
	_check_error(errors, NpcDialogue.Code.INVALID_ARGUMENT, "", "empty text")
	var stranger := _npc()
	stranger.npc_id = "nobody"
	var stranger_errors := []
	stranger.error.connect(
		func(code: int, message: String) -> void: stranger_errors.append([code, message])
	)
	check(not await stranger.open_session(), "no session with an unknown NPC")
	_check_error(stranger_errors, NpcDialogue.Code.NOT_FOUND, "maren", "unknown NPC")


func test_cancel_stops_the_reply_and_the_session_goes_on() -> void:
	var npc := _npc()
	var errors := []
	npc.error.connect(func(code: int, message: String) -> void: errors.append([code, message]))
	npc.token.connect(func(_piece: String) -> void: npc.cancel(), CONNECT_ONE_SHOT)
	var started := Time.get_ticks_msec()
	check(await npc.say("Tell me about the harbour.") == null, "a cancelled say returns null")
	var cancelled_at := Time.get_ticks_msec()
	check(not npc.is_speaking(), "nothing in flight")
	check_eq(errors, [], "cancelling is not an error")
	var done := await npc.say("Good evening!")
	check(done != null and done.text != "", "the next line comes through")
	var took := [cancelled_at - started, Time.get_ticks_msec() - cancelled_at]
	print("  cancelled after %d ms; the next line took %d ms" % took)


func test_close_session_forgets_it() -> void:
	var npc := _npc()
	check(await npc.open_session(), "open")
	var closed_id := npc.session_id
	check(await npc.close_session(), "close")
	var errors := []
	npc.error.connect(func(code: int, message: String) -> void: errors.append([code, message]))
	npc.session_id = closed_id
	check(await npc.say("Still there?") == null, "say after close fails")
	_check_error(errors, NpcDialogue.Code.NOT_FOUND, "", "closed session")


func test_without_a_token_the_server_says_unauthenticated() -> void:
	if client_token == "":
		print("  skipped: the server has no tokens")
		return
	for token in ["", "not-a-token-the-server-knows"]:
		var npc := _npc()
		npc.auth_token = token
		var errors := []
		npc.error.connect(func(code: int, message: String) -> void: errors.append([code, message]))
		check(not await npc.open_session(), "no session (token %d chars)" % token.length())
		var what := "no token" if token == "" else "unknown token"
		_check_error(errors, NpcDialogue.Code.UNAUTHENTICATED, "NpcDialogue.auth_token", what)
		check(await npc.say("Hello?") == null, "%s: say fails too" % what)
		check(not npc.is_speaking(), "%s: nothing in flight" % what)


func test_a_client_token_may_not_set_quest_state() -> void:
	if client_token == "":
		print("  skipped: the server has no tokens")
		return
	var npc := _npc()
	var errors := []
	npc.error.connect(func(code: int, message: String) -> void: errors.append([code, message]))
	var state := NpcDialogue.QuestPb.QuestState.new()
	state.stages["noises_below"] = "asked"
	check(await npc.set_quest_state(state) == null, "refused")
	_check_error(errors, NpcDialogue.Code.PERMISSION_DENIED, "admin", "client token")
	errors.clear()
	check(await npc.get_quest_state() != null, "but it may read the quest state")
	check_eq(errors, [], "no error reading")


func test_the_trusted_ca_loads_from_the_pack() -> void:
	if trusted_ca_path == "":
		print("  skipped: the server has no TLS")
		return
	check(grpc_web_url.begins_with("https://"), "an https:// server: %s" % grpc_web_url)
	var npc := _npc()
	check(await npc.open_session(), "a session over https")
	check(npc.trusted_ca != null, "trusted_ca_path loaded into trusted_ca")


func test_every_call_of_a_conversation_carries_its_affinity_key() -> void:
	# Its player's conversation: the key is the player id. The harness finds the printed
	# keys on the server's log lines of each call.
	var npc := _npc()
	npc.tool_call.connect(
		func(call: DialoguePb.ToolCall, _args: Dictionary) -> void:
			npc.submit_tool_result(call.call_id, {"given": true})
	)
	check(await _start_quest(npc), "the quest starts")
	check(await npc.open_session(), "open")
	check_eq(npc.current_affinity_key(), npc.player_id, "the player id")
	check(await npc.say("Can I have a room key for the night?", "give_item") != null, "a line")
	check(await npc.get_quest_state() != null, "quest state")
	check(await npc.close_session(), "close")
	# No player id: a random key for the conversation's life.
	var anonymous := _npc()
	anonymous.player_id = ""
	check(await anonymous.open_session(), "open without a player id")
	var key := anonymous.current_affinity_key()
	check_eq(key.length(), 32, "a random key: %s" % key)
	check(await anonymous.say("Good evening!", "none") != null, "a line")
	check_eq(anonymous.current_affinity_key(), key, "the same key all along")
	check(await anonymous.get_quest_state() != null, "quest state")
	check(await anonymous.close_session(), "close")
	check_eq(anonymous.current_affinity_key(), "", "forgotten after close_session")
	print("  AFFINITY player=%s random=%s" % [npc.player_id, key])


# A fresh node for a fresh player, so each test starts the quest from its first stage.
func _npc() -> NpcDialogue:
	var npc := NpcDialogue.new()
	npc.server_url = grpc_web_url
	npc.auth_token = client_token
	npc.trusted_ca_path = trusted_ca_path
	_players += 1
	npc.player_id = "godot-test-%d-%d" % [Time.get_unix_time_from_system(), _players]
	add_child(npc)
	return npc


# The quest at its first stage, as a game's backend would set it when the player takes
# it on: SetQuestState needs the admin token (the node's own, without tokens).
func _start_quest(npc: NpcDialogue) -> bool:
	var admin := _npc()
	admin.player_id = npc.player_id
	admin.auth_token = admin_token if admin_token != "" else npc.auth_token
	var state := NpcDialogue.QuestPb.QuestState.new()
	state.stages["noises_below"] = "asked"
	var kept := await admin.set_quest_state(state)
	admin.queue_free()
	return kept != null


# Exactly one error signal, with [param code] and a message containing [param words].
func _check_error(errors: Array, code: int, words: String, what: String) -> void:
	if not check_eq(errors.size(), 1, "%s: one error signal (%s)" % [what, errors]):
		return
	var message: String = errors[0][1]
	check_eq(errors[0][0], code, "%s: status code" % what)
	# (String.contains("") is false, hence the first test.)
	check(message != "" and (words == "" or words in message), "%s: message: %s" % [what, message])
