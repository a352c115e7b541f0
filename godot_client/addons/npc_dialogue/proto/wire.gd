## Protocol Buffers wire format (proto3), enough for the generated messages in this folder.
##
## Hand-written. The generated `*_pb.gd` files call [Writer] and [Reader] only; a field's
## [enum Kind] says how its value is laid out. Integers are GDScript's 64-bit ints, so a
## uint64 at or above 2^63 reads back negative (same bits), as in Java.
extends RefCounted

## The scalar types of a field (the names of FieldDescriptorProto's types).
enum Kind {
	DOUBLE,
	FLOAT,
	INT64,
	UINT64,
	INT32,
	FIXED64,
	FIXED32,
	BOOL,
	STRING,
	BYTES,
	UINT32,
	ENUM,
	SFIXED32,
	SFIXED64,
	SINT32,
	SINT64,
}

const VARINT := 0
const FIXED64_WIRE := 1
const LEN := 2
const FIXED32_WIRE := 5

## The wire type that carries a value of each [enum Kind].
const WIRE_TYPE := {
	Kind.DOUBLE: FIXED64_WIRE,
	Kind.FLOAT: FIXED32_WIRE,
	Kind.INT64: VARINT,
	Kind.UINT64: VARINT,
	Kind.INT32: VARINT,
	Kind.FIXED64: FIXED64_WIRE,
	Kind.FIXED32: FIXED32_WIRE,
	Kind.BOOL: VARINT,
	Kind.STRING: LEN,
	Kind.BYTES: LEN,
	Kind.UINT32: VARINT,
	Kind.ENUM: VARINT,
	Kind.SFIXED32: FIXED32_WIRE,
	Kind.SFIXED64: FIXED64_WIRE,
	Kind.SINT32: VARINT,
	Kind.SINT64: VARINT,
}

# A shift right that fills with zeros, for values whose top bit may be set.
const _LOW_57_BITS := 0x01FFFFFFFFFFFFFF
const _LOW_63_BITS := 0x7FFFFFFFFFFFFFFF
const _LOW_32_BITS := 0xFFFFFFFF


## [param messages] as a list of their [code]to_dict()[/code]s.
static func to_dicts(messages: Array) -> Array:
	return messages.map(func(message: RefCounted) -> Dictionary: return message.call(&"to_dict"))


## Appends fields to [member bytes].
class Writer:
	extends RefCounted

	var bytes := PackedByteArray()

	## One scalar field: tag, then value.
	func field(number: int, kind: Kind, value: Variant) -> void:
		put_varint((number << 3) | WIRE_TYPE[kind])
		put(kind, value)

	## One embedded message (already encoded), or one map entry.
	func message(number: int, encoded: PackedByteArray) -> void:
		put_varint((number << 3) | LEN)
		put_varint(encoded.size())
		bytes.append_array(encoded)

	## A repeated numeric field, packed (the proto3 default).
	func packed(number: int, kind: Kind, values: Array) -> void:
		var inner := Writer.new()
		for value: Variant in values:
			inner.put(kind, value)
		message(number, inner.bytes)

	## One entry of a map field: a message with the key as field 1 and the value as 2.
	func map_entry(
		number: int, key_kind: Kind, key: Variant, value_kind: Kind, value: Variant
	) -> void:
		var entry := Writer.new()
		entry.field(1, key_kind, key)
		entry.field(2, value_kind, value)
		message(number, entry.bytes)

	## A value without its tag.
	func put(kind: Kind, value: Variant) -> void:
		var at := bytes.size()
		match kind:
			Kind.DOUBLE:
				bytes.resize(at + 8)
				bytes.encode_double(at, value)
			Kind.FLOAT:
				bytes.resize(at + 4)
				bytes.encode_float(at, value)
			Kind.FIXED64, Kind.SFIXED64:
				bytes.resize(at + 8)
				bytes.encode_s64(at, value)
			Kind.FIXED32:
				bytes.resize(at + 4)
				bytes.encode_u32(at, value)
			Kind.SFIXED32:
				bytes.resize(at + 4)
				bytes.encode_s32(at, value)
			Kind.BOOL:
				put_varint(1 if value else 0)
			Kind.STRING:
				var utf8: PackedByteArray = (value as String).to_utf8_buffer()
				put_varint(utf8.size())
				bytes.append_array(utf8)
			Kind.BYTES:
				put_varint((value as PackedByteArray).size())
				bytes.append_array(value)
			Kind.SINT32:
				put_varint(((value << 1) ^ (value >> 31)) & _LOW_32_BITS)
			Kind.SINT64:
				put_varint((value << 1) ^ (value >> 63))
			Kind.UINT32:
				put_varint(value & _LOW_32_BITS)
			_:
				# INT32, INT64, UINT64, ENUM: negative int32s take ten bytes, as protoc's do.
				put_varint(value)

	## A base-128 varint of the 64 bits of [param value].
	func put_varint(value: int) -> void:
		while true:
			var low := value & 0x7F
			value = (value >> 7) & _LOW_57_BITS
			if value == 0:
				bytes.append(low)
				return
			bytes.append(low | 0x80)


