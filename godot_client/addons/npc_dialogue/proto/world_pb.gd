# Generated from protos/npc/v1/world.proto by scripts/clients/godot/gen_codec.py.
# Do not edit: change the .proto and run the script (CI checks this file is fresh).
# gdlint: disable=max-file-lines
## Messages and enums of [code]npc.v1[/code] (world.proto).
extends RefCounted

enum Severity {
	SEVERITY_UNSPECIFIED = 0,
	SEVERITY_ERROR = 1,
	SEVERITY_WARNING = 2,
}

const Wire := preload("wire.gd")


## Where a world comes from: a folder on the server, or the files themselves.
class WorldSource:
	extends RefCounted

	## Which field of the `source` oneof is set (&"path", &"files"), or &"" for none.
	var source_case: StringName = &""
	## A folder (or YAML file) under the server's world root.
	var path: String:
		get:
			return _source if source_case == &"path" else ""
		set(value):
			_source = value
			source_case = &"path"
	## File name (relative, ending in .yaml or .yml) to YAML text.
	var files: WorldFiles:
		get:
			return _source if source_case == &"files" else null
		set(value):
			_source = value
			source_case = &"files" if value else &""
	var _source: Variant = null

	func has_path() -> bool:
		return source_case == &"path"

	func clear_path() -> void:
		if source_case == &"path":
			_source = null
			source_case = &""

	func has_files() -> bool:
		return source_case == &"files"

	func clear_files() -> void:
		if source_case == &"files":
			_source = null
			source_case = &""

	## The message in protobuf binary form.
	func encode() -> PackedByteArray:
		var w := Wire.Writer.new()
		if has_path():
			w.field(1, Wire.Kind.STRING, path)
		if files != null:
			w.message(2, files.encode())
		return w.bytes

	## Decodes [param bytes]; null if they are not a valid message.
	static func decode(bytes: PackedByteArray) -> WorldSource:
		var message := WorldSource.new()
		return message if message.merge_from(Wire.Reader.new(bytes)) else null

	## Reads fields until the reader's end; false if the input was malformed.
	## Fields this version does not know are skipped.
	func merge_from(r: Wire.Reader) -> bool:
		while not r.at_end():
			var tag := r.tag()
			match tag:
				10:
					path = r.read(Wire.Kind.STRING)
				18:
					files = r.read_message(WorldFiles.new())
				_:
					r.skip(tag & 7)
		return not r.failed

	## The fields as a Dictionary (messages nested as Dictionaries), for logs and
	## tests. Unset messages, oneof fields and optional fields are left out.
	func to_dict() -> Dictionary:
		var out := {}
		if has_path():
			out["path"] = path
		if files != null:
			out["files"] = files.to_dict()
		return out

	func _to_string() -> String:
		return str(to_dict())


class WorldFiles:
	extends RefCounted

	var files: Dictionary[String, String] = {}

	## The message in protobuf binary form.
	func encode() -> PackedByteArray:
		var w := Wire.Writer.new()
		for key: String in files:
			w.map_entry(1, Wire.Kind.STRING, key, Wire.Kind.STRING, files[key])
		return w.bytes

	## Decodes [param bytes]; null if they are not a valid message.
	static func decode(bytes: PackedByteArray) -> WorldFiles:
		var message := WorldFiles.new()
		return message if message.merge_from(Wire.Reader.new(bytes)) else null

	## Reads fields until the reader's end; false if the input was malformed.
	## Fields this version does not know are skipped.
	func merge_from(r: Wire.Reader) -> bool:
		while not r.at_end():
			var tag := r.tag()
			match tag:
				10:
					var entry := r.read_map_entry(Wire.Kind.STRING, Wire.Kind.STRING)
					files[entry[0]] = entry[1]
				_:
					r.skip(tag & 7)
		return not r.failed

	## The fields as a Dictionary (messages nested as Dictionaries), for logs and
	## tests. Unset messages, oneof fields and optional fields are left out.
	func to_dict() -> Dictionary:
		var out := {}
		out["files"] = files.duplicate()
		return out

	func _to_string() -> String:
		return str(to_dict())


