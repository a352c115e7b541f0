## The demo game's own rules for what the NPC does: a purse, an inventory, and the
## decision on every tool call the NPC makes.
##
## The server checks a tool call against the tool's schema and the lore (the NPC has the
## item, the quest allows it), but only the game knows the rest: whether the player wanted
## the item, whether they can pay for it, whether the inventory has room. So the game
## decides, and says why when it refuses: the NPC hears the reason (SubmitToolResult's
## error) and the call's status is TOOL_CALL_STATUS_FAILED. Here: an item is handed over
## only if the player asked for it this turn (their line names it, or they pressed its
## button) and can pay its price.
extends RefCounted

## What the game sells: item id -> display name, the words that name it in a player's
## line, and the price in copper (the prices of examples/worlds/harbor/world.yaml).
const CATALOGUE := {
	"room_key": {"name": "room key", "words": ["room key", "key", "room"], "price": 5},
	"eel_stew": {"name": "eel stew", "words": ["eel stew", "stew", "bowl"], "price": 2},
}

## Copper the player carries.
var purse := 6
## Item ids the player carries, one entry per piece.
var inventory := PackedStringArray()
var _asked := PackedStringArray()  # item ids the player asked for this turn


## A new turn: the player says [param line]; [param forced_item] is the item of the
## button they pressed ("" for typed lines). Remembers which items they asked for.
func begin_turn(line: String, forced_item := "") -> void:
	_asked.clear()
	if forced_item != "":
		_asked.append(forced_item)
	var words := " %s " % _words_of(line)
	for item: String in CATALOGUE:
		for word: String in CATALOGUE[item].words:
			if (" %s " % word) in words and item not in _asked:
				_asked.append(item)


## The game's decision on a tool call: "" to run it, or why not (sent to the server as
## SubmitToolResult's error). Does not change anything: see [method run].
func refusal(tool: String, arguments: Dictionary) -> String:
	if tool != "give_item":
		return "this game cannot do %s" % tool
	var item := str(arguments.get("item", ""))
	if not CATALOGUE.has(item):
		return "the game has no item %s" % item
	var entry: Dictionary = CATALOGUE[item]
	if item not in _asked:
		return "the player did not ask for the %s" % entry.name
	var cost := price(item, arguments)
	if cost > purse:
		return (
			"the player cannot afford the %s (%d copper; they have %d)" % [entry.name, cost, purse]
		)
	return ""


## Runs an allowed give_item call: the player pays and gets the item. Returns the result
## the server is sent (SubmitToolResult's result_json).
func run(arguments: Dictionary) -> Dictionary:
	var item := str(arguments.get("item", ""))
	var cost := price(item, arguments)
	purse -= cost
	for i in count_of(arguments):
		inventory.append(item)
	_asked.erase(item)  # asked once, handed once
	return {"given": true, "item": item, "count": count_of(arguments), "paid": cost}


## Takes back a call [method run] ran, when the server did not count it (its status in
## LineDone.tool_calls is not OK, e.g. TIMED_OUT: the game answered too late and the NPC
## went on without the item): the player gets the price back and loses the item.
func undo(arguments: Dictionary) -> void:
	var item := str(arguments.get("item", ""))
	purse += price(item, arguments)
	for i in count_of(arguments):
		if item in inventory:
			inventory.remove_at(inventory.rfind(item))


## What [param arguments] cost: the item's price times the count.
func price(item: String, arguments: Dictionary) -> int:
	return int(CATALOGUE.get(item, {}).get("price", 0)) * count_of(arguments)


## The display name of [param item] (its id when the game does not sell it).
func name_of(item: String) -> String:
	return str(CATALOGUE.get(item, {}).get("name", item))


## The count argument of give_item (1 when absent or not a number).
static func count_of(arguments: Dictionary) -> int:
	var count: Variant = arguments.get("count", 1)
	return maxi(1, int(count)) if count is int or count is float else 1


# The line in lower case, punctuation as spaces.
static func _words_of(line: String) -> String:
	var plain := ""
	for character in line.to_lower():
		plain += character if character.is_valid_identifier() or character.is_valid_int() else " "
	return " ".join(plain.split(" ", false))
