## The addon's demo: one NPC (Maren, of the server's example world) and the whole flow a
## game needs (README.md, "Demo, step by step").
##
## - The HUD shows the quest's stage and objective: read with GetQuestState at start, then
##   moved by every turn's quest_changes.
## - Her line streams in, or (the "Hold" toggle) comes whole once the lore check passed.
## - When she acts (a tool call), the game decides: [code]demo_rules.gd[/code] hands the
##   item over only if the player asked for it and can pay, and otherwise sends the reason
##   back. The call and its status show under the log.
## - The quest's player options show as buttons; the turn's plan, for writers, in the debug
##   panel.
## - A failed call shows what to do about it, with a Retry button; a busy server is retried
##   after its own hint.
##
## For a server with tokens (serve --auth-tokens), set [member client_token_file] and
## [member admin_token_file]; for one with TLS, the Npc node's server_url (https://) and,
## for a self-signed certificate, its trusted_ca_path.
extends Control

## [method start] is over: [param ok] is true when the demo is ready to talk (false: the
## problem and a Retry button are on screen).
signal start_finished(ok: bool)

const DialoguePb := preload("res://addons/npc_dialogue/proto/dialogue_pb.gd")
const Rules := preload("demo_rules.gd")
const Text := preload("demo_text.gd")
# gdlint:ignore = constant-name
const Code := NpcDialogue.Code  # an enum alias, so named like one
const QUEST := "noises_below"  # the quest the demo starts
const ROOM_REQUEST := "Can I have a room key for the night?"
const STEW_REQUEST := "Can I have a bowl of eel stew?"
const AUTO_RETRIES := 3  # a busy server is retried this often by itself, then by the button

## A file holding the client token the Npc node talks with (e.g. the client.token of
## README.md's TLS example); empty: no token, or the one already set in code.
@export_global_file var client_token_file := ""
## A file holding an admin token, for starting the quest (SetQuestState is an admin call).
## A real game would start quests from its own backend, which keeps the admin token: ship
## only a client token in a game build.
@export_global_file var admin_token_file := ""

## The game's purse, inventory and tool-call decisions.
var rules := Rules.new()
## The admin token (from [member admin_token_file], or set in code); empty: the Npc
## node's own token starts the quest.
var admin_token := ""
## The player's quest stages (quest id -> stage id), as the server last said.
var stages: Dictionary[String, String] = {}
var _history := ""  # the conversation so far, finished lines only
var _current := ""  # the NPC line being streamed (no speaker until it has text)
var _calls: Dictionary[String, Array] = {}  # this turn's calls: id -> [call, decision, status]
var _ran: Dictionary[String, Dictionary] = {}  # this turn's calls the game ran: id -> arguments
var _quest_started := false
var _last_line: Array = []  # [text, tool_choice, item] of the last say, for Retry
var _retry := Callable()  # what the Retry button does
var _retry_at := -1  # Time.get_ticks_msec() of the automatic retry; -1: none
var _auto_retries := 0
var _problem := ""  # the last problem's text, without the countdown

@onready var _npc: NpcDialogue = $Npc
@onready var _title: Label = %Title
@onready var _stage: Label = %Stage
@onready var _objective: Label = %Objective
@onready var _log: RichTextLabel = %Log
@onready var _status: Label = %Status
@onready var _tool: Label = %ToolCall
@onready var _problem_box: Control = %Problem
@onready var _problem_text: Label = %ProblemText
@onready var _retry_button: Button = %Retry
@onready var _options: HFlowContainer = %Options
@onready var _input: LineEdit = %Input
@onready var _send: Button = %Send
@onready var _ask_for_room: Button = %AskForRoom
@onready var _buy_stew: Button = %BuyStew
@onready var _hold: CheckButton = %Hold
@onready var _mode_help: Label = %ModeHelp
@onready var _inventory: Label = %Inventory
@onready var _debug_toggle: Button = %DebugToggle
@onready var _debug: RichTextLabel = %Debug


