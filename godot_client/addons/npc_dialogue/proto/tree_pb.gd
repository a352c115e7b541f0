# Generated from protos/npc/v1/tree.proto by scripts/clients/godot/gen_codec.py.
# Do not edit: change the .proto and run the script (CI checks this file is fresh).
# gdlint: disable=max-file-lines
## Messages and enums of [code]npc.v1[/code] (tree.proto).
extends RefCounted

enum TreeFormat {
	TREE_FORMAT_UNSPECIFIED = 0,
	## npc-runtime JSON (see README, "Dialogue trees").
	TREE_FORMAT_JSON = 1,
	## Yarn Spinner 2 (.yarn).
	TREE_FORMAT_YARN = 2,
	## Ink (.ink).
	TREE_FORMAT_INK = 3,
}

const Wire := preload("wire.gd")


class GenerateTreeRequest:
	extends RefCounted

	## A dialogue spec id from the world's `dialogues:`.
	var spec_id: String = ""
	## The same seed gives the same tree.
	var seed: int = 0
	## The export to return; unspecified means JSON.
	## One of [enum TreeFormat].
	var format: int = 0

	## The message in protobuf binary form.
	func encode() -> PackedByteArray:
		var w := Wire.Writer.new()
		if spec_id != "":
			w.field(1, Wire.Kind.STRING, spec_id)
		if seed != 0:
			w.field(2, Wire.Kind.UINT64, seed)
		if format != 0:
			w.field(3, Wire.Kind.ENUM, format)
		return w.bytes

	## Decodes [param bytes]; null if they are not a valid message.
	static func decode(bytes: PackedByteArray) -> GenerateTreeRequest:
		var message := GenerateTreeRequest.new()
		return message if message.merge_from(Wire.Reader.new(bytes)) else null

	## Reads fields until the reader's end; false if the input was malformed.
	## Fields this version does not know are skipped.
	func merge_from(r: Wire.Reader) -> bool:
		while not r.at_end():
			var tag := r.tag()
			match tag:
				10:
					spec_id = r.read(Wire.Kind.STRING)
				16:
					seed = r.read(Wire.Kind.UINT64)
				24:
					format = r.read(Wire.Kind.ENUM)
				_:
					r.skip(tag & 7)
		return not r.failed

	## The fields as a Dictionary (messages nested as Dictionaries), for logs and
	## tests. Unset messages, oneof fields and optional fields are left out.
	func to_dict() -> Dictionary:
		var out := {}
		out["spec_id"] = spec_id
		out["seed"] = seed
		out["format"] = format
		return out

	func _to_string() -> String:
		return str(to_dict())


class GenerateTreeResponse:
	extends RefCounted

	## Which field of the `event` oneof is set (&"progress", &"tree"), or &"" for none.
	var event_case: StringName = &""
	var progress: TreeProgress:
		get:
			return _event if event_case == &"progress" else null
		set(value):
			_event = value
			event_case = &"progress" if value else &""
	var tree: GeneratedTree:
		get:
			return _event if event_case == &"tree" else null
		set(value):
			_event = value
			event_case = &"tree" if value else &""
	var _event: Variant = null

	func has_progress() -> bool:
		return event_case == &"progress"

	func clear_progress() -> void:
		if event_case == &"progress":
			_event = null
			event_case = &""

	func has_tree() -> bool:
		return event_case == &"tree"

	func clear_tree() -> void:
		if event_case == &"tree":
			_event = null
			event_case = &""

	## The message in protobuf binary form.
	func encode() -> PackedByteArray:
		var w := Wire.Writer.new()
		if progress != null:
			w.message(1, progress.encode())
		if tree != null:
			w.message(2, tree.encode())
		return w.bytes

	## Decodes [param bytes]; null if they are not a valid message.
	static func decode(bytes: PackedByteArray) -> GenerateTreeResponse:
		var message := GenerateTreeResponse.new()
		return message if message.merge_from(Wire.Reader.new(bytes)) else null

	## Reads fields until the reader's end; false if the input was malformed.
	## Fields this version does not know are skipped.
	func merge_from(r: Wire.Reader) -> bool:
		while not r.at_end():
			var tag := r.tag()
			match tag:
				10:
					progress = r.read_message(TreeProgress.new())
				18:
					tree = r.read_message(GeneratedTree.new())
				_:
					r.skip(tag & 7)
		return not r.failed

	## The fields as a Dictionary (messages nested as Dictionaries), for logs and
	## tests. Unset messages, oneof fields and optional fields are left out.
	func to_dict() -> Dictionary:
		var out := {}
		if progress != null:
			out["progress"] = progress.to_dict()
		if tree != null:
			out["tree"] = tree.to_dict()
		return out

	func _to_string() -> String:
		return str(to_dict())


