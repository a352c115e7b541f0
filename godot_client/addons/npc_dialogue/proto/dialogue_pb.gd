# Generated from protos/npc/v1/dialogue.proto by scripts/clients/godot/gen_codec.py.
# Do not edit: change the .proto and run the script (CI checks this file is fresh).
# gdlint: disable=max-file-lines
## Messages and enums of [code]npc.v1[/code] (dialogue.proto).
extends RefCounted

## How a reply reaches the client, given that every line is checked against the
## lore before it counts as said.
enum ReplyMode {
	## Same as REPLY_MODE_STREAM.
	REPLY_MODE_UNSPECIFIED = 0,
	## Tokens stream as they are generated; if the checker had to change the line,
	## a `replaced` event carries the line to show instead, before line_done.
	REPLY_MODE_STREAM = 1,
	## Nothing streams until the line has passed the check; then the whole line
	## comes as one token event.
	REPLY_MODE_HOLD = 2,
}

enum ToolExecutor {
	TOOL_EXECUTOR_UNSPECIFIED = 0,
	## The game runs it and answers with SubmitToolResult.
	TOOL_EXECUTOR_ENGINE = 1,
	## The server ran it.
	TOOL_EXECUTOR_SERVER = 2,
}

enum ToolCallStatus {
	TOOL_CALL_STATUS_UNSPECIFIED = 0,
	TOOL_CALL_STATUS_OK = 1,
	## The game answered with an error.
	TOOL_CALL_STATUS_FAILED = 2,
	## The game did not answer within the server's tool timeout.
	TOOL_CALL_STATUS_TIMED_OUT = 3,
	## The server's second validation refused it (nothing ran).
	TOOL_CALL_STATUS_REJECTED = 4,
}

## What was done so that no violating line is said.
enum CheckAction {
	CHECK_ACTION_UNSPECIFIED = 0,
	## The first line passed.
	CHECK_ACTION_PASSED = 1,
	## A line generated again with the offending words banned passed.
	CHECK_ACTION_REGENERATED = 2,
	## The offending sentences were cut; the rest passed.
	CHECK_ACTION_REPAIRED = 3,
	## Nothing generated could be said: one of the character's authored fallback
	## lines was said instead.
	CHECK_ACTION_FALLBACK = 4,
}

enum StopReason {
	STOP_REASON_UNSPECIFIED = 0,
	## The model ended its turn.
	STOP_REASON_END_OF_TURN = 1,
	## A stop sequence appeared in the text.
	STOP_REASON_STOP_SEQUENCE = 2,
	## max_new_tokens was reached.
	STOP_REASON_MAX_TOKENS = 3,
}

const Wire := preload("wire.gd")


class OpenSessionRequest:
	extends RefCounted

	## Id of the NPC to talk to, as written in the world's YAML (e.g. "maren").
	var npc_id: String = ""
	## How the NPC should address the player; empty means "traveller".
	var player_name: String = ""
	## Whose quest state the conversation reads and advances (the game's save or
	## account id, up to 128 characters; see QuestService). Empty: the session's own.
	var player_id: String = ""

	## The message in protobuf binary form.
	func encode() -> PackedByteArray:
		var w := Wire.Writer.new()
		if npc_id != "":
			w.field(1, Wire.Kind.STRING, npc_id)
		if player_name != "":
			w.field(2, Wire.Kind.STRING, player_name)
		if player_id != "":
			w.field(3, Wire.Kind.STRING, player_id)
		return w.bytes

	## Decodes [param bytes]; null if they are not a valid message.
	static func decode(bytes: PackedByteArray) -> OpenSessionRequest:
		var message := OpenSessionRequest.new()
		return message if message.merge_from(Wire.Reader.new(bytes)) else null

	## Reads fields until the reader's end; false if the input was malformed.
	## Fields this version does not know are skipped.
	func merge_from(r: Wire.Reader) -> bool:
		while not r.at_end():
			var tag := r.tag()
			match tag:
				10:
					npc_id = r.read(Wire.Kind.STRING)
				18:
					player_name = r.read(Wire.Kind.STRING)
				26:
					player_id = r.read(Wire.Kind.STRING)
				_:
					r.skip(tag & 7)
		return not r.failed

	## The fields as a Dictionary (messages nested as Dictionaries), for logs and
	## tests. Unset messages, oneof fields and optional fields are left out.
	func to_dict() -> Dictionary:
		var out := {}
		out["npc_id"] = npc_id
		out["player_name"] = player_name
		out["player_id"] = player_id
		return out

	func _to_string() -> String:
		return str(to_dict())