func _ready() -> void:
	_npc.token.connect(_on_token)
	_npc.line_replaced.connect(_on_line_replaced)
	_npc.line.connect(_on_line)
	_npc.tool_call.connect(_on_tool_call)
	_npc.options.connect(_on_options)
	_npc.quest_update.connect(_on_quest_update)
	_watch_errors(_npc)
	_send.pressed.connect(func() -> void: say(_input.text))
	_input.text_submitted.connect(say)
	_ask_for_room.pressed.connect(say.bind(ROOM_REQUEST, "give_item", "room_key"))
	_buy_stew.pressed.connect(say.bind(STEW_REQUEST, "give_item", "eel_stew"))
	_retry_button.pressed.connect(retry)
	_hold.toggled.connect(_on_hold_toggled)
	_debug_toggle.toggled.connect(func(on: bool) -> void: _debug.visible = on)
	_on_hold_toggled(_npc.hold_until_checked)
	_hold.set_pressed_no_signal(_npc.hold_until_checked)
	_show_inventory()
	_set_busy(true)
	start()


func _process(_delta: float) -> void:
	if _retry_at < 0:
		return
	var left := _retry_at - Time.get_ticks_msec()
	if left > 0:
		var lines := _problem.split("\n", true, 1)  # the countdown goes after the first line
		lines[0] += " Trying again in %.1f s." % (left / 1000.0)
		_problem_text.text = "\n".join(lines)
		return
	_retry_at = -1
	_auto_retries += 1
	retry()


## Starts the quest for a new player (once), as a game would when the player takes it on,
## reads the player's quest state, then opens the session. The demo is ready when this
## returns true; otherwise it shows what went wrong, with a Retry button.
func start() -> bool:
	_hide_problem()
	_set_busy(true)
	_title.text = "Connecting to %s ..." % _npc.server_url
	if _npc.player_id == "":
		_npc.player_id = "demo-%d" % Time.get_unix_time_from_system()
	if client_token_file != "":
		_npc.auth_token = FileAccess.get_file_as_string(client_token_file).strip_edges()
	if admin_token_file != "":
		admin_token = FileAccess.get_file_as_string(admin_token_file).strip_edges()
	if not _quest_started:
		var admin := _admin_node()
		var state := NpcDialogue.QuestPb.QuestState.new()
		state.stages[QUEST] = "asked"
		_quest_started = await admin.set_quest_state(state) != null
		admin.queue_free()
		if not _quest_started:
			return _failed(start, false, admin)
	var state := await _npc.get_quest_state()
	if state == null:
		return _failed(start, false)
	stages.assign(state.stages)
	_show_quest()
	if _npc.session_id == "" and not await _npc.open_session():
		return _failed(start, false)
	_title.text = _npc.npc_name
	_auto_retries = 0
	_set_busy(false)
	_input.grab_focus()
	start_finished.emit(true)
	return true


## Says [param text] to the NPC; returns when the reply is over. [param tool_choice]:
## "" lets her decide whether to act, a tool id makes her call it (the player pressed a
## button); [param item]: the item that button asks for.
func say(text: String, tool_choice := "", item := "") -> void:
	if text.strip_edges() == "" or _npc.is_speaking():
		return
	_hide_problem()
	_last_line = [text, tool_choice, item]
	rules.begin_turn(text, item)
	_input.clear()
	_set_busy(true)
	for button in _options.get_children():
		button.queue_free()
	_calls.clear()
	_ran.clear()
	_tool.text = "Tool call: none this turn"
	_history += "You: %s\n" % text
	_current = ""
	var held := " (held until the line has passed the lore check)" if _hold.button_pressed else ""
	_status.text = "%s is answering...%s" % [_speaker(), held]
	_render()
	var done := await _npc.say(text, tool_choice)
	if _current != "":  # never a speaker line without words
		_history += "%s: %s%s\n" % [_speaker(), _current, "" if done != null else " [cut off]"]
	_current = ""
	_status.text = ""
	_render()
	if done == null:
		_failed(retry_line, true)  # Retry says it again; another line may be typed
		return
	_auto_retries = 0
	_set_busy(false)
	_input.grab_focus()