## One finding of the lore compiler, anchored in a file.
class Diagnostic:
	extends RefCounted

	var file: String = ""
	var line: int = 0
	var column: int = 0
	## One of [enum Severity].
	var severity: int = 0
	## Stable identifier such as "unknown-reference".
	var code: String = ""
	var message: String = ""
	## What to do about it; may be empty.
	var hint: String = ""

	## The message in protobuf binary form.
	func encode() -> PackedByteArray:
		var w := Wire.Writer.new()
		if file != "":
			w.field(1, Wire.Kind.STRING, file)
		if line != 0:
			w.field(2, Wire.Kind.UINT32, line)
		if column != 0:
			w.field(3, Wire.Kind.UINT32, column)
		if severity != 0:
			w.field(4, Wire.Kind.ENUM, severity)
		if code != "":
			w.field(5, Wire.Kind.STRING, code)
		if message != "":
			w.field(6, Wire.Kind.STRING, message)
		if hint != "":
			w.field(7, Wire.Kind.STRING, hint)
		return w.bytes

	## Decodes [param bytes]; null if they are not a valid message.
	static func decode(bytes: PackedByteArray) -> Diagnostic:
		var message := Diagnostic.new()
		return message if message.merge_from(Wire.Reader.new(bytes)) else null

	## Reads fields until the reader's end; false if the input was malformed.
	## Fields this version does not know are skipped.
	func merge_from(r: Wire.Reader) -> bool:
		while not r.at_end():
			var tag := r.tag()
			match tag:
				10:
					file = r.read(Wire.Kind.STRING)
				16:
					line = r.read(Wire.Kind.UINT32)
				24:
					column = r.read(Wire.Kind.UINT32)
				32:
					severity = r.read(Wire.Kind.ENUM)
				42:
					code = r.read(Wire.Kind.STRING)
				50:
					message = r.read(Wire.Kind.STRING)
				58:
					hint = r.read(Wire.Kind.STRING)
				_:
					r.skip(tag & 7)
		return not r.failed

	## The fields as a Dictionary (messages nested as Dictionaries), for logs and
	## tests. Unset messages, oneof fields and optional fields are left out.
	func to_dict() -> Dictionary:
		var out := {}
		out["file"] = file
		out["line"] = line
		out["column"] = column
		out["severity"] = severity
		out["code"] = code
		out["message"] = message
		out["hint"] = hint
		return out

	func _to_string() -> String:
		return str(to_dict())


class WorldInfo:
	extends RefCounted

	var name: String = ""
	## Content hash of the world's files.
	var version: String = ""
	var npc_ids: Array[String] = []
	var fact_count: int = 0
	var quest_count: int = 0

	## The message in protobuf binary form.
	func encode() -> PackedByteArray:
		var w := Wire.Writer.new()
		if name != "":
			w.field(1, Wire.Kind.STRING, name)
		if version != "":
			w.field(2, Wire.Kind.STRING, version)
		for item: String in npc_ids:
			w.field(3, Wire.Kind.STRING, item)
		if fact_count != 0:
			w.field(4, Wire.Kind.UINT32, fact_count)
		if quest_count != 0:
			w.field(5, Wire.Kind.UINT32, quest_count)
		return w.bytes

	## Decodes [param bytes]; null if they are not a valid message.
	static func decode(bytes: PackedByteArray) -> WorldInfo:
		var message := WorldInfo.new()
		return message if message.merge_from(Wire.Reader.new(bytes)) else null

	## Reads fields until the reader's end; false if the input was malformed.
	## Fields this version does not know are skipped.
	func merge_from(r: Wire.Reader) -> bool:
		while not r.at_end():
			var tag := r.tag()
			match tag:
				10:
					name = r.read(Wire.Kind.STRING)
				18:
					version = r.read(Wire.Kind.STRING)
				26:
					npc_ids.append(r.read(Wire.Kind.STRING))
				32:
					fact_count = r.read(Wire.Kind.UINT32)
				40:
					quest_count = r.read(Wire.Kind.UINT32)
				_:
					r.skip(tag & 7)
		return not r.failed

	## The fields as a Dictionary (messages nested as Dictionaries), for logs and
	## tests. Unset messages, oneof fields and optional fields are left out.
	func to_dict() -> Dictionary:
		var out := {}
		out["name"] = name
		out["version"] = version
		out["npc_ids"] = npc_ids.duplicate()
		out["fact_count"] = fact_count
		out["quest_count"] = quest_count
		return out

	func _to_string() -> String:
		return str(to_dict())