class OpenSessionResponse:
	extends RefCounted

	var session_id: String = ""
	var npc_id: String = ""
	## The NPC's display name, for the engine's dialogue box.
	var npc_name: String = ""
	## What the player may say now to move a quest on (see LineDone.options).
	var options: Array[String] = []

	## The message in protobuf binary form.
	func encode() -> PackedByteArray:
		var w := Wire.Writer.new()
		if session_id != "":
			w.field(1, Wire.Kind.STRING, session_id)
		if npc_id != "":
			w.field(2, Wire.Kind.STRING, npc_id)
		if npc_name != "":
			w.field(3, Wire.Kind.STRING, npc_name)
		for item: String in options:
			w.field(4, Wire.Kind.STRING, item)
		return w.bytes

	## Decodes [param bytes]; null if they are not a valid message.
	static func decode(bytes: PackedByteArray) -> OpenSessionResponse:
		var message := OpenSessionResponse.new()
		return message if message.merge_from(Wire.Reader.new(bytes)) else null

	## Reads fields until the reader's end; false if the input was malformed.
	## Fields this version does not know are skipped.
	func merge_from(r: Wire.Reader) -> bool:
		while not r.at_end():
			var tag := r.tag()
			match tag:
				10:
					session_id = r.read(Wire.Kind.STRING)
				18:
					npc_id = r.read(Wire.Kind.STRING)
				26:
					npc_name = r.read(Wire.Kind.STRING)
				34:
					options.append(r.read(Wire.Kind.STRING))
				_:
					r.skip(tag & 7)
		return not r.failed

	## The fields as a Dictionary (messages nested as Dictionaries), for logs and
	## tests. Unset messages, oneof fields and optional fields are left out.
	func to_dict() -> Dictionary:
		var out := {}
		out["session_id"] = session_id
		out["npc_id"] = npc_id
		out["npc_name"] = npc_name
		out["options"] = options.duplicate()
		return out

	func _to_string() -> String:
		return str(to_dict())


class SayRequest:
	extends RefCounted

	var session_id: String = ""
	## The player's line: 1 to 1000 characters of UTF-8 text.
	var text: String = ""
	## Optional; server defaults apply to fields left unset.
	var options: GenerationOptions = null
	## Whether tokens stream before the line is checked (default) or only after.
	## One of [enum ReplyMode].
	var mode: int = 0
	## Empty: the NPC decides whether to act. "none": it only speaks. A tool id:
	## it calls that tool first (the game knows the player clicked "Buy"), with
	## arguments still from the lore and the player's words; INVALID_ARGUMENT if
	## the NPC cannot call it now or nothing the player said grounds it.
	var tool_choice: String = ""

	## The message in protobuf binary form.
	func encode() -> PackedByteArray:
		var w := Wire.Writer.new()
		if session_id != "":
			w.field(1, Wire.Kind.STRING, session_id)
		if text != "":
			w.field(2, Wire.Kind.STRING, text)
		if options != null:
			w.message(3, options.encode())
		if mode != 0:
			w.field(4, Wire.Kind.ENUM, mode)
		if tool_choice != "":
			w.field(5, Wire.Kind.STRING, tool_choice)
		return w.bytes

	## Decodes [param bytes]; null if they are not a valid message.
	static func decode(bytes: PackedByteArray) -> SayRequest:
		var message := SayRequest.new()
		return message if message.merge_from(Wire.Reader.new(bytes)) else null

	## Reads fields until the reader's end; false if the input was malformed.
	## Fields this version does not know are skipped.
	func merge_from(r: Wire.Reader) -> bool:
		while not r.at_end():
			var tag := r.tag()
			match tag:
				10:
					session_id = r.read(Wire.Kind.STRING)
				18:
					text = r.read(Wire.Kind.STRING)
				26:
					options = r.read_message(GenerationOptions.new())
				32:
					mode = r.read(Wire.Kind.ENUM)
				42:
					tool_choice = r.read(Wire.Kind.STRING)
				_:
					r.skip(tag & 7)
		return not r.failed

	## The fields as a Dictionary (messages nested as Dictionaries), for logs and
	## tests. Unset messages, oneof fields and optional fields are left out.
	func to_dict() -> Dictionary:
		var out := {}
		out["session_id"] = session_id
		out["text"] = text
		if options != null:
			out["options"] = options.to_dict()
		out["mode"] = mode
		out["tool_choice"] = tool_choice
		return out

	func _to_string() -> String:
		return str(to_dict())


class GenerationOptions:
	extends RefCounted

	## 0 means the server default. Capped by the server.
	var max_new_tokens: int = 0
	## 0 means greedy decoding.
	var temperature: float:
		get:
			return _temperature if _temperature != null else 0.0
		set(value):
			_temperature = value
	## Nucleus sampling mass in (0, 1]; unset means 1.
	var top_p: float:
		get:
			return _top_p if _top_p != null else 0.0
		set(value):
			_top_p = value
	## Fixes the sampler's random stream, so a seeded reply is reproducible.
	var seed: int:
		get:
			return _seed if _seed != null else 0
		set(value):
			_seed = value
	## >= 1; penalises tokens the reply already used. Unset means the server default.
	var repetition_penalty: float:
		get:
			return _repetition_penalty if _repetition_penalty != null else 0.0
		set(value):
			_repetition_penalty = value
	var _temperature: Variant = null
	var _top_p: Variant = null
	var _seed: Variant = null
	var _repetition_penalty: Variant = null

	func has_temperature() -> bool:
		return _temperature != null

	func clear_temperature() -> void:
		_temperature = null

	func has_top_p() -> bool:
		return _top_p != null

	func clear_top_p() -> void:
		_top_p = null

	func has_seed() -> bool:
		return _seed != null

	func clear_seed() -> void:
		_seed = null

	func has_repetition_penalty() -> bool:
		return _repetition_penalty != null

	func clear_repetition_penalty() -> void:
		_repetition_penalty = null

	## The message in protobuf binary form.
	func encode() -> PackedByteArray:
		var w := Wire.Writer.new()
		if max_new_tokens != 0:
			w.field(1, Wire.Kind.UINT32, max_new_tokens)
		if has_temperature():
			w.field(2, Wire.Kind.FLOAT, temperature)
		if has_top_p():
			w.field(3, Wire.Kind.FLOAT, top_p)
		if has_seed():
			w.field(4, Wire.Kind.UINT64, seed)
		if has_repetition_penalty():
			w.field(5, Wire.Kind.FLOAT, repetition_penalty)
		return w.bytes

	## Decodes [param bytes]; null if they are not a valid message.
	static func decode(bytes: PackedByteArray) -> GenerationOptions:
		var message := GenerationOptions.new()
		return message if message.merge_from(Wire.Reader.new(bytes)) else null

	## Reads fields until the reader's end; false if the input was malformed.
	## Fields this version does not know are skipped.
	func merge_from(r: Wire.Reader) -> bool:
		while not r.at_end():
			var tag := r.tag()
			match tag:
				8:
					max_new_tokens = r.read(Wire.Kind.UINT32)
				21:
					temperature = r.read(Wire.Kind.FLOAT)
				29:
					top_p = r.read(Wire.Kind.FLOAT)
				32:
					seed = r.read(Wire.Kind.UINT64)
				45:
					repetition_penalty = r.read(Wire.Kind.FLOAT)
				_:
					r.skip(tag & 7)
		return not r.failed

	## The fields as a Dictionary (messages nested as Dictionaries), for logs and
	## tests. Unset messages, oneof fields and optional fields are left out.
	func to_dict() -> Dictionary:
		var out := {}
		out["max_new_tokens"] = max_new_tokens
		if has_temperature():
			out["temperature"] = temperature
		if has_top_p():
			out["top_p"] = top_p
		if has_seed():
			out["seed"] = seed
		if has_repetition_penalty():
			out["repetition_penalty"] = repetition_penalty
		return out

	func _to_string() -> String:
		return str(to_dict())