## Says the last line again (after it failed).
func retry_line() -> void:
	if not _last_line.is_empty():
		await say(_last_line[0], _last_line[1], _last_line[2])


## Does again what failed: starting, or the last line.
func retry() -> void:
	if _retry.is_valid():
		_retry_at = -1
		await _retry.call()


## The "Ask for a room key" button: the NPC must answer with the give_item tool.
func ask_for_room() -> void:
	await say(ROOM_REQUEST, "give_item", "room_key")


func _on_token(text: String) -> void:
	_current += text
	_status.text = ""
	_render()


func _on_line_replaced(text: String) -> void:
	_current = text  # the checker changed the line: show the checked text
	_history += "  (the lore checker trimmed the streamed line)\n"
	_render()


func _on_line(done: DialoguePb.LineDone) -> void:
	_current = done.text
	for outcome in done.tool_calls:
		var status: String = Text.TOOL_STATUS.get(outcome.status, "status %d" % outcome.status)
		var what := "%s(%s)" % [outcome.tool, outcome.arguments_json]
		_show_call(outcome.call_id, what, "", status)
		var ok := outcome.status == DialoguePb.ToolCallStatus.TOOL_CALL_STATUS_OK
		if not ok and _ran.has(outcome.call_id):  # the server went on without our answer
			rules.undo(_ran[outcome.call_id])
			_history += (
				"  (the game takes back the %s: %s)\n"
				% [rules.name_of(str(_ran[outcome.call_id].get("item", ""))), status]
			)
			_show_inventory()
	_debug.text = Text.plan_text(done)
	_render()


# The NPC acts. Only ENGINE calls are ours to run; SERVER ones already ran. The game
# decides (rules.refusal) and answers; the reply goes on once it has.
func _on_tool_call(call: DialoguePb.ToolCall, arguments: Dictionary) -> void:
	var what := "%s(%s)" % [call.tool, call.arguments_json]
	if call.executor != DialoguePb.ToolExecutor.TOOL_EXECUTOR_ENGINE:
		_show_call(call.call_id, what, "run by the server", "")
		return
	var item := rules.name_of(str(arguments.get("item", "")))
	var why := rules.refusal(call.tool, arguments)
	var result := {}
	if why == "":
		var cost := rules.price(str(arguments.get("item", "")), arguments)
		result = rules.run(arguments)
		_ran[call.call_id] = arguments
		_history += "  (%s hands you: %s; you pay %d copper)\n" % [_speaker(), item, cost]
		_show_call(call.call_id, what, "accepted by the game", "result sent")
	else:
		_history += "  (you refuse the %s: %s)\n" % [item, why]
		_show_call(call.call_id, what, "refused by the game: " + why, "reason sent")
	_show_inventory()
	_render()
	if not await _npc.submit_tool_result(call.call_id, result, why):
		_show_call(call.call_id, what, "", "the server did not take the game's answer")


func _on_options(choices: PackedStringArray) -> void:
	for choice in choices:
		var button := Button.new()
		button.text = choice
		button.pressed.connect(say.bind(choice))
		_options.add_child(button)


func _on_quest_update(changes: PackedStringArray) -> void:
	for change in changes:  # "quest: from -> to"; also "item: id", "revealed: fact"
		var quest := change.get_slice(":", 0).strip_edges()
		var moved := change.get_slice("->", 1).strip_edges()
		if quest != "" and moved != "":
			stages[quest] = moved
	_history += "  (quest_changes: %s)\n" % "; ".join(changes)
	_show_quest()
	_render()


