## Runs the addon's tests in the engine (the main scene of the test pack that
## scripts/clients/godot/web_test.py builds). Prints PASS/FAIL per test, then
## "RESULT <passed> passed, <failed> failed", and quits with 1 if any failed.
## Settings come in res://tests/run_config.json, written into the pack by the harness:
## {"suite": "all" or "codec", "grpc_web": the server's gRPC-Web URL, "client_token"
## and "admin_token": the server's client and admin tokens ("" without), "trusted_ca_path":
## its certificate in the pack ("" without)}.
extends Node

const CODEC_TESTS: Array[GDScript] = [
	preload("test_codec.gd"),
	preload("test_grpc_web_frames.gd"),
	preload("test_grpc_web_call.gd"),
	preload("test_demo_rules.gd"),
]
const LIVE_TESTS: Array[GDScript] = [preload("test_npc_dialogue.gd"), preload("test_demo.gd")]


func _ready() -> void:
	var config := _run_config()
	var scripts: Array[GDScript] = CODEC_TESTS.duplicate()
	if config.get("suite", "all") == "all":
		scripts.append_array(LIVE_TESTS)
	var passed := 0
	var failed := 0
	for script in scripts:
		var case: Node = script.new()
		case.grpc_web_url = config.get("grpc_web", "")
		case.client_token = config.get("client_token", "")
		case.admin_token = config.get("admin_token", "")
		case.trusted_ca_path = config.get("trusted_ca_path", "")
		add_child(case)
		for test in _test_names(script):
			case.failures.clear()
			await get_tree().process_frame  # lets the output so far reach the harness
			print("RUN ", test)
			await get_tree().process_frame
			var started := Time.get_ticks_msec()
			await case.call(test)
			var took := "(%d ms)" % (Time.get_ticks_msec() - started)
			if case.failures.is_empty():
				passed += 1
				print("PASS %s.%s %s" % [_name(script), test, took])
			else:
				failed += 1
				print(
					"FAIL %s.%s %s\n  %s" % [_name(script), test, took, "\n  ".join(case.failures)]
				)
		case.queue_free()
	print("RESULT %d passed, %d failed" % [passed, failed])
	get_tree().quit(1 if failed else 0)


func _run_config() -> Dictionary:
	var text := FileAccess.get_file_as_string("res://tests/run_config.json")
	var config: Variant = JSON.parse_string(text) if text != "" else null
	return config if config is Dictionary else {}


# The script's own test_* methods, in name order (each test stands alone).
func _test_names(script: GDScript) -> PackedStringArray:
	var names := PackedStringArray()
	for method in script.get_script_method_list():
		if method.name.begins_with("test_"):
			names.append(method.name)
	names.sort()
	return names


func _name(script: GDScript) -> String:
	return script.resource_path.get_file().get_basename()