class ValidateWorldRequest:
	extends RefCounted

	var source: WorldSource = null

	## The message in protobuf binary form.
	func encode() -> PackedByteArray:
		var w := Wire.Writer.new()
		if source != null:
			w.message(1, source.encode())
		return w.bytes

	## Decodes [param bytes]; null if they are not a valid message.
	static func decode(bytes: PackedByteArray) -> ValidateWorldRequest:
		var message := ValidateWorldRequest.new()
		return message if message.merge_from(Wire.Reader.new(bytes)) else null

	## Reads fields until the reader's end; false if the input was malformed.
	## Fields this version does not know are skipped.
	func merge_from(r: Wire.Reader) -> bool:
		while not r.at_end():
			var tag := r.tag()
			match tag:
				10:
					source = r.read_message(WorldSource.new())
				_:
					r.skip(tag & 7)
		return not r.failed

	## The fields as a Dictionary (messages nested as Dictionaries), for logs and
	## tests. Unset messages, oneof fields and optional fields are left out.
	func to_dict() -> Dictionary:
		var out := {}
		if source != null:
			out["source"] = source.to_dict()
		return out

	func _to_string() -> String:
		return str(to_dict())


class ValidateWorldResponse:
	extends RefCounted

	var valid: bool = false
	var diagnostics: Array[Diagnostic] = []
	## Set when valid.
	var world: WorldInfo = null

	## The message in protobuf binary form.
	func encode() -> PackedByteArray:
		var w := Wire.Writer.new()
		if valid != false:
			w.field(1, Wire.Kind.BOOL, valid)
		for item: Diagnostic in diagnostics:
			w.message(2, item.encode())
		if world != null:
			w.message(3, world.encode())
		return w.bytes

	## Decodes [param bytes]; null if they are not a valid message.
	static func decode(bytes: PackedByteArray) -> ValidateWorldResponse:
		var message := ValidateWorldResponse.new()
		return message if message.merge_from(Wire.Reader.new(bytes)) else null

	## Reads fields until the reader's end; false if the input was malformed.
	## Fields this version does not know are skipped.
	func merge_from(r: Wire.Reader) -> bool:
		while not r.at_end():
			var tag := r.tag()
			match tag:
				8:
					valid = r.read(Wire.Kind.BOOL)
				18:
					diagnostics.append(r.read_message(Diagnostic.new()))
				26:
					world = r.read_message(WorldInfo.new())
				_:
					r.skip(tag & 7)
		return not r.failed

	## The fields as a Dictionary (messages nested as Dictionaries), for logs and
	## tests. Unset messages, oneof fields and optional fields are left out.
	func to_dict() -> Dictionary:
		var out := {}
		out["valid"] = valid
		out["diagnostics"] = Wire.to_dicts(diagnostics)
		if world != null:
			out["world"] = world.to_dict()
		return out

	func _to_string() -> String:
		return str(to_dict())


class LoadWorldRequest:
	extends RefCounted

	var source: WorldSource = null

	## The message in protobuf binary form.
	func encode() -> PackedByteArray:
		var w := Wire.Writer.new()
		if source != null:
			w.message(1, source.encode())
		return w.bytes

	## Decodes [param bytes]; null if they are not a valid message.
	static func decode(bytes: PackedByteArray) -> LoadWorldRequest:
		var message := LoadWorldRequest.new()
		return message if message.merge_from(Wire.Reader.new(bytes)) else null

	## Reads fields until the reader's end; false if the input was malformed.
	## Fields this version does not know are skipped.
	func merge_from(r: Wire.Reader) -> bool:
		while not r.at_end():
			var tag := r.tag()
			match tag:
				10:
					source = r.read_message(WorldSource.new())
				_:
					r.skip(tag & 7)
		return not r.failed

	## The fields as a Dictionary (messages nested as Dictionaries), for logs and
	## tests. Unset messages, oneof fields and optional fields are left out.
	func to_dict() -> Dictionary:
		var out := {}
		if source != null:
			out["source"] = source.to_dict()
		return out

	func _to_string() -> String:
		return str(to_dict())


