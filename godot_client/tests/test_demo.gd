## The demo scene, played against the live server as the README walks through it.
extends "test_case.gd"

const DemoScene := preload("res://demo/demo.tscn")


func test_demo_hands_over_the_key_and_offers_the_option() -> void:
	var demo: Control = DemoScene.instantiate()
	var npc: NpcDialogue = demo.get_node("Npc")
	npc.server_url = grpc_web_url
	npc.auth_token = client_token
	npc.trusted_ca_path = trusted_ca_path
	demo.admin_token = admin_token
	npc.player_id = "godot-demo-%d" % Time.get_unix_time_from_system()
	add_child(demo)
	if not check(await demo.start(), "the demo opens a session"):
		return
	var log: RichTextLabel = demo.get_node("%Log")
	await demo.ask_for_room()
	check("room_key" in demo.inventory, "the key is in the inventory: %s" % [demo.inventory])
	check("noises_below: asked -> trusted" in log.text, "the quest change is shown")
	var options: Array = demo.get_node("%Options").get_children()
	var labels := options.map(func(button: Button) -> String: return button.text)
	if not check(labels.size() == 1, "one option button: %s" % [labels]):
		return
	await demo.say(labels[0])
	check("noises_below: trusted -> done" in log.text, "the option moved the quest")
	print("  " + log.text.replace("\n", "\n  "))
	demo.queue_free()