## One event of the reply stream. Later versions add events (tool calls, check
## reports, player options); clients must ignore events they do not know.
class SayResponse:
	extends RefCounted

	## Which field of the `event` oneof is set (&"token", &"line_done", &"replaced", &"tool_call"),
	## or &"" for none.
	var event_case: StringName = &""
	var token: TokenDelta:
		get:
			return _event if event_case == &"token" else null
		set(value):
			_event = value
			event_case = &"token" if value else &""
	var line_done: LineDone:
		get:
			return _event if event_case == &"line_done" else null
		set(value):
			_event = value
			event_case = &"line_done" if value else &""
	var replaced: LineReplaced:
		get:
			return _event if event_case == &"replaced" else null
		set(value):
			_event = value
			event_case = &"replaced" if value else &""
	var tool_call: ToolCall:
		get:
			return _event if event_case == &"tool_call" else null
		set(value):
			_event = value
			event_case = &"tool_call" if value else &""
	var _event: Variant = null

	func has_token() -> bool:
		return event_case == &"token"

	func clear_token() -> void:
		if event_case == &"token":
			_event = null
			event_case = &""

	func has_line_done() -> bool:
		return event_case == &"line_done"

	func clear_line_done() -> void:
		if event_case == &"line_done":
			_event = null
			event_case = &""

	func has_replaced() -> bool:
		return event_case == &"replaced"

	func clear_replaced() -> void:
		if event_case == &"replaced":
			_event = null
			event_case = &""

	func has_tool_call() -> bool:
		return event_case == &"tool_call"

	func clear_tool_call() -> void:
		if event_case == &"tool_call":
			_event = null
			event_case = &""

	## The message in protobuf binary form.
	func encode() -> PackedByteArray:
		var w := Wire.Writer.new()
		if token != null:
			w.message(1, token.encode())
		if line_done != null:
			w.message(2, line_done.encode())
		if replaced != null:
			w.message(3, replaced.encode())
		if tool_call != null:
			w.message(4, tool_call.encode())
		return w.bytes

	## Decodes [param bytes]; null if they are not a valid message.
	static func decode(bytes: PackedByteArray) -> SayResponse:
		var message := SayResponse.new()
		return message if message.merge_from(Wire.Reader.new(bytes)) else null

	## Reads fields until the reader's end; false if the input was malformed.
	## Fields this version does not know are skipped.
	func merge_from(r: Wire.Reader) -> bool:
		while not r.at_end():
			var tag := r.tag()
			match tag:
				10:
					token = r.read_message(TokenDelta.new())
				18:
					line_done = r.read_message(LineDone.new())
				26:
					replaced = r.read_message(LineReplaced.new())
				34:
					tool_call = r.read_message(ToolCall.new())
				_:
					r.skip(tag & 7)
		return not r.failed

	## The fields as a Dictionary (messages nested as Dictionaries), for logs and
	## tests. Unset messages, oneof fields and optional fields are left out.
	func to_dict() -> Dictionary:
		var out := {}
		if token != null:
			out["token"] = token.to_dict()
		if line_done != null:
			out["line_done"] = line_done.to_dict()
		if replaced != null:
			out["replaced"] = replaced.to_dict()
		if tool_call != null:
			out["tool_call"] = tool_call.to_dict()
		return out

	func _to_string() -> String:
		return str(to_dict())


