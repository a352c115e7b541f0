## The generated codec against bytes from the reference implementation (Python protobuf
## serialized the same messages), and round trips through encode/decode.
extends "test_case.gd"

const Wire := preload("res://addons/npc_dialogue/proto/wire.gd")
const DialoguePb := preload("res://addons/npc_dialogue/proto/dialogue_pb.gd")
const QuestPb := preload("res://addons/npc_dialogue/proto/quest_pb.gd")
const WorldPb := preload("res://addons/npc_dialogue/proto/world_pb.gd")

# dialogue_pb2.SayRequest(session_id="s-1", text="Héllo ☕", mode=REPLY_MODE_HOLD,
#   tool_choice="give_item", options=GenerationOptions(max_new_tokens=40, temperature=0.0,
#   top_p=0.5, seed=2**64-3, repetition_penalty=1.25)).SerializeToString().hex()
const SAY_REQUEST_HEX := (
	"0a03732d31120a48c3a96c6c6f20e298951a1c082815000000001d0000003f20fdffffffffffffffff01"
	+ "2d0000a03f20022a09676976655f6974656d"
)
# dialogue_pb2.SayResponse(line_done=LineDone(text="Here.", stop_reason=END_OF_TURN,
#   timings=Timings(12.5, 250.25, 300, 7, 31.0), check=CheckReport([Violation("secret", "x",
#   "y")], REGENERATED, 2), tool_calls=[ToolCallOutcome("c1", "give_item",
#   '{"item": "room_key"}', OK, '{"given": true}', ["noises_below: asked -> trusted"])],
#   revealed_facts=["a", "b"], quest_changes=["q: x -> y"]))
const SAY_RESPONSE_HEX := (
	"12ac010a05486572652e10011a20090000000000002940110000000000486f4018ac022007290000000000"
	+ "003f4022140a0e0a067365637265741201781a0179100218022a580a0263311209676976655f6974656d1a"
	+ "147b226974656d223a2022726f6f6d5f6b6579227d20012a0f7b22676976656e223a20747275657d321e6e"
	+ "6f697365735f62656c6f773a2061736b6564202d3e20747275737465643201613201623a09713a2078202d"
	+ "3e2079"
)
# quest_pb2.QuestState(stages={"noises_below": "trusted"}, revealed_facts=["f1"],
#   player_items=["room_key"])
const QUEST_STATE_HEX := (
	"0a170a0c6e6f697365735f62656c6f771207747275737465641202663" + "11a08726f6f6d5f6b6579"
)


func test_say_request_encodes_like_protobuf() -> void:
	var request := DialoguePb.SayRequest.new()
	request.session_id = "s-1"
	request.text = "Héllo ☕"
	request.mode = DialoguePb.ReplyMode.REPLY_MODE_HOLD
	request.tool_choice = "give_item"
	request.options = DialoguePb.GenerationOptions.new()
	request.options.max_new_tokens = 40
	request.options.temperature = 0.0  # set, so sent although it is the default
	request.options.top_p = 0.5
	request.options.seed = -3  # 2^64 - 3 as a uint64: the same 64 bits
	request.options.repetition_penalty = 1.25
	check_eq(request.encode().hex_encode(), SAY_REQUEST_HEX, "SayRequest bytes")


func test_say_request_decodes_optional_presence() -> void:
	var request := DialoguePb.SayRequest.decode(SAY_REQUEST_HEX.hex_decode())
	if not check(request != null, "SayRequest decodes"):
		return
	check_eq(request.text, "Héllo ☕", "utf-8 text")
	check(request.options.has_temperature(), "temperature 0.0 is present")
	check_eq(request.options.temperature, 0.0, "temperature")
	check_eq(request.options.top_p, 0.5, "top_p (float)")
	check_eq(request.options.seed, -3, "uint64 seed keeps its 64 bits")
	check_eq(request.options.repetition_penalty, 1.25, "repetition_penalty")
	var empty := DialoguePb.GenerationOptions.new()
	check(not empty.has_temperature() and not empty.has_seed(), "unset optionals are absent")
	check_eq(empty.encode().size(), 0, "an empty message encodes to nothing")