class TreeProgress:
	extends RefCounted

	## What is being written now, e.g. "node 3/8: clapper_stolen".
	var message: String = ""

	## The message in protobuf binary form.
	func encode() -> PackedByteArray:
		var w := Wire.Writer.new()
		if message != "":
			w.field(1, Wire.Kind.STRING, message)
		return w.bytes

	## Decodes [param bytes]; null if they are not a valid message.
	static func decode(bytes: PackedByteArray) -> TreeProgress:
		var message := TreeProgress.new()
		return message if message.merge_from(Wire.Reader.new(bytes)) else null

	## Reads fields until the reader's end; false if the input was malformed.
	## Fields this version does not know are skipped.
	func merge_from(r: Wire.Reader) -> bool:
		while not r.at_end():
			var tag := r.tag()
			match tag:
				10:
					message = r.read(Wire.Kind.STRING)
				_:
					r.skip(tag & 7)
		return not r.failed

	## The fields as a Dictionary (messages nested as Dictionaries), for logs and
	## tests. Unset messages, oneof fields and optional fields are left out.
	func to_dict() -> Dictionary:
		var out := {}
		out["message"] = message
		return out

	func _to_string() -> String:
		return str(to_dict())


class GeneratedTree:
	extends RefCounted

	## One of [enum TreeFormat].
	var format: int = 0
	## The tree in that format.
	var content: String = ""
	var nodes: int = 0
	## What the verifier found (empty when the tree is sound).
	var problems: Array[String] = []

	## The message in protobuf binary form.
	func encode() -> PackedByteArray:
		var w := Wire.Writer.new()
		if format != 0:
			w.field(1, Wire.Kind.ENUM, format)
		if content != "":
			w.field(2, Wire.Kind.STRING, content)
		if nodes != 0:
			w.field(3, Wire.Kind.UINT32, nodes)
		for item: String in problems:
			w.field(4, Wire.Kind.STRING, item)
		return w.bytes

	## Decodes [param bytes]; null if they are not a valid message.
	static func decode(bytes: PackedByteArray) -> GeneratedTree:
		var message := GeneratedTree.new()
		return message if message.merge_from(Wire.Reader.new(bytes)) else null

	## Reads fields until the reader's end; false if the input was malformed.
	## Fields this version does not know are skipped.
	func merge_from(r: Wire.Reader) -> bool:
		while not r.at_end():
			var tag := r.tag()
			match tag:
				8:
					format = r.read(Wire.Kind.ENUM)
				18:
					content = r.read(Wire.Kind.STRING)
				24:
					nodes = r.read(Wire.Kind.UINT32)
				34:
					problems.append(r.read(Wire.Kind.STRING))
				_:
					r.skip(tag & 7)
		return not r.failed

	## The fields as a Dictionary (messages nested as Dictionaries), for logs and
	## tests. Unset messages, oneof fields and optional fields are left out.
	func to_dict() -> Dictionary:
		var out := {}
		out["format"] = format
		out["content"] = content
		out["nodes"] = nodes
		out["problems"] = problems.duplicate()
		return out

	func _to_string() -> String:
		return str(to_dict())
