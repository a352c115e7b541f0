## The gRPC-Web body decoder: frames split across chunks, trailers, broken bodies.
extends "test_case.gd"

const Frames := preload("res://addons/npc_dialogue/grpc_web_frames.gd")


func test_frames_split_anywhere_decode_the_same() -> void:
	var body := _frame(0x00, "ab".to_utf8_buffer()) + _frame(0x00, PackedByteArray())
	body += _frame(0x80, "grpc-status: 5\r\ngrpc-message: no%20such%20session\r\n".to_utf8_buffer())
	for split in range(body.size() + 1):
		var frames := Frames.new()
		var messages := frames.feed(body.slice(0, split)) + frames.feed(body.slice(split))
		check_eq(messages.size(), 2, "two messages when split at %d" % split)
		check(frames.has_trailers and frames.pending_bytes() == 0, "trailers at %d" % split)
	var frames := Frames.new()
	var messages := frames.feed(body)
	check_eq(messages[0].get_string_from_utf8(), "ab", "first payload")
	check_eq(messages[1].size(), 0, "an empty message is a message")
	check_eq(frames.trailers.get("grpc-status"), "5", "status")
	check_eq(frames.trailers.get("grpc-message"), "no%20such%20session", "message (still encoded)")


func test_broken_bodies_are_reported() -> void:
	var compressed := Frames.new()
	compressed.feed(_frame(0x01, "x".to_utf8_buffer()))
	check(compressed.error != "", "a compressed frame is refused")
	var late := Frames.new()
	late.feed(_frame(0x80, "grpc-status: 0".to_utf8_buffer()) + _frame(0, PackedByteArray()))
	check(late.error != "", "data after the trailers is refused")
	var short := Frames.new()
	short.feed(_frame(0x00, "abc".to_utf8_buffer()).slice(0, 6))
	check_eq(short.pending_bytes(), 6, "a cut frame stays pending")


func test_trailer_names_are_case_insensitive() -> void:
	var fields := Frames.parse_trailers("Grpc-Status: 3\nGRPC-MESSAGE: text is empty\n")
	check_eq(fields, {"grpc-status": "3", "grpc-message": "text is empty"}, "fields")


func _frame(flag: int, payload: PackedByteArray) -> PackedByteArray:
	var size := payload.size()
	var frame := PackedByteArray([flag, size >> 24, (size >> 16) & 0xFF, (size >> 8) & 0xFF])
	frame.append(size & 0xFF)
	return frame + payload