func test_say_response_decodes_nested_messages() -> void:
	var response := DialoguePb.SayResponse.decode(SAY_RESPONSE_HEX.hex_decode())
	if not check(response != null, "SayResponse decodes"):
		return
	check_eq(response.event_case, &"line_done", "oneof case")
	check(response.token == null and not response.has_token(), "other oneof fields unset")
	var line := response.line_done
	check_eq(line.text, "Here.", "text")
	check_eq(line.stop_reason, DialoguePb.StopReason.STOP_REASON_END_OF_TURN, "enum")
	check_eq(line.timings.ttft_ms, 12.5, "double")
	check_eq(line.timings.total_ms, 250.25, "double")
	check_eq(line.timings.prompt_tokens, 300, "uint32")
	check_eq(line.check.violations[0].kind, "secret", "repeated message in a message")
	check_eq(line.check.action, DialoguePb.CheckAction.CHECK_ACTION_REGENERATED, "enum")
	check_eq(line.tool_calls[0].status, DialoguePb.ToolCallStatus.TOOL_CALL_STATUS_OK, "status")
	check_eq(line.tool_calls[0].changes[0], "noises_below: asked -> trusted", "changes")
	check_eq(Array(line.revealed_facts), ["a", "b"], "repeated string")
	check_eq(response.encode().hex_encode(), SAY_RESPONSE_HEX, "re-encodes to the same bytes")


func test_oneof_keeps_the_last_field_set() -> void:
	var response := DialoguePb.SayResponse.new()
	check_eq(response.event_case, &"", "nothing set")
	response.token = DialoguePb.TokenDelta.new()
	response.replaced = DialoguePb.LineReplaced.new()
	check_eq(response.event_case, &"replaced", "case follows the last set")
	check(response.token == null, "setting one field clears the others")
	var again := DialoguePb.SayResponse.decode(response.encode())
	check_eq(again.event_case, &"replaced", "an empty message in a oneof is still sent")
	var source := WorldPb.WorldSource.new()
	source.path = ""
	check_eq(source.encode().hex_encode(), "0a00", "a scalar oneof field set to its default")
	check(WorldPb.WorldSource.decode(source.encode()).has_path(), "and reads back as set")


func test_map_and_repeated_fields() -> void:
	var state := QuestPb.QuestState.new()
	state.stages["noises_below"] = "trusted"
	state.revealed_facts.append("f1")
	state.player_items.append("room_key")
	check_eq(state.encode().hex_encode(), QUEST_STATE_HEX, "QuestState bytes")
	var again := QuestPb.QuestState.decode(QUEST_STATE_HEX.hex_decode())
	check_eq(again.to_dict(), state.to_dict(), "round trip")


func test_unknown_fields_are_skipped_and_garbage_refused() -> void:
	var writer := Wire.Writer.new()
	writer.field(99, Wire.Kind.UINT64, 7)  # fields a newer server adds
	writer.field(98, Wire.Kind.STRING, "new")
	writer.field(97, Wire.Kind.DOUBLE, 1.5)
	writer.field(1, Wire.Kind.STRING, "kept")
	var delta := DialoguePb.TokenDelta.decode(writer.bytes)
	check(delta != null and delta.text == "kept", "known fields read past unknown ones")
	var truncated := SAY_RESPONSE_HEX.hex_decode().slice(0, 40)
	check(DialoguePb.SayResponse.decode(truncated) == null, "truncated input is refused")


func test_wire_integers() -> void:
	var writer := Wire.Writer.new()
	writer.put(Wire.Kind.INT32, -2)
	writer.put(Wire.Kind.SINT32, -2)
	writer.put(Wire.Kind.SINT64, -(1 << 40))
	writer.put(Wire.Kind.UINT32, 0xFFFFFFFF)
	writer.put(Wire.Kind.FIXED32, 0xFFFFFFFF)
	writer.put(Wire.Kind.SFIXED64, -5)
	writer.put(Wire.Kind.BOOL, true)
	check_eq(writer.bytes.slice(0, 10).hex_encode(), "feffffffffffffffff01", "int32 -2 (10 bytes)")
	var reader := Wire.Reader.new(writer.bytes)
	check_eq(reader.read(Wire.Kind.INT32), -2, "int32")
	check_eq(reader.read(Wire.Kind.SINT32), -2, "sint32")
	check_eq(reader.read(Wire.Kind.SINT64), -(1 << 40), "sint64")
	check_eq(reader.read(Wire.Kind.UINT32), 0xFFFFFFFF, "uint32")
	check_eq(reader.read(Wire.Kind.FIXED32), 0xFFFFFFFF, "fixed32")
	check_eq(reader.read(Wire.Kind.SFIXED64), -5, "sfixed64")
	check_eq(reader.read(Wire.Kind.BOOL), true, "bool")
	check(reader.at_end() and not reader.failed, "all read")
