## The transport's status handling and NpcDialogue's error reports, without a server:
## the retry hint of RESOURCE_EXHAUSTED, tokens a header cannot carry, a CA that is not one.
extends "test_case.gd"

const GrpcWebCall := preload("res://addons/npc_dialogue/grpc_web_call.gd")
const Frames := preload("res://addons/npc_dialogue/grpc_web_frames.gd")


func test_resource_exhausted_carries_the_retry_hint() -> void:
	var trailers := Frames.parse_trailers(
		"grpc-status: 8\r\ngrpc-message: busy%3B retry in 1.5 s\r\nretry-after-ms: 1500\r\n"
	)
	var call := GrpcWebCall.new()
	call._finish_with(trailers)
	check_eq(call.code, GrpcWebCall.Code.RESOURCE_EXHAUSTED, "status")
	check_eq(call.retry_after_ms, 1500, "the hint, in ms")
	check_eq(call.details, "busy; retry in 1.5 s", "message, decoded")
	var without := GrpcWebCall.new()
	without._finish_with({"grpc-status": "8", "grpc-message": "busy"})
	check_eq(without.retry_after_ms, -1, "no hint: -1")
	var other := GrpcWebCall.new()
	other._finish_with({"grpc-status": "5", "retry-after-ms": "10"})
	check_eq(other.retry_after_ms, -1, "a hint only counts with RESOURCE_EXHAUSTED")
	var broken := GrpcWebCall.new()
	broken._finish_with({"grpc-status": "8", "retry-after-ms": "soon"})
	check_eq(broken.retry_after_ms, -1, "a malformed hint is no hint")


func test_auth_statuses_have_their_own_codes() -> void:
	check_eq(int(NpcDialogue.Code.UNAUTHENTICATED), 16, "UNAUTHENTICATED")
	check_eq(int(NpcDialogue.Code.PERMISSION_DENIED), 7, "PERMISSION_DENIED")
	check_eq(int(NpcDialogue.Code.RESOURCE_EXHAUSTED), 8, "RESOURCE_EXHAUSTED")
	# HTTP statuses from a proxy in front of the server, as the gRPC spec maps them.
	check_eq(GrpcWebCall._code_for_http(401), GrpcWebCall.Code.UNAUTHENTICATED, "HTTP 401")
	check_eq(GrpcWebCall._code_for_http(403), GrpcWebCall.Code.PERMISSION_DENIED, "HTTP 403")


func test_busy_comes_before_the_error_with_the_hint() -> void:
	var npc := NpcDialogue.new()
	add_child(npc)
	var events := []
	npc.busy.connect(func(ms: int) -> void: events.append(["busy", ms]))
	npc.error.connect(func(code: int, message: String) -> void: events.append([code, message]))
	var call := GrpcWebCall.new()
	call._finish_with({"grpc-status": "8", "grpc-message": "full", "retry-after-ms": "250"})
	npc._fail(call)
	check_eq(events, [["busy", 250], [8, "full"]], "busy(250), then error(8)")
	check_eq(npc.retry_after_ms, 250, "retry_after_ms kept")
	npc.queue_free()


func test_unauthenticated_says_what_to_set_and_never_the_token() -> void:
	var npc := NpcDialogue.new()
	add_child(npc)
	var messages: Array[String] = []
	npc.error.connect(func(_code: int, message: String) -> void: messages.append(message))
	var call := GrpcWebCall.new()
	call._finish_with({"grpc-status": "16", "grpc-message": "this server needs a token"})
	npc._fail(call)
	npc.auth_token = "a-secret-token-0123456789"
	npc._fail(call)
	check_eq(messages.size(), 2, "two errors")
	if messages.size() == 2:
		check("set NpcDialogue.auth_token" in messages[0], "no token: %s" % messages[0])
		check("does not know" in messages[1], "unknown token: %s" % messages[1])
		check(not ("a-secret-token" in messages[1]), "the token is not in the message")
	npc.queue_free()


func test_a_token_a_header_cannot_carry_is_refused_before_sending() -> void:
	check(GrpcWebCall.is_valid_token(""), "no token")
	check(GrpcWebCall.is_valid_token("Abc-_.~+/=0123456789"), "printable ASCII")
	for bad in ["two words", "line\r\nX-Injected: 1", "tab\there", "caf\u00e9"]:
		check(not GrpcWebCall.is_valid_token(bad), "refused: %s" % bad.c_escape())
	var call := GrpcWebCall.new()
	call.token = "line\nbreak"
	await call.run("http://127.0.0.1:9", "/npc.v1.DialogueService/Say", PackedByteArray())
	check_eq(call.code, GrpcWebCall.Code.INVALID_ARGUMENT, "status")
	check(not ("break" in call.details), "the token is not in the message: %s" % call.details)


func test_the_affinity_key_is_the_games_or_the_player_id_fit_for_a_header() -> void:
	var npc := NpcDialogue.new()
	check_eq(npc.current_affinity_key(), "", "none without a player id before open_session")
	npc.player_id = "save-17"
	check_eq(npc.current_affinity_key(), "save-17", "the player id")
	npc.affinity_key = "guild-7"
	check_eq(npc.current_affinity_key(), "guild-7", "the game's own key wins")
	npc.affinity_key = ""
	npc.player_id = "Zo\u00eb 1"
	check_eq(npc.current_affinity_key(), "Zo%C3%AB%201", "percent-encoded (as the Unity client)")
	var call := GrpcWebCall.new()
	call.affinity_key = "line\nX-Injected: 1"
	await call.run("http://127.0.0.1:9", "/npc.v1.DialogueService/Say", PackedByteArray())
	check_eq(call.code, GrpcWebCall.Code.INVALID_ARGUMENT, "a key a header cannot carry")
	npc.free()


func test_a_trusted_ca_that_cannot_be_loaded_is_an_error() -> void:
	var npc := NpcDialogue.new()
	npc.server_url = "https://127.0.0.1:9"
	npc.trusted_ca_path = "res://tests/no_such_ca.crt"
	add_child(npc)
	var errors := []
	npc.error.connect(func(code: int, message: String) -> void: errors.append([code, message]))
	check(not await npc.open_session(), "no session")
	if check_eq(errors.size(), 1, "one error: %s" % [errors]):
		check_eq(errors[0][0], NpcDialogue.Code.INVALID_ARGUMENT, "status")
		check("no_such_ca.crt" in errors[0][1], "names the file: %s" % errors[0][1])
	npc.queue_free()
