## The main scene of the browser play (scripts/clients/godot/play.py): the real demo
## scene, pointed at the test's server, plus what the screen shows, as text, for the
## harness to read. The player's input (clicks, typing, Enter) comes from the browser like
## any player's; nothing here calls into the demo.
##
## Settings come from res://tests/run_config.json (as for test_runner.gd), and the page's
## query string may override them: ?grpc_web=URL&client_token=TOKEN (a wrong token, a
## port where nothing listens). Every frame the visible Labels, Buttons, LineEdits and
## RichTextLabels (name, class, text, rect in canvas pixels, disabled, pressed) go to
## window.godotScreen as JSON when they changed, and the frame count to window.godotFrame.
extends Node

const DemoScene := preload("res://demo/demo.tscn")

var _window: JavaScriptObject = null
var _demo: Control = null
var _shown := ""


func _ready() -> void:
	var config := _config()
	_demo = DemoScene.instantiate()
	var npc: NpcDialogue = _demo.get_node("Npc")
	npc.server_url = config.get("grpc_web", npc.server_url)
	npc.auth_token = config.get("client_token", "")
	npc.trusted_ca_path = config.get("trusted_ca_path", "")
	npc.player_id = "godot-play-%d-%d" % [Time.get_unix_time_from_system(), randi() % 100000]
	_demo.set("admin_token", config.get("admin_token", ""))
	add_child(_demo)
	_window = JavaScriptBridge.get_interface("window")


func _process(_delta: float) -> void:
	if _window == null:
		return
	var screen := JSON.stringify(_visible_controls())
	if screen != _shown:
		_shown = screen
		_window.set("godotScreen", screen)
	_window.set("godotFrame", Engine.get_process_frames())


func _visible_controls() -> Array[Dictionary]:
	var shown: Array[Dictionary] = []
	for node in _demo.find_children("*", "Control", true, false):
		var control := node as Control
		if not control.is_visible_in_tree():
			continue
		var text := ""
		if control is RichTextLabel:
			text = (control as RichTextLabel).get_parsed_text()
		elif control is Label or control is Button or control is LineEdit:
			text = str(control.get("text"))
		else:
			continue
		var rect := control.get_global_rect()
		var button := control as BaseButton
		var entry := {
			"name": str(control.name),
			"kind": control.get_class(),
			"text": text,
			"rect": [rect.position.x, rect.position.y, rect.size.x, rect.size.y],
			"disabled": button != null and button.disabled,
			"pressed": button != null and button.button_pressed,
			"editable": not control is LineEdit or (control as LineEdit).editable,
		}
		shown.append(entry)
	return shown


# run_config.json, then the page's query string on top.
func _config() -> Dictionary:
	var text := FileAccess.get_file_as_string("res://tests/run_config.json")
	var parsed: Variant = JSON.parse_string(text) if text != "" else null
	var config: Dictionary = parsed if parsed is Dictionary else {}
	var query := str(JavaScriptBridge.eval("window.location.search", true)).trim_prefix("?")
	for pair in query.split("&", false):
		config[pair.get_slice("=", 0).uri_decode()] = pair.get_slice("=", 1).uri_decode()
	return config
