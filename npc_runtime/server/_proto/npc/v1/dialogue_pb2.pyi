from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ReplyMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REPLY_MODE_UNSPECIFIED: _ClassVar[ReplyMode]
    REPLY_MODE_STREAM: _ClassVar[ReplyMode]
    REPLY_MODE_HOLD: _ClassVar[ReplyMode]

class ToolExecutor(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TOOL_EXECUTOR_UNSPECIFIED: _ClassVar[ToolExecutor]
    TOOL_EXECUTOR_ENGINE: _ClassVar[ToolExecutor]
    TOOL_EXECUTOR_SERVER: _ClassVar[ToolExecutor]

class ToolCallStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TOOL_CALL_STATUS_UNSPECIFIED: _ClassVar[ToolCallStatus]
    TOOL_CALL_STATUS_OK: _ClassVar[ToolCallStatus]
    TOOL_CALL_STATUS_FAILED: _ClassVar[ToolCallStatus]
    TOOL_CALL_STATUS_TIMED_OUT: _ClassVar[ToolCallStatus]
    TOOL_CALL_STATUS_REJECTED: _ClassVar[ToolCallStatus]

class CheckAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHECK_ACTION_UNSPECIFIED: _ClassVar[CheckAction]
    CHECK_ACTION_PASSED: _ClassVar[CheckAction]
    CHECK_ACTION_REGENERATED: _ClassVar[CheckAction]
    CHECK_ACTION_REPAIRED: _ClassVar[CheckAction]
    CHECK_ACTION_FALLBACK: _ClassVar[CheckAction]

class StopReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STOP_REASON_UNSPECIFIED: _ClassVar[StopReason]
    STOP_REASON_END_OF_TURN: _ClassVar[StopReason]
    STOP_REASON_STOP_SEQUENCE: _ClassVar[StopReason]
    STOP_REASON_MAX_TOKENS: _ClassVar[StopReason]
REPLY_MODE_UNSPECIFIED: ReplyMode
REPLY_MODE_STREAM: ReplyMode
REPLY_MODE_HOLD: ReplyMode
TOOL_EXECUTOR_UNSPECIFIED: ToolExecutor
TOOL_EXECUTOR_ENGINE: ToolExecutor
TOOL_EXECUTOR_SERVER: ToolExecutor
TOOL_CALL_STATUS_UNSPECIFIED: ToolCallStatus
TOOL_CALL_STATUS_OK: ToolCallStatus
TOOL_CALL_STATUS_FAILED: ToolCallStatus
TOOL_CALL_STATUS_TIMED_OUT: ToolCallStatus
TOOL_CALL_STATUS_REJECTED: ToolCallStatus
CHECK_ACTION_UNSPECIFIED: CheckAction
CHECK_ACTION_PASSED: CheckAction
CHECK_ACTION_REGENERATED: CheckAction
CHECK_ACTION_REPAIRED: CheckAction
CHECK_ACTION_FALLBACK: CheckAction
STOP_REASON_UNSPECIFIED: StopReason
STOP_REASON_END_OF_TURN: StopReason
STOP_REASON_STOP_SEQUENCE: StopReason
STOP_REASON_MAX_TOKENS: StopReason

class OpenSessionRequest(_message.Message):
    __slots__ = ("npc_id", "player_name", "player_id")
    NPC_ID_FIELD_NUMBER: _ClassVar[int]
    PLAYER_NAME_FIELD_NUMBER: _ClassVar[int]
    PLAYER_ID_FIELD_NUMBER: _ClassVar[int]
    npc_id: str
    player_name: str
    player_id: str
    def __init__(self, npc_id: _Optional[str] = ..., player_name: _Optional[str] = ..., player_id: _Optional[str] = ...) -> None: ...

class OpenSessionResponse(_message.Message):
    __slots__ = ("session_id", "npc_id", "npc_name", "options")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    NPC_ID_FIELD_NUMBER: _ClassVar[int]
    NPC_NAME_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    npc_id: str
    npc_name: str
    options: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, session_id: _Optional[str] = ..., npc_id: _Optional[str] = ..., npc_name: _Optional[str] = ..., options: _Optional[_Iterable[str]] = ...) -> None: ...

class SayRequest(_message.Message):
    __slots__ = ("session_id", "text", "options", "mode", "tool_choice")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    TOOL_CHOICE_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    text: str
    options: GenerationOptions
    mode: ReplyMode
    tool_choice: str
    def __init__(self, session_id: _Optional[str] = ..., text: _Optional[str] = ..., options: _Optional[_Union[GenerationOptions, _Mapping]] = ..., mode: _Optional[_Union[ReplyMode, str]] = ..., tool_choice: _Optional[str] = ...) -> None: ...

