## Talks to one NPC of an npc-runtime server over gRPC-Web.
##
## Add it to a scene, set [member server_url] and [member npc_id], connect the signals and
## call [method say]. The reply streams in as [signal token]s, then [signal line]. When the
## NPC acts in the game (executor ENGINE, e.g. handing over an item), [signal tool_call]
## asks the game to run it and answer with [method submit_tool_result]; the reply goes on
## once it has. Calls are async: [code]await npc.say("Hello")[/code] returns when the reply
## is over. Failures come as [signal error] with a gRPC status code ([enum Code]).
##
## A server with tokens wants [member auth_token] (UNAUTHENTICATED without it); one with TLS an
## https:// [member server_url], and [member trusted_ca_path] for a self-signed
## certificate or a private CA.
class_name NpcDialogue
extends Node

## The session is open; [param npc_name] is the NPC's display name.
signal session_opened(session_id: String, npc_name: String)
## A piece of the NPC's line: append [param text] to what is shown.
signal token(text: String)
## The line checker replaced what streamed so far: show [param text] instead.
signal line_replaced(text: String)
## The reply is finished: [param done] holds the full line, the tool calls made this turn
## (with their outcome), the check report and timings.
signal line(done: DialoguePb.LineDone)
## The NPC acts. When [code]call.executor == TOOL_EXECUTOR_ENGINE[/code], run it and
## answer with [method submit_tool_result] (within the server's tool timeout, 10 s by
## default); SERVER calls already ran and are only reported. [param arguments] is
## [code]call.arguments_json[/code] parsed.
signal tool_call(call: DialoguePb.ToolCall, arguments: Dictionary)
## What the player may say next to move a quest on (buttons to offer; saying one takes
## that transition). Comes after every [signal line] and [method open_session]; empty
## when there is nothing to offer.
signal options(choices: PackedStringArray)
## The player's quest state changed this turn, e.g. "noises_below: asked -> trusted", from
## what the NPC told and from its tool calls. Comes after [signal line].
signal quest_update(changes: PackedStringArray)
## A call failed: [param code] is a gRPC status ([enum Code]), [param message] the reason.
## Those that ask something of the game:
## [br]- [constant Code.UNAUTHENTICATED]: no [member auth_token], or one the server does not
## know (a typo, or revoked). Asking again with the same token will not help.
## [br]- [constant Code.PERMISSION_DENIED]: the token's role may not make this call (a
## [code]client[/code] token calling [method set_quest_state], which needs
## [code]admin[/code]).
## [br]- [constant Code.RESOURCE_EXHAUSTED]: the server is at capacity; [signal busy]
## came just before, with when to try again.
signal error(code: int, message: String)
## The server is at capacity and refused the call (an [signal error] with
## [constant Code.RESOURCE_EXHAUSTED] follows): try again in [param retry_after_ms]
## milliseconds, the server's hint; -1 when none arrived (a web export cannot read the
## hint of a call refused before its first message: README.md). Also kept in
## [member retry_after_ms].
signal busy(retry_after_ms: int)

const DialoguePb := preload("proto/dialogue_pb.gd")
const QuestPb := preload("proto/quest_pb.gd")
const GrpcWebCall := preload("grpc_web_call.gd")
# gdlint:ignore = constant-name
const Code := GrpcWebCall.Code  # an enum alias, so named like one: NpcDialogue.Code.NOT_FOUND
const SERVICE := "/npc.v1.DialogueService/"
const QUEST_SERVICE := "/npc.v1.QuestService/"

## The server's gRPC-Web address (npc-runtime serve --web-port).
@export var server_url := "http://127.0.0.1:8080"
## The NPC's id in the served world.
@export var npc_id := "maren"
## How the NPC addresses the player; empty means "traveller".
@export var player_name := ""
## Whose quest state the conversation reads and advances (a save or account id).
## Empty: the session's own.
@export var player_id := ""
## The conversation's affinity key, sent as the header "x-npc-session" on every call from
## [method open_session] on, so that a load balancer routes all of them to one server
## (README.md, "Deploying"). Empty: [member player_id], or, when that is empty too, a random
## key made by [method open_session] and kept until [method close_session]. What a header
## cannot carry (spaces, non-ASCII) is percent-encoded.
@export var affinity_key := ""
## Show the line only once it has passed the lore check (one token), instead of streaming.
@export var hold_until_checked := false
## Seconds a call may take before it fails with DEADLINE_EXCEEDED.
@export var timeout_s := 120.0
## For an https:// [member server_url] whose certificate is self-signed or from a private
## CA: that certificate (PEM), e.g. "res://server_ca.crt" or "user://server_ca.crt". It
## alone is then trusted for this server (TLSOptions.client). Empty: the system's CAs.
## Ignored in web exports, where the browser decides what it trusts.
@export_file("*.crt", "*.pem") var trusted_ca_path := ""

