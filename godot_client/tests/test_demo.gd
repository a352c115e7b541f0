## The demo scene against the live server, through its methods, in the headless test run:
## the README's walk-through, the HUD following quest_changes, the game's decision on each
## tool call. (tests/clients/test_godot_client.py also plays it in a rendering browser by
## clicks and typing.)
extends "test_case.gd"

const Demo := preload("res://demo/demo.gd")
const DemoScene := preload("res://demo/demo.tscn")


func test_demo_hands_over_the_key_and_offers_the_option() -> void:
	var demo: Demo = DemoScene.instantiate()
	var npc: NpcDialogue = demo.get_node("Npc")
	npc.server_url = grpc_web_url
	npc.auth_token = client_token
	npc.trusted_ca_path = trusted_ca_path
	demo.admin_token = admin_token
	npc.player_id = "godot-demo-%d" % Time.get_unix_time_from_system()
	add_child(demo)  # it starts itself, as when the scene opens
	if not check(await demo.start_finished, "the demo opens a session"):
		return
	var log: RichTextLabel = demo.get_node("%Log")
	var stage: Label = demo.get_node("%Stage")
	var tool: Label = demo.get_node("%ToolCall")
	check(stage.text.ends_with("stage asked"), "the stage from GetQuestState: %s" % stage.text)
	await demo.ask_for_room()
	check("room_key" in demo.rules.inventory, "the key is in the inventory")
	check("hands you: room key" in log.text, "the hand-over is in the log")
	check("accepted by the game" in tool.text, "the game's decision shown: %s" % tool.text)
	check("status OK" in tool.text, "the call's status shown: %s" % tool.text)
	check(stage.text.ends_with("stage trusted"), "the HUD follows quest_changes: %s" % stage.text)
	var options: Array = demo.get_node("%Options").get_children()
	var labels := options.map(func(button: Button) -> String: return button.text)
	if not check(labels.size() == 1, "one option button: %s" % [labels]):
		return
	await demo.say(labels[0])
	check(stage.text.ends_with("stage done"), "the option moved the quest: %s" % stage.text)
	# One copper left; the stew costs two: the game refuses, and says why.
	await demo.say(Demo.STEW_REQUEST, "give_item", "eel_stew")
	check("eel_stew" not in demo.rules.inventory, "no stew: %s" % [demo.rules.inventory])
	check("cannot afford" in tool.text, "the refusal's reason shown: %s" % tool.text)
	check("status FAILED" in tool.text, "the refused call's status shown: %s" % tool.text)
	print("  " + log.text.replace("\n", "\n  "))
	demo.queue_free()