class GenerationOptions(_message.Message):
    __slots__ = ("max_new_tokens", "temperature", "top_p", "seed", "repetition_penalty")
    MAX_NEW_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    TOP_P_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    REPETITION_PENALTY_FIELD_NUMBER: _ClassVar[int]
    max_new_tokens: int
    temperature: float
    top_p: float
    seed: int
    repetition_penalty: float
    def __init__(self, max_new_tokens: _Optional[int] = ..., temperature: _Optional[float] = ..., top_p: _Optional[float] = ..., seed: _Optional[int] = ..., repetition_penalty: _Optional[float] = ...) -> None: ...

class SayResponse(_message.Message):
    __slots__ = ("token", "line_done", "replaced", "tool_call")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    LINE_DONE_FIELD_NUMBER: _ClassVar[int]
    REPLACED_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALL_FIELD_NUMBER: _ClassVar[int]
    token: TokenDelta
    line_done: LineDone
    replaced: LineReplaced
    tool_call: ToolCall
    def __init__(self, token: _Optional[_Union[TokenDelta, _Mapping]] = ..., line_done: _Optional[_Union[LineDone, _Mapping]] = ..., replaced: _Optional[_Union[LineReplaced, _Mapping]] = ..., tool_call: _Optional[_Union[ToolCall, _Mapping]] = ...) -> None: ...

class ToolCall(_message.Message):
    __slots__ = ("call_id", "tool", "arguments_json", "executor")
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    TOOL_FIELD_NUMBER: _ClassVar[int]
    ARGUMENTS_JSON_FIELD_NUMBER: _ClassVar[int]
    EXECUTOR_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    tool: str
    arguments_json: str
    executor: ToolExecutor
    def __init__(self, call_id: _Optional[str] = ..., tool: _Optional[str] = ..., arguments_json: _Optional[str] = ..., executor: _Optional[_Union[ToolExecutor, str]] = ...) -> None: ...

class SubmitToolResultRequest(_message.Message):
    __slots__ = ("session_id", "call_id", "result_json", "error")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    RESULT_JSON_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    call_id: str
    result_json: str
    error: str
    def __init__(self, session_id: _Optional[str] = ..., call_id: _Optional[str] = ..., result_json: _Optional[str] = ..., error: _Optional[str] = ...) -> None: ...

class SubmitToolResultResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class LineReplaced(_message.Message):
    __slots__ = ("text",)
    TEXT_FIELD_NUMBER: _ClassVar[int]
    text: str
    def __init__(self, text: _Optional[str] = ...) -> None: ...

class TokenDelta(_message.Message):
    __slots__ = ("text", "index")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    text: str
    index: int
    def __init__(self, text: _Optional[str] = ..., index: _Optional[int] = ...) -> None: ...

class LineDone(_message.Message):
    __slots__ = ("text", "stop_reason", "timings", "check", "tool_calls", "revealed_facts", "quest_changes", "options", "plan")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    STOP_REASON_FIELD_NUMBER: _ClassVar[int]
    TIMINGS_FIELD_NUMBER: _ClassVar[int]
    CHECK_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALLS_FIELD_NUMBER: _ClassVar[int]
    REVEALED_FACTS_FIELD_NUMBER: _ClassVar[int]
    QUEST_CHANGES_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    text: str
    stop_reason: StopReason
    timings: Timings
    check: CheckReport
    tool_calls: _containers.RepeatedCompositeFieldContainer[ToolCallOutcome]
    revealed_facts: _containers.RepeatedScalarFieldContainer[str]
    quest_changes: _containers.RepeatedScalarFieldContainer[str]
    options: _containers.RepeatedScalarFieldContainer[str]
    plan: ReplyPlan
    def __init__(self, text: _Optional[str] = ..., stop_reason: _Optional[_Union[StopReason, str]] = ..., timings: _Optional[_Union[Timings, _Mapping]] = ..., check: _Optional[_Union[CheckReport, _Mapping]] = ..., tool_calls: _Optional[_Iterable[_Union[ToolCallOutcome, _Mapping]]] = ..., revealed_facts: _Optional[_Iterable[str]] = ..., quest_changes: _Optional[_Iterable[str]] = ..., options: _Optional[_Iterable[str]] = ..., plan: _Optional[_Union[ReplyPlan, _Mapping]] = ...) -> None: ...