## Reads fields from a buffer. A truncated or malformed buffer sets [member failed];
## reads after that return defaults, so the generated decoders check once at the end.
class Reader:
	extends RefCounted

	var failed := false
	var _buf: PackedByteArray
	var _pos := 0

	func _init(buf: PackedByteArray) -> void:
		_buf = buf

	func at_end() -> bool:
		return failed or _pos >= _buf.size()

	## The next field's tag: field number << 3 | wire type.
	func tag() -> int:
		return get_varint()

	## One value of [param kind] (the tag already read).
	func read(kind: Kind) -> Variant:
		var value: Variant
		match kind:
			Kind.DOUBLE:
				value = _buf.decode_double(_take(8)) if _has(8) else 0.0
			Kind.FLOAT:
				value = _buf.decode_float(_take(4)) if _has(4) else 0.0
			Kind.FIXED64, Kind.SFIXED64:
				value = _buf.decode_s64(_take(8)) if _has(8) else 0
			Kind.FIXED32:
				value = _buf.decode_u32(_take(4)) if _has(4) else 0
			Kind.SFIXED32:
				value = _buf.decode_s32(_take(4)) if _has(4) else 0
			Kind.BOOL:
				value = get_varint() != 0
			Kind.STRING:
				value = get_bytes().get_string_from_utf8()
			Kind.BYTES:
				value = get_bytes()
			Kind.INT32:
				# Sign-extend the low 32 bits (an int32 may come as a 64-bit varint).
				var low := get_varint() & _LOW_32_BITS
				value = low - (1 << 32) if low >= (1 << 31) else low
			Kind.UINT32:
				value = get_varint() & _LOW_32_BITS
			Kind.SINT32, Kind.SINT64:
				var raw := get_varint()
				value = ((raw >> 1) & _LOW_63_BITS) ^ -(raw & 1)
			_:
				value = get_varint()
		return value

	## A packed repeated field's values.
	func read_packed(kind: Kind) -> Array:
		var inner := Reader.new(get_bytes())
		var values := []
		while not inner.at_end():
			values.append(inner.read(kind))
		failed = failed or inner.failed
		return values

	## An embedded message: decodes into [param into] and returns it.
	func read_message(into: RefCounted) -> RefCounted:
		var inner := Reader.new(get_bytes())
		failed = failed or not into.call(&"merge_from", inner)
		return into

	## A map entry as [key, value]; a missing key or value is its type's default.
	func read_map_entry(key_kind: Kind, value_kind: Kind) -> Array:
		var inner := Reader.new(get_bytes())
		var entry := [_default(key_kind), _default(value_kind)]
		while not inner.at_end():
			var entry_tag := inner.tag()
			if entry_tag == (1 << 3 | WIRE_TYPE[key_kind]):
				entry[0] = inner.read(key_kind)
			elif entry_tag == (2 << 3 | WIRE_TYPE[value_kind]):
				entry[1] = inner.read(value_kind)
			else:
				inner.skip(entry_tag & 7)
		failed = failed or inner.failed
		return entry

	## Skips the value of a field this message does not know (newer servers add fields).
	func skip(wire: int) -> void:
		match wire:
			VARINT:
				get_varint()
			FIXED64_WIRE:
				_take(8)
			LEN:
				get_bytes()
			FIXED32_WIRE:
				_take(4)
			_:
				failed = true  # groups (3, 4) are not proto3; anything else is garbage

	func get_varint() -> int:
		var value := 0
		var shift := 0
		while shift < 64:
			if not _has(1):
				return 0
			var byte := _buf[_pos]
			_pos += 1
			value |= (byte & 0x7F) << shift
			if byte < 0x80:
				return value
			shift += 7
		failed = true
		return 0

	func get_bytes() -> PackedByteArray:
		var size := get_varint()
		if size < 0 or not _has(size):
			return PackedByteArray()
		var start := _take(size)
		return _buf.slice(start, start + size)

	func _has(size: int) -> bool:
		if failed or _pos + size > _buf.size():
			failed = true
			return false
		return true

	# Advances past [param size] bytes and returns where they start.
	func _take(size: int) -> int:
		if not _has(size):
			return _pos
		_pos += size
		return _pos - size

	static func _default(kind: Kind) -> Variant:
		match kind:
			Kind.STRING:
				return ""
			Kind.BYTES:
				return PackedByteArray()
			Kind.BOOL:
				return false
			Kind.DOUBLE, Kind.FLOAT:
				return 0.0
		return 0