class LoadWorldResponse:
	extends RefCounted

	var loaded: bool = false
	var diagnostics: Array[Diagnostic] = []
	## The world now served (the previous one when not loaded).
	var world: WorldInfo = null

	## The message in protobuf binary form.
	func encode() -> PackedByteArray:
		var w := Wire.Writer.new()
		if loaded != false:
			w.field(1, Wire.Kind.BOOL, loaded)
		for item: Diagnostic in diagnostics:
			w.message(2, item.encode())
		if world != null:
			w.message(3, world.encode())
		return w.bytes

	## Decodes [param bytes]; null if they are not a valid message.
	static func decode(bytes: PackedByteArray) -> LoadWorldResponse:
		var message := LoadWorldResponse.new()
		return message if message.merge_from(Wire.Reader.new(bytes)) else null

	## Reads fields until the reader's end; false if the input was malformed.
	## Fields this version does not know are skipped.
	func merge_from(r: Wire.Reader) -> bool:
		while not r.at_end():
			var tag := r.tag()
			match tag:
				8:
					loaded = r.read(Wire.Kind.BOOL)
				18:
					diagnostics.append(r.read_message(Diagnostic.new()))
				26:
					world = r.read_message(WorldInfo.new())
				_:
					r.skip(tag & 7)
		return not r.failed

	## The fields as a Dictionary (messages nested as Dictionaries), for logs and
	## tests. Unset messages, oneof fields and optional fields are left out.
	func to_dict() -> Dictionary:
		var out := {}
		out["loaded"] = loaded
		out["diagnostics"] = Wire.to_dicts(diagnostics)
		if world != null:
			out["world"] = world.to_dict()
		return out

	func _to_string() -> String:
		return str(to_dict())


class GetWorldInfoRequest:
	extends RefCounted

	## The message in protobuf binary form.
	func encode() -> PackedByteArray:
		var w := Wire.Writer.new()
		return w.bytes

	## Decodes [param bytes]; null if they are not a valid message.
	static func decode(bytes: PackedByteArray) -> GetWorldInfoRequest:
		var message := GetWorldInfoRequest.new()
		return message if message.merge_from(Wire.Reader.new(bytes)) else null

	## Reads fields until the reader's end; false if the input was malformed.
	## Fields this version does not know are skipped.
	func merge_from(r: Wire.Reader) -> bool:
		while not r.at_end():
			var tag := r.tag()
			match tag:
				_:
					r.skip(tag & 7)
		return not r.failed

	## The fields as a Dictionary (messages nested as Dictionaries), for logs and
	## tests. Unset messages, oneof fields and optional fields are left out.
	func to_dict() -> Dictionary:
		var out := {}
		return out

	func _to_string() -> String:
		return str(to_dict())


class GetWorldInfoResponse:
	extends RefCounted

	var world: WorldInfo = null

	## The message in protobuf binary form.
	func encode() -> PackedByteArray:
		var w := Wire.Writer.new()
		if world != null:
			w.message(1, world.encode())
		return w.bytes

	## Decodes [param bytes]; null if they are not a valid message.
	static func decode(bytes: PackedByteArray) -> GetWorldInfoResponse:
		var message := GetWorldInfoResponse.new()
		return message if message.merge_from(Wire.Reader.new(bytes)) else null

	## Reads fields until the reader's end; false if the input was malformed.
	## Fields this version does not know are skipped.
	func merge_from(r: Wire.Reader) -> bool:
		while not r.at_end():
			var tag := r.tag()
			match tag:
				10:
					world = r.read_message(WorldInfo.new())
				_:
					r.skip(tag & 7)
		return not r.failed

	## The fields as a Dictionary (messages nested as Dictionaries), for logs and
	## tests. Unset messages, oneof fields and optional fields are left out.
	func to_dict() -> Dictionary:
		var out := {}
		if world != null:
			out["world"] = world.to_dict()
		return out

	func _to_string() -> String:
		return str(to_dict())