class ReplyPlan(_message.Message):
    __slots__ = ("act", "facts", "line_kind", "why", "tool", "matches", "drafts", "tool_trace")
    ACT_FIELD_NUMBER: _ClassVar[int]
    FACTS_FIELD_NUMBER: _ClassVar[int]
    LINE_KIND_FIELD_NUMBER: _ClassVar[int]
    WHY_FIELD_NUMBER: _ClassVar[int]
    TOOL_FIELD_NUMBER: _ClassVar[int]
    MATCHES_FIELD_NUMBER: _ClassVar[int]
    DRAFTS_FIELD_NUMBER: _ClassVar[int]
    TOOL_TRACE_FIELD_NUMBER: _ClassVar[int]
    act: str
    facts: _containers.RepeatedScalarFieldContainer[str]
    line_kind: str
    why: str
    tool: str
    matches: _containers.RepeatedCompositeFieldContainer[FactMatch]
    drafts: _containers.RepeatedCompositeFieldContainer[Draft]
    tool_trace: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, act: _Optional[str] = ..., facts: _Optional[_Iterable[str]] = ..., line_kind: _Optional[str] = ..., why: _Optional[str] = ..., tool: _Optional[str] = ..., matches: _Optional[_Iterable[_Union[FactMatch, _Mapping]]] = ..., drafts: _Optional[_Iterable[_Union[Draft, _Mapping]]] = ..., tool_trace: _Optional[_Iterable[str]] = ...) -> None: ...

class Draft(_message.Message):
    __slots__ = ("text", "faults")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    FAULTS_FIELD_NUMBER: _ClassVar[int]
    text: str
    faults: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, text: _Optional[str] = ..., faults: _Optional[_Iterable[str]] = ...) -> None: ...

class FactMatch(_message.Message):
    __slots__ = ("fact", "score")
    FACT_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    fact: str
    score: float
    def __init__(self, fact: _Optional[str] = ..., score: _Optional[float] = ...) -> None: ...

class ToolCallOutcome(_message.Message):
    __slots__ = ("call_id", "tool", "arguments_json", "status", "result_json", "changes")
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    TOOL_FIELD_NUMBER: _ClassVar[int]
    ARGUMENTS_JSON_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    RESULT_JSON_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    tool: str
    arguments_json: str
    status: ToolCallStatus
    result_json: str
    changes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, call_id: _Optional[str] = ..., tool: _Optional[str] = ..., arguments_json: _Optional[str] = ..., status: _Optional[_Union[ToolCallStatus, str]] = ..., result_json: _Optional[str] = ..., changes: _Optional[_Iterable[str]] = ...) -> None: ...

class CheckReport(_message.Message):
    __slots__ = ("violations", "action", "attempts")
    VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    violations: _containers.RepeatedCompositeFieldContainer[Violation]
    action: CheckAction
    attempts: int
    def __init__(self, violations: _Optional[_Iterable[_Union[Violation, _Mapping]]] = ..., action: _Optional[_Union[CheckAction, str]] = ..., attempts: _Optional[int] = ...) -> None: ...

class Violation(_message.Message):
    __slots__ = ("kind", "text", "detail")
    KIND_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    kind: str
    text: str
    detail: str
    def __init__(self, kind: _Optional[str] = ..., text: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...

class Timings(_message.Message):
    __slots__ = ("ttft_ms", "total_ms", "prompt_tokens", "generated_tokens", "decode_tokens_per_s", "rebuilt_from_store")
    TTFT_MS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_MS_FIELD_NUMBER: _ClassVar[int]
    PROMPT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    GENERATED_TOKENS_FIELD_NUMBER: _ClassVar[int]
    DECODE_TOKENS_PER_S_FIELD_NUMBER: _ClassVar[int]
    REBUILT_FROM_STORE_FIELD_NUMBER: _ClassVar[int]
    ttft_ms: float
    total_ms: float
    prompt_tokens: int
    generated_tokens: int
    decode_tokens_per_s: float
    rebuilt_from_store: bool
    def __init__(self, ttft_ms: _Optional[float] = ..., total_ms: _Optional[float] = ..., prompt_tokens: _Optional[int] = ..., generated_tokens: _Optional[int] = ..., decode_tokens_per_s: _Optional[float] = ..., rebuilt_from_store: _Optional[bool] = ...) -> None: ...

class CloseSessionRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class CloseSessionResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