## The NPC acts. For executor ENGINE the game runs the call and answers with
## SubmitToolResult (call_id); the NPC's line follows. For SERVER the server has
## already run it (e.g. a quest transition). Every call is valid against the
## tool's schema and the lore: arguments come from the lore, never invented.
class ToolCall:
	extends RefCounted

	var call_id: String = ""
	## Tool id, as written in the world's YAML (e.g. "give_item").
	var tool: String = ""
	## The arguments as a JSON object (e.g. {"item": "room_key", "count": 1}).
	var arguments_json: String = ""
	## One of [enum ToolExecutor].
	var executor: int = 0

	## The message in protobuf binary form.
	func encode() -> PackedByteArray:
		var w := Wire.Writer.new()
		if call_id != "":
			w.field(1, Wire.Kind.STRING, call_id)
		if tool != "":
			w.field(2, Wire.Kind.STRING, tool)
		if arguments_json != "":
			w.field(3, Wire.Kind.STRING, arguments_json)
		if executor != 0:
			w.field(4, Wire.Kind.ENUM, executor)
		return w.bytes

	## Decodes [param bytes]; null if they are not a valid message.
	static func decode(bytes: PackedByteArray) -> ToolCall:
		var message := ToolCall.new()
		return message if message.merge_from(Wire.Reader.new(bytes)) else null

	## Reads fields until the reader's end; false if the input was malformed.
	## Fields this version does not know are skipped.
	func merge_from(r: Wire.Reader) -> bool:
		while not r.at_end():
			var tag := r.tag()
			match tag:
				10:
					call_id = r.read(Wire.Kind.STRING)
				18:
					tool = r.read(Wire.Kind.STRING)
				26:
					arguments_json = r.read(Wire.Kind.STRING)
				32:
					executor = r.read(Wire.Kind.ENUM)
				_:
					r.skip(tag & 7)
		return not r.failed

	## The fields as a Dictionary (messages nested as Dictionaries), for logs and
	## tests. Unset messages, oneof fields and optional fields are left out.
	func to_dict() -> Dictionary:
		var out := {}
		out["call_id"] = call_id
		out["tool"] = tool
		out["arguments_json"] = arguments_json
		out["executor"] = executor
		return out

	func _to_string() -> String:
		return str(to_dict())


class SubmitToolResultRequest:
	extends RefCounted

	var session_id: String = ""
	var call_id: String = ""
	## What the call produced, as JSON (e.g. {"given": true}); at most 4000
	## characters together with error.
	var result_json: String = ""
	## Set when the game could not run the call; the NPC hears why.
	var error: String = ""

	## The message in protobuf binary form.
	func encode() -> PackedByteArray:
		var w := Wire.Writer.new()
		if session_id != "":
			w.field(1, Wire.Kind.STRING, session_id)
		if call_id != "":
			w.field(2, Wire.Kind.STRING, call_id)
		if result_json != "":
			w.field(3, Wire.Kind.STRING, result_json)
		if error != "":
			w.field(4, Wire.Kind.STRING, error)
		return w.bytes

	## Decodes [param bytes]; null if they are not a valid message.
	static func decode(bytes: PackedByteArray) -> SubmitToolResultRequest:
		var message := SubmitToolResultRequest.new()
		return message if message.merge_from(Wire.Reader.new(bytes)) else null

	## Reads fields until the reader's end; false if the input was malformed.
	## Fields this version does not know are skipped.
	func merge_from(r: Wire.Reader) -> bool:
		while not r.at_end():
			var tag := r.tag()
			match tag:
				10:
					session_id = r.read(Wire.Kind.STRING)
				18:
					call_id = r.read(Wire.Kind.STRING)
				26:
					result_json = r.read(Wire.Kind.STRING)
				34:
					error = r.read(Wire.Kind.STRING)
				_:
					r.skip(tag & 7)
		return not r.failed

	## The fields as a Dictionary (messages nested as Dictionaries), for logs and
	## tests. Unset messages, oneof fields and optional fields are left out.
	func to_dict() -> Dictionary:
		var out := {}
		out["session_id"] = session_id
		out["call_id"] = call_id
		out["result_json"] = result_json
		out["error"] = error
		return out

	func _to_string() -> String:
		return str(to_dict())


class SubmitToolResultResponse:
	extends RefCounted

	## The message in protobuf binary form.
	func encode() -> PackedByteArray:
		var w := Wire.Writer.new()
		return w.bytes

	## Decodes [param bytes]; null if they are not a valid message.
	static func decode(bytes: PackedByteArray) -> SubmitToolResultResponse:
		var message := SubmitToolResultResponse.new()
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


## The streamed text was rejected by the line checker: show `text` instead of
## everything streamed so far. Comes at most once, right before line_done.
class LineReplaced:
	extends RefCounted

	var text: String = ""

	## The message in protobuf binary form.
	func encode() -> PackedByteArray:
		var w := Wire.Writer.new()
		if text != "":
			w.field(1, Wire.Kind.STRING, text)
		return w.bytes

	## Decodes [param bytes]; null if they are not a valid message.
	static func decode(bytes: PackedByteArray) -> LineReplaced:
		var message := LineReplaced.new()
		return message if message.merge_from(Wire.Reader.new(bytes)) else null

	## Reads fields until the reader's end; false if the input was malformed.
	## Fields this version does not know are skipped.
	func merge_from(r: Wire.Reader) -> bool:
		while not r.at_end():
			var tag := r.tag()
			match tag:
				10:
					text = r.read(Wire.Kind.STRING)
				_:
					r.skip(tag & 7)
		return not r.failed

	## The fields as a Dictionary (messages nested as Dictionaries), for logs and
	## tests. Unset messages, oneof fields and optional fields are left out.
	func to_dict() -> Dictionary:
		var out := {}
		out["text"] = text
		return out

	func _to_string() -> String:
		return str(to_dict())


