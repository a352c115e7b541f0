"""What a turn streams to the caller, in order: tokens, tool calls, a replaced line, done."""

from __future__ import annotations

import dataclasses

from npc_runtime.constraints.checker import CheckReport
from npc_runtime.dialogue.plan import Plan
from npc_runtime.model.generate import StopReason


@dataclasses.dataclass(frozen=True)
class TokenEvent:
    """A piece of the reply, in order."""

    text: str
    index: int


@dataclasses.dataclass(frozen=True)
class Timings:
    """Server-side timings of one reply."""

    ttft_ms: float
    total_ms: float
    prompt_tokens: int
    generated_tokens: int
    decode_tokens_per_s: float
    # The conversation came from the state store, not this server's memory (another
    # server served the session last, or this one restarted): its KV was built anew.
    rebuilt_from_store: bool = False


@dataclasses.dataclass(frozen=True)
class LineReplacedEvent:
    """The streamed text was rejected by the checker: show ``text`` instead."""

    text: str


@dataclasses.dataclass(frozen=True)
class ToolCallEvent:
    """The NPC acts: ``executes == "engine"`` means the game must run it and answer."""

    call_id: str
    tool: str
    args: dict[str, object]
    executes: str  # "engine" | "server"


@dataclasses.dataclass(frozen=True)
class CallOutcome:
    """What became of a call: ok, failed (the game said so), timed_out or rejected."""

    call_id: str
    tool: str
    args: dict[str, object]
    status: str
    result: str  # JSON text the conversation continues with
    changes: tuple[str, ...] = ()  # quest state changes it caused


@dataclasses.dataclass(frozen=True)
class LineDoneEvent:
    """The finished reply, as stored in the conversation."""

    text: str
    stop_reason: StopReason
    timings: Timings
    check: CheckReport = dataclasses.field(default_factory=CheckReport)
    calls: tuple[CallOutcome, ...] = ()
    revealed: tuple[str, ...] = ()  # facts the line told the player (first time)
    quest_changes: tuple[str, ...] = ()  # what this turn moved: options, calls, facts told
    options: tuple[str, ...] = ()  # what the player may say now to move a quest on
    plan: Plan | None = None  # what the reply was planned to do, and why


ReplyEvent = TokenEvent | LineReplacedEvent | ToolCallEvent | LineDoneEvent
