## The demo game's rules and what it says, without a server: which tool calls the game
## refuses and why, what each error tells the developer to do, the writers' plan panel.
extends "test_case.gd"

const DialoguePb := preload("res://addons/npc_dialogue/proto/dialogue_pb.gd")
const Rules := preload("res://demo/demo_rules.gd")
const Text := preload("res://demo/demo_text.gd")
const URL := "https://localhost:8080"


func test_the_game_refuses_an_item_the_player_did_not_ask_for() -> void:
	var rules := Rules.new()
	rules.begin_turn("What is in the cellar?")
	var unasked := rules.refusal("give_item", {"item": "eel_stew"})
	check_eq(unasked, "the player did not ask for the eel stew", "unasked")
	rules.begin_turn("Could I get some stew, love?")
	check_eq(rules.refusal("give_item", {"item": "eel_stew"}), "", "asked for in words")
	rules.begin_turn("Hello.", "room_key")
	check_eq(rules.refusal("give_item", {"item": "room_key"}), "", "asked for with a button")
	check_eq(
		rules.refusal("give_item", {"item": "anchor"}), "the game has no item anchor", "not sold"
	)
	check_eq(rules.refusal("open_door", {}), "this game cannot do open_door", "unknown tool")


func test_the_game_refuses_what_the_player_cannot_pay_for() -> void:
	var rules := Rules.new()
	rules.begin_turn("A room key and a bowl of stew, please.")
	var paid := rules.run({"item": "room_key"})
	check_eq(paid, {"given": true, "item": "room_key", "count": 1, "paid": 5}, "the result")
	check_eq(rules.purse, 1, "5 of 6 copper paid")
	check_eq(rules.inventory, PackedStringArray(["room_key"]), "the key carried")
	var too_dear := rules.refusal("give_item", {"item": "eel_stew"})
	check_eq(too_dear, "the player cannot afford the eel stew (2 copper; they have 1)", "dear")
	var again := rules.refusal("give_item", {"item": "room_key"})
	check_eq(again, "the player did not ask for the room key", "asked once, handed once")
	rules.undo({"item": "room_key"})  # the server did not count the call (TIMED_OUT)
	check_eq(rules.purse, 6, "the price back")
	check_eq(rules.inventory, PackedStringArray(), "the key taken back")
	rules.begin_turn("Three bowls of stew!")
	check_eq(rules.price("eel_stew", {"item": "eel_stew", "count": 3}), 6, "price x count")


func test_each_error_says_what_to_do() -> void:
	var said := {
		"no server": Text.describe_problem(14, "x", &"no_server", URL, -1),
		"origin": Text.describe_problem(14, "x", &"origin_refused", URL, -1),
		"unknown": Text.describe_problem(14, "x", &"", URL, -1),
		"token": Text.describe_problem(16, "x", &"", URL, -1),
		"role": Text.describe_problem(7, "x", &"", URL, -1),
		"busy": Text.describe_problem(8, "x", &"", URL, 1500),
		"busy, no hint": Text.describe_problem(8, "x", &"", URL, -1),
		"other": Text.describe_problem(5, "no such session", &"", URL, -1),
	}
	var distinct := {}
	for text: String in said.values():
		distinct[text] = true
	check_eq(distinct.size(), said.size(), "a different message for each: %s" % [said])
	check("No server answers at %s" % URL in said["no server"], said["no server"])
	check("does not allow this page's origin" in said["origin"], said["origin"])
	check("client token" in said["token"], said["token"])
	check("Its retry hint: 1.5 s." in said["busy"], said["busy"])
	check("about a second" in said["busy, no hint"], said["busy, no hint"])
	check("NOT_FOUND (5)" in said["other"], said["other"])
	check(said["other"].ends_with("\nDetails: no such session"), said["other"])


func test_the_debug_panel_shows_the_plan() -> void:
	var done := DialoguePb.LineDone.new()
	done.plan = DialoguePb.ReplyPlan.new()
	done.plan.act = "answer"
	done.plan.line_kind = "question"
	done.plan.why = "the line asks about room_price (0.61)"
	done.plan.facts.append("room_price")
	var draft := DialoguePb.Draft.new()
	draft.text = "Five coppers a night, love."
	draft.faults.append("repeats itself")
	done.plan.drafts.append(draft)
	done.plan.tool_trace.append("give_item: not on offer")
	done.check = DialoguePb.CheckReport.new()
	done.check.action = DialoguePb.CheckAction.CHECK_ACTION_PASSED
	done.check.attempts = 1
	var text := Text.plan_text(done)
	for part in [
		"act: answer",
		"line read as: question",
		"why: the line asks about room_price",
		"facts: room_price",
		"draft 1: Five coppers a night, love.   faults: repeats itself",
		"tool trace: give_item: not on offer",
		"check: CHECK_ACTION_PASSED, 1 attempt(s)",
	]:
		check(part in text, "%s in:\n%s" % [part, text])
