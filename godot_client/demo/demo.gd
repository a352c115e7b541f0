## The addon's demo: one NPC (Maren, of the server's example world) in a chat box.
##
## Her line streams in token by token. "Ask for a room key" says a line with the
## give_item tool forced (the game knows what the player clicked): she hands the key over
## through a tool call, the game puts it in the inventory and answers the server, and the
## quest moves on. The quest's player options then show as buttons.
##
## For a server with tokens (serve --auth-tokens), set [member client_token_file] and
## [member admin_token_file]; for one with TLS, the Npc node's server_url (https://) and,
## for a self-signed certificate, its trusted_ca_path.
extends Control

const DialoguePb := preload("res://addons/npc_dialogue/proto/dialogue_pb.gd")
const ROOM_REQUEST := "Can I have a room key for the night?"

## A file holding the client token the Npc node talks with (e.g. the client.token of
## README.md's TLS example); empty: no token, or the one already set in code.
@export_global_file var client_token_file := ""
## A file holding an admin token, for starting the quest (SetQuestState is an admin call).
## A real game would start quests from its own backend, which keeps the admin token: ship
## only a client token in a game build.
@export_global_file var admin_token_file := ""

## What the player carries (item ids), filled by the NPC's give_item calls.
var inventory := PackedStringArray()
## The admin token (from [member admin_token_file], or set in code); empty: the Npc
## node's own token starts the quest.
var admin_token := ""
var _history := ""  # the conversation so far, finished lines only
var _current := ""  # the NPC line being streamed

@onready var _npc: NpcDialogue = $Npc
@onready var _title: Label = %Title
@onready var _log: RichTextLabel = %Log
@onready var _options: HFlowContainer = %Options
@onready var _input: LineEdit = %Input
@onready var _send: Button = %Send
@onready var _ask_for_room: Button = %AskForRoom
@onready var _inventory: Label = %Inventory


func _ready() -> void:
	_npc.token.connect(_on_token)
	_npc.line_replaced.connect(_on_line_replaced)
	_npc.line.connect(_on_line)
	_npc.tool_call.connect(_on_tool_call)
	_npc.options.connect(_on_options)
	_npc.quest_update.connect(_on_quest_update)
	_npc.error.connect(_on_error)
	_send.pressed.connect(func() -> void: say(_input.text))
	_input.text_submitted.connect(say)
	_ask_for_room.pressed.connect(ask_for_room)
	_set_busy(true)
	start()


## Starts the quest for a new player, as a game would when the player takes it on, then
## opens the session. The demo is ready when this returns true.
func start() -> bool:
	if _npc.player_id == "":
		_npc.player_id = "demo-%d" % Time.get_unix_time_from_system()
	if client_token_file != "":
		_npc.auth_token = FileAccess.get_file_as_string(client_token_file).strip_edges()
	if admin_token_file != "":
		admin_token = FileAccess.get_file_as_string(admin_token_file).strip_edges()
	if not await _start_quest() or not await _npc.open_session():
		_title.text = "No server at %s (see README.md)" % _npc.server_url
		return false
	_title.text = "%s (quest: noises_below, stage: asked)" % _npc.npc_name
	_set_busy(false)
	return true


# The quest at its first stage, through a node of its own that carries the admin token.
func _start_quest() -> bool:
	var admin := NpcDialogue.new()
	admin.server_url = _npc.server_url
	admin.trusted_ca_path = _npc.trusted_ca_path
	admin.trusted_ca = _npc.trusted_ca
	admin.player_id = _npc.player_id
	admin.auth_token = admin_token if admin_token != "" else _npc.auth_token
	admin.error.connect(_on_error)
	add_child(admin)
	var state := NpcDialogue.QuestPb.QuestState.new()
	state.stages["noises_below"] = "asked"
	var kept := await admin.set_quest_state(state)
	admin.queue_free()
	return kept != null


## Says [param text] to the NPC; returns when the reply is over.
func say(text: String, tool_choice := "") -> void:
	if text.strip_edges() == "" or _npc.is_speaking():
		return
	_input.clear()
	_set_busy(true)
	for button in _options.get_children():
		button.queue_free()
	_history += "You: %s\n" % text
	_current = "%s: " % _npc.npc_name
	_render()
	await _npc.say(text, tool_choice)
	_history += _current + "\n"
	_current = ""
	_render()
	_set_busy(false)


## The "Ask for a room key" button: the NPC must answer with the give_item tool.
func ask_for_room() -> void:
	await say(ROOM_REQUEST, "give_item")


func _on_token(text: String) -> void:
	_current += text
	_render()


func _on_line_replaced(text: String) -> void:
	_current = "%s: %s" % [_npc.npc_name, text]  # the checker changed the line
	_render()


func _on_line(done: DialoguePb.LineDone) -> void:
	_current = "%s: %s" % [_npc.npc_name, done.text]
	_render()


# The NPC acts in the game. Only ENGINE calls are ours to run; SERVER ones already ran.
func _on_tool_call(call: DialoguePb.ToolCall, arguments: Dictionary) -> void:
	if call.executor != DialoguePb.ToolExecutor.TOOL_EXECUTOR_ENGINE:
		return
	if call.tool != "give_item":
		_npc.submit_tool_result(call.call_id, {}, "this game cannot do %s" % call.tool)
		return
	var item: String = arguments.get("item", "")
	inventory.append(item)
	_inventory.text = "Inventory: %s" % ", ".join(inventory)
	_history += "  (%s hands you: %s)\n" % [_npc.npc_name, item]
	_npc.submit_tool_result(call.call_id, {"given": true, "item": item})


func _on_options(choices: PackedStringArray) -> void:
	for choice in choices:
		var button := Button.new()
		button.text = choice
		button.pressed.connect(say.bind(choice))
		_options.add_child(button)


func _on_quest_update(changes: PackedStringArray) -> void:
	_current += "\n  (quest: %s)" % "; ".join(changes)
	_render()


func _on_error(code: int, message: String) -> void:
	_history += "  (error %d: %s)\n" % [code, message]
	_render()


func _render() -> void:
	_log.text = _history + _current


func _set_busy(busy: bool) -> void:
	_send.disabled = busy
	_ask_for_room.disabled = busy
	_input.editable = not busy