## A piece of the NPC's line as it is generated.
class TokenDelta:
	extends RefCounted

	## Text to append to what was shown so far (may be empty while a multi-byte
	## character is incomplete).
	var text: String = ""
	## 0-based index of the token in the reply.
	var index: int = 0

	## The message in protobuf binary form.
	func encode() -> PackedByteArray:
		var w := Wire.Writer.new()
		if text != "":
			w.field(1, Wire.Kind.STRING, text)
		if index != 0:
			w.field(2, Wire.Kind.UINT32, index)
		return w.bytes

	## Decodes [param bytes]; null if they are not a valid message.
	static func decode(bytes: PackedByteArray) -> TokenDelta:
		var message := TokenDelta.new()
		return message if message.merge_from(Wire.Reader.new(bytes)) else null

	## Reads fields until the reader's end; false if the input was malformed.
	## Fields this version does not know are skipped.
	func merge_from(r: Wire.Reader) -> bool:
		while not r.at_end():
			var tag := r.tag()
			match tag:
				10:
					text = r.read(Wire.Kind.STRING)
				16:
					index = r.read(Wire.Kind.UINT32)
				_:
					r.skip(tag & 7)
		return not r.failed

	## The fields as a Dictionary (messages nested as Dictionaries), for logs and
	## tests. Unset messages, oneof fields and optional fields are left out.
	func to_dict() -> Dictionary:
		var out := {}
		out["text"] = text
		out["index"] = index
		return out

	func _to_string() -> String:
		return str(to_dict())


## The end of a reply: the full line as it is stored in the conversation.
class LineDone:
	extends RefCounted

	var text: String = ""
	## One of [enum StopReason].
	var stop_reason: int = 0
	var timings: Timings = null
	## What the line checker found and did before this line was said.
	var check: CheckReport = null
	## The tool calls made in this turn, in order, with what became of them.
	var tool_calls: Array[ToolCallOutcome] = []
	## Facts this line told the player for the first time (ids; see QuestService).
	var revealed_facts: Array[String] = []
	## Every quest change this turn caused: a player option picked, tool calls' effects
	## (also in each ToolCallOutcome.changes), facts told. One line each: a quest moved
	## ("the_hidden_courier: rumour -> ask_around"), an item the player now holds
	## ("item: room_key"), a fact a tool call or option made heard ("revealed: tobin_lost";
	## the facts the line itself told are in revealed_facts).
	var quest_changes: Array[String] = []
	## What the player may say now to move a quest on: the authored options (`when:
	## {option}`) of the current stages of quests this NPC gives. Show them as buttons;
	## saying one (as SayRequest.text) takes that transition before the NPC answers.
	var options: Array[String] = []
	## What the runtime decided this reply should do before the model phrased it, and why
	## (for writers' debug panels; `npc-runtime say --explain` prints it).
	var plan: ReplyPlan = null

	## The message in protobuf binary form.
	func encode() -> PackedByteArray:
		var w := Wire.Writer.new()
		if text != "":
			w.field(1, Wire.Kind.STRING, text)
		if stop_reason != 0:
			w.field(2, Wire.Kind.ENUM, stop_reason)
		if timings != null:
			w.message(3, timings.encode())
		if check != null:
			w.message(4, check.encode())
		for item: ToolCallOutcome in tool_calls:
			w.message(5, item.encode())
		for item: String in revealed_facts:
			w.field(6, Wire.Kind.STRING, item)
		for item: String in quest_changes:
			w.field(7, Wire.Kind.STRING, item)
		for item: String in options:
			w.field(8, Wire.Kind.STRING, item)
		if plan != null:
			w.message(9, plan.encode())
		return w.bytes

	## Decodes [param bytes]; null if they are not a valid message.
	static func decode(bytes: PackedByteArray) -> LineDone:
		var message := LineDone.new()
		return message if message.merge_from(Wire.Reader.new(bytes)) else null

	## Reads fields until the reader's end; false if the input was malformed.
	## Fields this version does not know are skipped.
	func merge_from(r: Wire.Reader) -> bool:
		while not r.at_end():
			var tag := r.tag()
			match tag:
				10:
					text = r.read(Wire.Kind.STRING)
				16:
					stop_reason = r.read(Wire.Kind.ENUM)
				26:
					timings = r.read_message(Timings.new())
				34:
					check = r.read_message(CheckReport.new())
				42:
					tool_calls.append(r.read_message(ToolCallOutcome.new()))
				50:
					revealed_facts.append(r.read(Wire.Kind.STRING))
				58:
					quest_changes.append(r.read(Wire.Kind.STRING))
				66:
					options.append(r.read(Wire.Kind.STRING))
				74:
					plan = r.read_message(ReplyPlan.new())
				_:
					r.skip(tag & 7)
		return not r.failed

	## The fields as a Dictionary (messages nested as Dictionaries), for logs and
	## tests. Unset messages, oneof fields and optional fields are left out.
	func to_dict() -> Dictionary:
		var out := {}
		out["text"] = text
		out["stop_reason"] = stop_reason
		if timings != null:
			out["timings"] = timings.to_dict()
		if check != null:
			out["check"] = check.to_dict()
		out["tool_calls"] = Wire.to_dicts(tool_calls)
		out["revealed_facts"] = revealed_facts.duplicate()
		out["quest_changes"] = quest_changes.duplicate()
		out["options"] = options.duplicate()
		if plan != null:
			out["plan"] = plan.to_dict()
		return out

	func _to_string() -> String:
		return str(to_dict())


