# Generated from protos/npc/v1/quest.proto by scripts/clients/godot/gen_codec.py.
# Do not edit: change the .proto and run the script (CI checks this file is fresh).
# gdlint: disable=max-file-lines
## Messages and enums of [code]npc.v1[/code] (quest.proto).
extends RefCounted

const Wire := preload("wire.gd")


## A player's progress through the served world's quests.
class QuestState:
	extends RefCounted

	## Quest id to the id of its current stage; quests not started are absent.
	var stages: Dictionary[String, String] = {}
	## Ids of the facts the player has been told.
	var revealed_facts: Array[String] = []
	## Ids of the items the player carries.
	var player_items: Array[String] = []

	## The message in protobuf binary form.
	func encode() -> PackedByteArray:
		var w := Wire.Writer.new()
		for key: String in stages:
			w.map_entry(1, Wire.Kind.STRING, key, Wire.Kind.STRING, stages[key])
		for item: String in revealed_facts:
			w.field(2, Wire.Kind.STRING, item)
		for item: String in player_items:
			w.field(3, Wire.Kind.STRING, item)
		return w.bytes

	## Decodes [param bytes]; null if they are not a valid message.
	static func decode(bytes: PackedByteArray) -> QuestState:
		var message := QuestState.new()
		return message if message.merge_from(Wire.Reader.new(bytes)) else null

	## Reads fields until the reader's end; false if the input was malformed.
	## Fields this version does not know are skipped.
	func merge_from(r: Wire.Reader) -> bool:
		while not r.at_end():
			var tag := r.tag()
			match tag:
				10:
					var entry := r.read_map_entry(Wire.Kind.STRING, Wire.Kind.STRING)
					stages[entry[0]] = entry[1]
				18:
					revealed_facts.append(r.read(Wire.Kind.STRING))
				26:
					player_items.append(r.read(Wire.Kind.STRING))
				_:
					r.skip(tag & 7)
		return not r.failed

	## The fields as a Dictionary (messages nested as Dictionaries), for logs and
	## tests. Unset messages, oneof fields and optional fields are left out.
	func to_dict() -> Dictionary:
		var out := {}
		out["stages"] = stages.duplicate()
		out["revealed_facts"] = revealed_facts.duplicate()
		out["player_items"] = player_items.duplicate()
		return out

	func _to_string() -> String:
		return str(to_dict())


class GetQuestStateRequest:
	extends RefCounted

	## The player_id given to OpenSession, or the session id if none was.
	var player_id: String = ""

	## The message in protobuf binary form.
	func encode() -> PackedByteArray:
		var w := Wire.Writer.new()
		if player_id != "":
			w.field(1, Wire.Kind.STRING, player_id)
		return w.bytes

	## Decodes [param bytes]; null if they are not a valid message.
	static func decode(bytes: PackedByteArray) -> GetQuestStateRequest:
		var message := GetQuestStateRequest.new()
		return message if message.merge_from(Wire.Reader.new(bytes)) else null

	## Reads fields until the reader's end; false if the input was malformed.
	## Fields this version does not know are skipped.
	func merge_from(r: Wire.Reader) -> bool:
		while not r.at_end():
			var tag := r.tag()
			match tag:
				10:
					player_id = r.read(Wire.Kind.STRING)
				_:
					r.skip(tag & 7)
		return not r.failed

	## The fields as a Dictionary (messages nested as Dictionaries), for logs and
	## tests. Unset messages, oneof fields and optional fields are left out.
	func to_dict() -> Dictionary:
		var out := {}
		out["player_id"] = player_id
		return out

	func _to_string() -> String:
		return str(to_dict())


class GetQuestStateResponse:
	extends RefCounted

	var state: QuestState = null

	## The message in protobuf binary form.
	func encode() -> PackedByteArray:
		var w := Wire.Writer.new()
		if state != null:
			w.message(1, state.encode())
		return w.bytes

	## Decodes [param bytes]; null if they are not a valid message.
	static func decode(bytes: PackedByteArray) -> GetQuestStateResponse:
		var message := GetQuestStateResponse.new()
		return message if message.merge_from(Wire.Reader.new(bytes)) else null

	## Reads fields until the reader's end; false if the input was malformed.
	## Fields this version does not know are skipped.
	func merge_from(r: Wire.Reader) -> bool:
		while not r.at_end():
			var tag := r.tag()
			match tag:
				10:
					state = r.read_message(QuestState.new())
				_:
					r.skip(tag & 7)
		return not r.failed

	## The fields as a Dictionary (messages nested as Dictionaries), for logs and
	## tests. Unset messages, oneof fields and optional fields are left out.
	func to_dict() -> Dictionary:
		var out := {}
		if state != null:
			out["state"] = state.to_dict()
		return out

	func _to_string() -> String:
		return str(to_dict())


class SetQuestStateRequest:
	extends RefCounted

	## The player_id given to OpenSession, or the session id if none was.
	var player_id: String = ""
	var state: QuestState = null

	## The message in protobuf binary form.
	func encode() -> PackedByteArray:
		var w := Wire.Writer.new()
		if player_id != "":
			w.field(1, Wire.Kind.STRING, player_id)
		if state != null:
			w.message(2, state.encode())
		return w.bytes

	## Decodes [param bytes]; null if they are not a valid message.
	static func decode(bytes: PackedByteArray) -> SetQuestStateRequest:
		var message := SetQuestStateRequest.new()
		return message if message.merge_from(Wire.Reader.new(bytes)) else null

	## Reads fields until the reader's end; false if the input was malformed.
	## Fields this version does not know are skipped.
	func merge_from(r: Wire.Reader) -> bool:
		while not r.at_end():
			var tag := r.tag()
			match tag:
				10:
					player_id = r.read(Wire.Kind.STRING)
				18:
					state = r.read_message(QuestState.new())
				_:
					r.skip(tag & 7)
		return not r.failed

	## The fields as a Dictionary (messages nested as Dictionaries), for logs and
	## tests. Unset messages, oneof fields and optional fields are left out.
	func to_dict() -> Dictionary:
		var out := {}
		out["player_id"] = player_id
		if state != null:
			out["state"] = state.to_dict()
		return out

	func _to_string() -> String:
		return str(to_dict())


class SetQuestStateResponse:
	extends RefCounted

	var state: QuestState = null

	## The message in protobuf binary form.
	func encode() -> PackedByteArray:
		var w := Wire.Writer.new()
		if state != null:
			w.message(1, state.encode())
		return w.bytes

	## Decodes [param bytes]; null if they are not a valid message.
	static func decode(bytes: PackedByteArray) -> SetQuestStateResponse:
		var message := SetQuestStateResponse.new()
		return message if message.merge_from(Wire.Reader.new(bytes)) else null

	## Reads fields until the reader's end; false if the input was malformed.
	## Fields this version does not know are skipped.
	func merge_from(r: Wire.Reader) -> bool:
		while not r.at_end():
			var tag := r.tag()
			match tag:
				10:
					state = r.read_message(QuestState.new())
				_:
					r.skip(tag & 7)
		return not r.failed

	## The fields as a Dictionary (messages nested as Dictionaries), for logs and
	## tests. Unset messages, oneof fields and optional fields are left out.
	func to_dict() -> Dictionary:
		var out := {}
		if state != null:
			out["state"] = state.to_dict()
		return out

	func _to_string() -> String:
		return str(to_dict())