func _on_hold_toggled(on: bool) -> void:
	_npc.hold_until_checked = on
	_mode_help.text = Text.HOLD_HELP if on else Text.STREAM_HELP


# Shows the last error (the Npc node's, or the admin node's) with what to do, and makes
# Retry do [param again]; [param can_type]: the player may say something else instead.
# Returns false, for start().
func _failed(again: Callable, can_type: bool, node: NpcDialogue = null) -> bool:
	var npc := node if node != null else _npc
	var code: int = npc.get_meta(&"error_code", Code.UNKNOWN)
	var message: String = npc.get_meta(&"error_message", "")
	_problem = Text.describe_problem(
		code, message, npc.unreachable, npc.server_url, npc.retry_after_ms
	)
	_history += "  (error %s: see below)\n" % Code.find_key(code)
	_render()
	_retry = again
	_problem_text.text = _problem
	_problem_box.visible = true
	_retry_button.disabled = false
	if _npc.session_id == "":
		_title.text = "%s: not connected" % _npc.npc_id
	if code == Code.RESOURCE_EXHAUSTED and _auto_retries < AUTO_RETRIES:
		var wait := npc.retry_after_ms if npc.retry_after_ms >= 0 else 1000
		_retry_at = Time.get_ticks_msec() + wait
	_set_busy(not can_type)
	if again == start:
		start_finished.emit(false)
	return false


func _hide_problem() -> void:
	_problem_box.visible = false
	_problem = ""
	_retry_at = -1


# The node that starts the quest: it carries the admin token.
func _admin_node() -> NpcDialogue:
	var admin := NpcDialogue.new()
	admin.server_url = _npc.server_url
	admin.trusted_ca_path = _npc.trusted_ca_path
	admin.trusted_ca = _npc.trusted_ca
	admin.player_id = _npc.player_id
	admin.auth_token = admin_token if admin_token != "" else _npc.auth_token
	add_child(admin)
	_watch_errors(admin)
	return admin


# Keeps each node's last error on it, for _failed.
func _watch_errors(npc: NpcDialogue) -> void:
	npc.error.connect(
		func(code: int, message: String) -> void:
			npc.set_meta(&"error_code", code)
			npc.set_meta(&"error_message", message)
	)


func _show_quest() -> void:
	var quest: Dictionary = Text.JOURNAL.get(QUEST, {})
	var stage: String = stages.get(QUEST, "")
	if stage == "":
		_stage.text = "%s: not started" % quest.get("name", QUEST)
		_objective.text = ""
		return
	_stage.text = "%s: stage %s" % [quest.get("name", QUEST), stage]
	_objective.text = "Objective: %s" % quest.get(stage, "(not in the journal)")


# One tool call of this turn on screen: what, the game's decision, its status ("": as
# before).
func _show_call(call_id: String, what: String, decision: String, status: String) -> void:
	var shown: Array = _calls.get(call_id, [what, "", ""])
	shown[1] = decision if decision != "" else shown[1]
	shown[2] = status if status != "" else shown[2]
	_calls[call_id] = shown
	var lines := PackedStringArray()
	for call: Array in _calls.values():
		lines.append(" -> ".join(call.filter(func(part: String) -> bool: return part != "")))
	_tool.text = "Tool call: " + "; ".join(lines)


func _show_inventory() -> void:
	var carried := PackedStringArray()
	for item in rules.inventory:
		carried.append(rules.name_of(item))
	var items := ", ".join(carried) if not carried.is_empty() else "(empty)"
	_inventory.text = "Purse: %d copper   Inventory: %s" % [rules.purse, items]


func _speaker() -> String:
	return _npc.npc_name if _npc.npc_name != "" else _npc.npc_id


func _render() -> void:
	_log.text = _history + ("%s: %s\n" % [_speaker(), _current] if _current != "" else "")


func _set_busy(busy: bool) -> void:
	for button: Button in [_send, _ask_for_room, _buy_stew]:
		button.disabled = busy
	_input.editable = not busy