## A reply's plan: its act, the facts it tells, the kind of line it answers, and why.
class ReplyPlan:
	extends RefCounted

	## answer | act | confirm (offers a call a yes takes) | does_not_know | will_not_tell |
	## small_talk | greeting | farewell
	var act: String = ""
	## The facts the reply was told to tell (ids; "@identity": who the NPC is).
	var facts: Array[String] = []
	## The player's line as the planner read it: greeting, farewell, thanks, identity,
	## question, remark, rude or meta (about the real world).
	var line_kind: String = ""
	## Why, in words a writer can check (scores are cosine similarities, 0-1).
	var why: String = ""
	## The tool called, when act is "act".
	var tool: String = ""
	## The facts closest to the line, with their scores.
	var matches: Array[FactMatch] = []
	## The first sentences drafted for the line, in order, with what the scorer found
	## wrong in each (a faultless one is said at once; else the one with fewest faults).
	var drafts: Array[Draft] = []
	## Why each of the NPC's tools was or was not called, a line each, as decided before
	## the model spoke: the line's reading (act, probability, threshold), each tool's fate
	## (on offer with which values, or why not), the call (`npc-runtime tools explain`
	## prints the same). Empty for an NPC without tools.
	var tool_trace: Array[String] = []

	## The message in protobuf binary form.
	func encode() -> PackedByteArray:
		var w := Wire.Writer.new()
		if act != "":
			w.field(1, Wire.Kind.STRING, act)
		for item: String in facts:
			w.field(2, Wire.Kind.STRING, item)
		if line_kind != "":
			w.field(3, Wire.Kind.STRING, line_kind)
		if why != "":
			w.field(4, Wire.Kind.STRING, why)
		if tool != "":
			w.field(5, Wire.Kind.STRING, tool)
		for item: FactMatch in matches:
			w.message(6, item.encode())
		for item: Draft in drafts:
			w.message(7, item.encode())
		for item: String in tool_trace:
			w.field(8, Wire.Kind.STRING, item)
		return w.bytes

	## Decodes [param bytes]; null if they are not a valid message.
	static func decode(bytes: PackedByteArray) -> ReplyPlan:
		var message := ReplyPlan.new()
		return message if message.merge_from(Wire.Reader.new(bytes)) else null

	## Reads fields until the reader's end; false if the input was malformed.
	## Fields this version does not know are skipped.
	func merge_from(r: Wire.Reader) -> bool:
		while not r.at_end():
			var tag := r.tag()
			match tag:
				10:
					act = r.read(Wire.Kind.STRING)
				18:
					facts.append(r.read(Wire.Kind.STRING))
				26:
					line_kind = r.read(Wire.Kind.STRING)
				34:
					why = r.read(Wire.Kind.STRING)
				42:
					tool = r.read(Wire.Kind.STRING)
				50:
					matches.append(r.read_message(FactMatch.new()))
				58:
					drafts.append(r.read_message(Draft.new()))
				66:
					tool_trace.append(r.read(Wire.Kind.STRING))
				_:
					r.skip(tag & 7)
		return not r.failed

	## The fields as a Dictionary (messages nested as Dictionaries), for logs and
	## tests. Unset messages, oneof fields and optional fields are left out.
	func to_dict() -> Dictionary:
		var out := {}
		out["act"] = act
		out["facts"] = facts.duplicate()
		out["line_kind"] = line_kind
		out["why"] = why
		out["tool"] = tool
		out["matches"] = Wire.to_dicts(matches)
		out["drafts"] = Wire.to_dicts(drafts)
		out["tool_trace"] = tool_trace.duplicate()
		return out

	func _to_string() -> String:
		return str(to_dict())


class Draft:
	extends RefCounted

	var text: String = ""
	var faults: Array[String] = []

	## The message in protobuf binary form.
	func encode() -> PackedByteArray:
		var w := Wire.Writer.new()
		if text != "":
			w.field(1, Wire.Kind.STRING, text)
		for item: String in faults:
			w.field(2, Wire.Kind.STRING, item)
		return w.bytes

	## Decodes [param bytes]; null if they are not a valid message.
	static func decode(bytes: PackedByteArray) -> Draft:
		var message := Draft.new()
		return message if message.merge_from(Wire.Reader.new(bytes)) else null

	## Reads fields until the reader's end; false if the input was malformed.
	## Fields this version does not know are skipped.
	func merge_from(r: Wire.Reader) -> bool:
		while not r.at_end():
			var tag := r.tag()
			match tag:
				10:
					text = r.read(Wire.Kind.STRING)
				18:
					faults.append(r.read(Wire.Kind.STRING))
				_:
					r.skip(tag & 7)
		return not r.failed

	## The fields as a Dictionary (messages nested as Dictionaries), for logs and
	## tests. Unset messages, oneof fields and optional fields are left out.
	func to_dict() -> Dictionary:
		var out := {}
		out["text"] = text
		out["faults"] = faults.duplicate()
		return out

	func _to_string() -> String:
		return str(to_dict())


class FactMatch:
	extends RefCounted

	var fact: String = ""
	var score: float = 0.0

	## The message in protobuf binary form.
	func encode() -> PackedByteArray:
		var w := Wire.Writer.new()
		if fact != "":
			w.field(1, Wire.Kind.STRING, fact)
		if score != 0.0:
			w.field(2, Wire.Kind.FLOAT, score)
		return w.bytes

	## Decodes [param bytes]; null if they are not a valid message.
	static func decode(bytes: PackedByteArray) -> FactMatch:
		var message := FactMatch.new()
		return message if message.merge_from(Wire.Reader.new(bytes)) else null

	## Reads fields until the reader's end; false if the input was malformed.
	## Fields this version does not know are skipped.
	func merge_from(r: Wire.Reader) -> bool:
		while not r.at_end():
			var tag := r.tag()
			match tag:
				10:
					fact = r.read(Wire.Kind.STRING)
				21:
					score = r.read(Wire.Kind.FLOAT)
				_:
					r.skip(tag & 7)
		return not r.failed

	## The fields as a Dictionary (messages nested as Dictionaries), for logs and
	## tests. Unset messages, oneof fields and optional fields are left out.
	func to_dict() -> Dictionary:
		var out := {}
		out["fact"] = fact
		out["score"] = score
		return out

	func _to_string() -> String:
		return str(to_dict())