## The bearer token for a server started with --auth-tokens, sent as
## "authorization: Bearer <token>" on every call; "" sends none. Set it from code (it is
## not exported, so it never lands in a scene file) and do not print it: this addon never
## does.
var auth_token := ""
## The certificate [member trusted_ca_path] names, or one set here directly (e.g.
## [method X509Certificate.load_from_string]); it wins over the path when set.
var trusted_ca: X509Certificate = null
## After [signal busy]: the server's retry hint in ms (-1: none); reset by every call.
var retry_after_ms := -1
## After an [signal error] with [constant Code.UNAVAILABLE]: why the server could not be
## reached, where the addon can tell: [code]&"no_server"[/code] (nothing answers there),
## [code]&"origin_refused"[/code] (web exports: the server does not allow the page's
## origin), [code]&"tls_failed"[/code] (desktop, mobile: the certificate is not trusted);
## &"" when it cannot tell. Reset by every call. See README.md, "Errors".
var unreachable := &""

## The open session's id; "" until [method open_session] (or the first [method say]).
var session_id := ""
## The NPC's display name, once the session is open.
var npc_name := ""
var _conversation_key := ""  # the open conversation's x-npc-session ("" before open_session)
var _reply: GrpcWebCall = null  # the Say stream in flight
var _done: DialoguePb.LineDone = null


## Opens a session with [member npc_id]; false (and [signal error]) if it failed.
func open_session() -> bool:
	var request := DialoguePb.OpenSessionRequest.new()
	request.npc_id = npc_id
	request.player_name = player_name
	request.player_id = player_id
	_conversation_key = _own_key()
	if _conversation_key == "":  # no player id: a random key for this conversation
		_conversation_key = Crypto.new().generate_random_bytes(16).hex_encode()
	var response: DialoguePb.OpenSessionResponse = await _unary(
		SERVICE + "OpenSession", request, DialoguePb.OpenSessionResponse
	)
	if response == null:
		_conversation_key = ""
		return false
	session_id = response.session_id
	npc_name = response.npc_name
	session_opened.emit(session_id, npc_name)
	options.emit(PackedStringArray(response.options))
	return true


## Says [param text] to the NPC and streams the reply through the signals. Returns the
## finished line, or null if the call failed or was cancelled. [param tool_choice]: ""
## lets the NPC decide whether to act, "none" only speaks, a tool id makes it call that
## tool (the player clicked "Buy"). Opens the session first if needed.
func say(text: String, tool_choice := "") -> DialoguePb.LineDone:
	if is_speaking():
		error.emit(Code.FAILED_PRECONDITION, "the NPC is still answering the last line")
		return null
	if session_id == "" and not await open_session():
		return null
	var request := DialoguePb.SayRequest.new()
	request.session_id = session_id
	request.text = text
	request.tool_choice = tool_choice
	if hold_until_checked:
		request.mode = DialoguePb.ReplyMode.REPLY_MODE_HOLD
	_done = null
	var reply := _new_call()
	if reply == null:
		return null
	reply.message.connect(_on_reply_event)
	_reply = reply
	await reply.run(server_url, SERVICE + "Say", request.encode(), timeout_s)
	_reply = null
	if reply.code == Code.CANCELLED:
		return null  # the game asked for it: not an error
	if reply.code != Code.OK:
		_fail(reply)
		return null
	return _done


## Answers the tool call [param call_id] with [param result] (sent as JSON), or says why
## the game could not run it with [param failure]. False (and [signal error]) if the
## server did not take it, e.g. NOT_FOUND after the tool timeout.
func submit_tool_result(call_id: String, result: Variant = {}, failure := "") -> bool:
	var request := DialoguePb.SubmitToolResultRequest.new()
	request.session_id = session_id
	request.call_id = call_id
	request.result_json = JSON.stringify(result) if failure == "" else ""
	request.error = failure
	var response: RefCounted = await _unary(
		SERVICE + "SubmitToolResult", request, DialoguePb.SubmitToolResultResponse
	)
	return response != null


## Ends the session on the server (the quest state stays with the player).
func close_session() -> bool:
	if session_id == "":
		return true
	cancel()
	var request := DialoguePb.CloseSessionRequest.new()
	request.session_id = session_id
	session_id = ""
	var response: RefCounted = await _unary(
		SERVICE + "CloseSession", request, DialoguePb.CloseSessionResponse
	)
	_conversation_key = ""
	return response != null


## The quest state of [member player_id] (or of the session, if no player id): stages,
## facts told, items carried. Null (and [signal error]) if the call failed.
func get_quest_state() -> QuestPb.QuestState:
	var request := QuestPb.GetQuestStateRequest.new()
	request.player_id = _player()
	var response: QuestPb.GetQuestStateResponse = await _unary(
		QUEST_SERVICE + "GetQuestState", request, QuestPb.GetQuestStateResponse
	)
	return response.state if response != null else null


