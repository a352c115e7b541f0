## Incremental decoder of a gRPC-Web response body in binary mode: frames of
## [flag byte][big-endian uint32 length][payload]. Flag 0x00 is a message, 0x80 the
## trailers as HTTP/1-style "name: value\r\n" lines. Feed it chunks as they arrive; a
## frame split across chunks waits for the rest of its bytes.
extends RefCounted

const TRAILERS_FLAG := 0x80
const COMPRESSED_FLAG := 0x01
const HEADER_SIZE := 5

## The trailer frame's fields (lowercase names), once [member has_trailers].
var trailers: Dictionary = {}
var has_trailers := false
## Why the body cannot be decoded (a compressed frame, data after the trailers); "" if fine.
var error := ""
var _pending := PackedByteArray()


## Appends [param chunk]; returns the payloads of the messages it completed, in order.
func feed(chunk: PackedByteArray) -> Array[PackedByteArray]:
	_pending.append_array(chunk)
	var messages: Array[PackedByteArray] = []
	while error == "" and _pending.size() >= HEADER_SIZE:
		var flag := _pending[0]
		var length := (_pending[1] << 24) | (_pending[2] << 16) | (_pending[3] << 8) | _pending[4]
		if _pending.size() < HEADER_SIZE + length:
			break  # the rest of this frame is in a later chunk
		var payload := _pending.slice(HEADER_SIZE, HEADER_SIZE + length)
		_pending = _pending.slice(HEADER_SIZE + length)
		if has_trailers:
			error = "data after the trailers"
		elif flag & COMPRESSED_FLAG:
			error = "compressed frame (the client asks for none)"
		elif flag & TRAILERS_FLAG:
			trailers = parse_trailers(payload.get_string_from_utf8())
			has_trailers = true
		else:
			messages.append(payload)
	return messages


## Bytes received that do not make a whole frame yet (0 at a clean end of body).
func pending_bytes() -> int:
	return _pending.size()


## "name: value" lines (CRLF or LF) to a Dictionary with lowercase names.
static func parse_trailers(block: String) -> Dictionary:
	var fields := {}
	for line in block.replace("\r\n", "\n").split("\n", false):
		var colon := line.find(":")
		if colon > 0:
			fields[line.left(colon).strip_edges().to_lower()] = line.substr(colon + 1).strip_edges()
	return fields