class ToolCallOutcome:
	extends RefCounted

	var call_id: String = ""
	var tool: String = ""
	var arguments_json: String = ""
	## One of [enum ToolCallStatus].
	var status: int = 0
	## The result the conversation went on with (JSON).
	var result_json: String = ""
	## Quest state changes the call caused (e.g. "noises_below: asked -> trusted").
	var changes: Array[String] = []

	## The message in protobuf binary form.
	func encode() -> PackedByteArray:
		var w := Wire.Writer.new()
		if call_id != "":
			w.field(1, Wire.Kind.STRING, call_id)
		if tool != "":
			w.field(2, Wire.Kind.STRING, tool)
		if arguments_json != "":
			w.field(3, Wire.Kind.STRING, arguments_json)
		if status != 0:
			w.field(4, Wire.Kind.ENUM, status)
		if result_json != "":
			w.field(5, Wire.Kind.STRING, result_json)
		for item: String in changes:
			w.field(6, Wire.Kind.STRING, item)
		return w.bytes

	## Decodes [param bytes]; null if they are not a valid message.
	static func decode(bytes: PackedByteArray) -> ToolCallOutcome:
		var message := ToolCallOutcome.new()
		return message if message.merge_from(Wire.Reader.new(bytes)) else null

	## Reads fields until the reader's end; false if the input was malformed.
	## Fields this version does not know are skipped.
	func merge_from(r: Wire.Reader) -> bool:
		while not r.at_end():
			var tag := r.tag()
			match tag:
				10:
					call_id = r.read(Wire.Kind.STRING)
				18:
					tool = r.read(Wire.Kind.STRING)
				26:
					arguments_json = r.read(Wire.Kind.STRING)
				32:
					status = r.read(Wire.Kind.ENUM)
				42:
					result_json = r.read(Wire.Kind.STRING)
				50:
					changes.append(r.read(Wire.Kind.STRING))
				_:
					r.skip(tag & 7)
		return not r.failed

	## The fields as a Dictionary (messages nested as Dictionaries), for logs and
	## tests. Unset messages, oneof fields and optional fields are left out.
	func to_dict() -> Dictionary:
		var out := {}
		out["call_id"] = call_id
		out["tool"] = tool
		out["arguments_json"] = arguments_json
		out["status"] = status
		out["result_json"] = result_json
		out["changes"] = changes.duplicate()
		return out

	func _to_string() -> String:
		return str(to_dict())


## The line checker's verdict on one reply.
class CheckReport:
	extends RefCounted

	## Violations found in the generated line(s), first attempt first; empty when
	## the first line passed.
	var violations: Array[Violation] = []
	## One of [enum CheckAction].
	var action: int = 0
	## Lines generated for this reply (1 when the first passed).
	var attempts: int = 0

	## The message in protobuf binary form.
	func encode() -> PackedByteArray:
		var w := Wire.Writer.new()
		for item: Violation in violations:
			w.message(1, item.encode())
		if action != 0:
			w.field(2, Wire.Kind.ENUM, action)
		if attempts != 0:
			w.field(3, Wire.Kind.UINT32, attempts)
		return w.bytes

	## Decodes [param bytes]; null if they are not a valid message.
	static func decode(bytes: PackedByteArray) -> CheckReport:
		var message := CheckReport.new()
		return message if message.merge_from(Wire.Reader.new(bytes)) else null

	## Reads fields until the reader's end; false if the input was malformed.
	## Fields this version does not know are skipped.
	func merge_from(r: Wire.Reader) -> bool:
		while not r.at_end():
			var tag := r.tag()
			match tag:
				10:
					violations.append(r.read_message(Violation.new()))
				16:
					action = r.read(Wire.Kind.ENUM)
				24:
					attempts = r.read(Wire.Kind.UINT32)
				_:
					r.skip(tag & 7)
		return not r.failed

	## The fields as a Dictionary (messages nested as Dictionaries), for logs and
	## tests. Unset messages, oneof fields and optional fields are left out.
	func to_dict() -> Dictionary:
		var out := {}
		out["violations"] = Wire.to_dicts(violations)
		out["action"] = action
		out["attempts"] = attempts
		return out

	func _to_string() -> String:
		return str(to_dict())