## Replaces the player's quest state, for a game that keeps its own quest logic (a loaded
## save, a cutscene that moved the story on); the NPC's next line follows it. Returns the
## state the server keeps, or null (and [signal error], INVALID_ARGUMENT naming what
## exists) for a quest, stage, fact or item the world does not have.
func set_quest_state(state: QuestPb.QuestState) -> QuestPb.QuestState:
	var request := QuestPb.SetQuestStateRequest.new()
	request.player_id = _player()
	request.state = state
	var response: QuestPb.SetQuestStateResponse = await _unary(
		QUEST_SERVICE + "SetQuestState", request, QuestPb.SetQuestStateResponse
	)
	return response.state if response != null else null


## Stops the reply in flight; [method say] returns null. The server stops generating when
## the connection closes: in desktop and mobile exports. (In web exports Godot 4.6 does
## not abort the browser's request, so the server finishes the reply unseen; README.md.)
func cancel() -> void:
	if _reply != null:
		_reply.cancel()


## The key the calls carry as "x-npc-session" now: the open conversation's, or before
## [method open_session] [member affinity_key] or [member player_id] ("" when neither).
func current_affinity_key() -> String:
	return _conversation_key if _conversation_key != "" else _own_key()


## Whether a reply is streaming.
func is_speaking() -> bool:
	return _reply != null


func _exit_tree() -> void:
	cancel()  # a freed dialogue box must not keep the NPC talking


# One event of the Say stream. Events a newer server adds are ignored, as the contract asks.
func _on_reply_event(payload: PackedByteArray) -> void:
	var event := DialoguePb.SayResponse.decode(payload)
	if event == null:
		error.emit(Code.INTERNAL, "undecodable reply event")
		cancel()
		return
	match event.event_case:
		&"token":
			token.emit(event.token.text)
		&"replaced":
			line_replaced.emit(event.replaced.text)
		&"tool_call":
			var arguments: Variant = JSON.parse_string(event.tool_call.arguments_json)
			tool_call.emit(event.tool_call, arguments if arguments is Dictionary else {})
		&"line_done":
			_done = event.line_done
			_emit_line(event.line_done)


func _emit_line(done: DialoguePb.LineDone) -> void:
	line.emit(done)
	var changes := PackedStringArray(done.quest_changes)  # tool calls' changes included
	if not changes.is_empty():
		quest_update.emit(changes)
	options.emit(PackedStringArray(done.options))


# The game's key, or the player id, made fit for a header ("" when neither is set).
func _own_key() -> String:
	var key := affinity_key if affinity_key != "" else player_id
	return key if GrpcWebCall.is_valid_token(key) else key.uri_encode()


# The quest state's owner: the player id, or the session's id when there is none.
func _player() -> String:
	return player_id if player_id != "" else session_id


# A unary call ("/package.Service/Method"): the response decoded as [param response_type]
# (a generated message class), or null after emitting [signal error].
func _unary(method: String, request: RefCounted, response_type: GDScript) -> RefCounted:
	var call := _new_call()
	if call == null:
		return null
	var responses: Array[PackedByteArray] = []
	call.message.connect(func(payload: PackedByteArray) -> void: responses.append(payload))
	await call.run(server_url, method, request.call(&"encode"), timeout_s)
	if call.code != Code.OK:
		_fail(call)
		return null
	var response: RefCounted = null
	if responses.size() == 1:
		response = response_type.call(&"decode", responses[0])
	if response == null:
		error.emit(Code.INTERNAL, "%s: no valid response (%d)" % [method, responses.size()])
	return response


# A call with the token and the trusted CA; null (after [signal error]) if the CA file
# cannot be loaded.
func _new_call() -> GrpcWebCall:
	retry_after_ms = -1
	unreachable = &""
	if trusted_ca == null and trusted_ca_path != "":
		var ca := X509Certificate.new()
		var err := (
			ca.load(trusted_ca_path)
			if FileAccess.file_exists(trusted_ca_path)
			else ERR_FILE_NOT_FOUND
		)
		if err != OK:
			var why := "cannot load trusted_ca_path %s (%s)" % [trusted_ca_path, error_string(err)]
			error.emit(Code.INVALID_ARGUMENT, why + ": it must be a PEM certificate")
			return null
		trusted_ca = ca
	var call := GrpcWebCall.new()
	call.token = auth_token
	call.affinity_key = current_affinity_key()
	call.trusted_ca = trusted_ca
	return call


# Reports a failed call: [signal busy] first when the server is at capacity, then
# [signal error]; for UNAUTHENTICATED the message says what to set. (PERMISSION_DENIED's
# message is the server's: it names the call and the role it needs.)
func _fail(call: GrpcWebCall) -> void:
	var message := call.details
	unreachable = call.unreachable
	match call.code:
		Code.UNAUTHENTICATED:
			var why := (
				"the server needs a token: set NpcDialogue.auth_token"
				if auth_token == ""
				else "the server does not know NpcDialogue.auth_token"
			)
			message = "%s (server: %s)" % [why, message] if message != "" else why
		Code.RESOURCE_EXHAUSTED:
			retry_after_ms = call.retry_after_ms
			busy.emit(retry_after_ms)
	error.emit(call.code, message)