## One reason a generated line could not be said.
class Violation:
	extends RefCounted

	## spoiler, secret, unknown_fact, unknown_entity, unknown_name,
	## breaks_character or hard_rule.
	var kind: String = ""
	## The offending words.
	var text: String = ""
	## Why, in words.
	var detail: String = ""

	## The message in protobuf binary form.
	func encode() -> PackedByteArray:
		var w := Wire.Writer.new()
		if kind != "":
			w.field(1, Wire.Kind.STRING, kind)
		if text != "":
			w.field(2, Wire.Kind.STRING, text)
		if detail != "":
			w.field(3, Wire.Kind.STRING, detail)
		return w.bytes

	## Decodes [param bytes]; null if they are not a valid message.
	static func decode(bytes: PackedByteArray) -> Violation:
		var message := Violation.new()
		return message if message.merge_from(Wire.Reader.new(bytes)) else null

	## Reads fields until the reader's end; false if the input was malformed.
	## Fields this version does not know are skipped.
	func merge_from(r: Wire.Reader) -> bool:
		while not r.at_end():
			var tag := r.tag()
			match tag:
				10:
					kind = r.read(Wire.Kind.STRING)
				18:
					text = r.read(Wire.Kind.STRING)
				26:
					detail = r.read(Wire.Kind.STRING)
				_:
					r.skip(tag & 7)
		return not r.failed

	## The fields as a Dictionary (messages nested as Dictionaries), for logs and
	## tests. Unset messages, oneof fields and optional fields are left out.
	func to_dict() -> Dictionary:
		var out := {}
		out["kind"] = kind
		out["text"] = text
		out["detail"] = detail
		return out

	func _to_string() -> String:
		return str(to_dict())


## Server-side timings of one reply.
class Timings:
	extends RefCounted

	## From receiving the request to the first generated token.
	var ttft_ms: float = 0.0
	## From receiving the request to line_done.
	var total_ms: float = 0.0
	var prompt_tokens: int = 0
	var generated_tokens: int = 0
	## Generated tokens after the first, per second of decoding.
	var decode_tokens_per_s: float = 0.0
	## The session's conversation was read from the state store for this turn, not from
	## this server's memory: another server served the session last (servers sharing one
	## PostgreSQL database), or this one restarted. Its KV cache was rebuilt from the
	## stored history, so prefill took longer; nothing of the conversation was lost.
	var rebuilt_from_store: bool = false

	## The message in protobuf binary form.
	func encode() -> PackedByteArray:
		var w := Wire.Writer.new()
		if ttft_ms != 0.0:
			w.field(1, Wire.Kind.DOUBLE, ttft_ms)
		if total_ms != 0.0:
			w.field(2, Wire.Kind.DOUBLE, total_ms)
		if prompt_tokens != 0:
			w.field(3, Wire.Kind.UINT32, prompt_tokens)
		if generated_tokens != 0:
			w.field(4, Wire.Kind.UINT32, generated_tokens)
		if decode_tokens_per_s != 0.0:
			w.field(5, Wire.Kind.DOUBLE, decode_tokens_per_s)
		if rebuilt_from_store != false:
			w.field(6, Wire.Kind.BOOL, rebuilt_from_store)
		return w.bytes

	## Decodes [param bytes]; null if they are not a valid message.
	static func decode(bytes: PackedByteArray) -> Timings:
		var message := Timings.new()
		return message if message.merge_from(Wire.Reader.new(bytes)) else null

	## Reads fields until the reader's end; false if the input was malformed.
	## Fields this version does not know are skipped.
	func merge_from(r: Wire.Reader) -> bool:
		while not r.at_end():
			var tag := r.tag()
			match tag:
				9:
					ttft_ms = r.read(Wire.Kind.DOUBLE)
				17:
					total_ms = r.read(Wire.Kind.DOUBLE)
				24:
					prompt_tokens = r.read(Wire.Kind.UINT32)
				32:
					generated_tokens = r.read(Wire.Kind.UINT32)
				41:
					decode_tokens_per_s = r.read(Wire.Kind.DOUBLE)
				48:
					rebuilt_from_store = r.read(Wire.Kind.BOOL)
				_:
					r.skip(tag & 7)
		return not r.failed

	## The fields as a Dictionary (messages nested as Dictionaries), for logs and
	## tests. Unset messages, oneof fields and optional fields are left out.
	func to_dict() -> Dictionary:
		var out := {}
		out["ttft_ms"] = ttft_ms
		out["total_ms"] = total_ms
		out["prompt_tokens"] = prompt_tokens
		out["generated_tokens"] = generated_tokens
		out["decode_tokens_per_s"] = decode_tokens_per_s
		out["rebuilt_from_store"] = rebuilt_from_store
		return out

	func _to_string() -> String:
		return str(to_dict())


class CloseSessionRequest:
	extends RefCounted

	var session_id: String = ""

	## The message in protobuf binary form.
	func encode() -> PackedByteArray:
		var w := Wire.Writer.new()
		if session_id != "":
			w.field(1, Wire.Kind.STRING, session_id)
		return w.bytes

	## Decodes [param bytes]; null if they are not a valid message.
	static func decode(bytes: PackedByteArray) -> CloseSessionRequest:
		var message := CloseSessionRequest.new()
		return message if message.merge_from(Wire.Reader.new(bytes)) else null

	## Reads fields until the reader's end; false if the input was malformed.
	## Fields this version does not know are skipped.
	func merge_from(r: Wire.Reader) -> bool:
		while not r.at_end():
			var tag := r.tag()
			match tag:
				10:
					session_id = r.read(Wire.Kind.STRING)
				_:
					r.skip(tag & 7)
		return not r.failed

	## The fields as a Dictionary (messages nested as Dictionaries), for logs and
	## tests. Unset messages, oneof fields and optional fields are left out.
	func to_dict() -> Dictionary:
		var out := {}
		out["session_id"] = session_id
		return out

	func _to_string() -> String:
		return str(to_dict())


class CloseSessionResponse:
	extends RefCounted

	## The message in protobuf binary form.
	func encode() -> PackedByteArray:
		var w := Wire.Writer.new()
		return w.bytes

	## Decodes [param bytes]; null if they are not a valid message.
	static func decode(bytes: PackedByteArray) -> CloseSessionResponse:
		var message := CloseSessionResponse.new()
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
