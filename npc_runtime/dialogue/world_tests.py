"""
Playing conversation tests: a player line, after an earlier conversation and at a quest
state, said in a fresh session of an in-process engine; the tool calls the NPC made
compared with what a designer expects.

World tests (``tests:`` in the YAML, run by ``npc-runtime lore validate``) and the tool
benchmark (``benchmarks/tool_eval.py``) both play lines here, so a line passes or fails
by one rule everywhere.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Mapping, Sequence

from npc_runtime.dialogue.engine import DialogueEngine
from npc_runtime.dialogue.events import LineDoneEvent, ToolCallEvent
from npc_runtime.dialogue.sessions import Session
from npc_runtime.errors import NpcRuntimeError
from npc_runtime.lore.knowledge import view
from npc_runtime.lore.model import Exchange, ToolCall, WorldState, WorldTest
from npc_runtime.model.tokenizer import Message

TOOL_RESULT = '{"ok": true}'  # the game's answer to every engine call and earlier call
PASSING = frozenset({"quiet", "right"})


def seed(engine: DialogueEngine, session: Session, history: Sequence[Exchange]) -> None:
    """
    Put a test's earlier exchanges into ``session`` as if they had been played.

    The one place that knows how a session keeps its dialogue state: a call as the
    engine writes it (``[tool] {args}``, then the game's answer), and what the NPC's last
    turn left pending as the engine would have kept it at that turn's end
    (``DialogueEngine.offered``: from its calls and its words). A test's ``proposed``
    says what a designer expects there; the engine's own reading is what plays.
    """
    messages: list[Message] = []
    calls: list[tuple[str, Mapping[str, object]]] = []
    for turn in history:
        if turn.player:
            messages.append(("user", turn.player))
            calls = []
        if (call := turn.called) is not None:
            messages += [("assistant", f"[{call.tool}] {json.dumps(dict(call.args))}"),
                         ("tool", TOOL_RESULT)]
            calls.append((call.tool, call.args))
        if turn.npc:
            messages.append(("assistant", turn.npc))
    session.history = messages
    said = history[-1].npc if history else ""
    asked = next((turn.player for turn in reversed(history) if turn.player), "")
    known = view(engine.world, session.npc_id, engine.quest_state(session.player_id))
    session.proposal = engine.offered(known, calls, said, asked) if history else None


def verdict(expect: ToolCall | None, calls: Sequence[ToolCall]) -> str:
    """
    "quiet" (none expected, none made), "unasked" (none expected, some made), "right"
    (the first call is the expected tool with every expected argument; others are
    free), "right tool" (a wrong value), "wrong tool", "missed" (no call). Arguments
    compare as text, so a count written 2 or "2" is the same.
    """
    if expect is None:
        return "unasked" if calls else "quiet"
    if not calls:
        return "missed"
    first = calls[0]
    if first.tool != expect.tool:
        return "wrong tool"
    same = all(str(first.args.get(k)) == str(v) for k, v in expect.args.items())
    return "right" if same else "right tool"


@dataclasses.dataclass(frozen=True)
class Played:
    """What the NPC did with a line: its calls in order, what it said, or the error."""

    calls: tuple[ToolCall, ...]
    reply: str
    error: str
    ms: int
    offer: str = ""  # the call the NPC's last turn left pending, as the engine saw it
    asked_first: ToolCall | None = None  # the call it offered instead of acting (confirm.py)


async def play(engine: DialogueEngine, npc: str, line: str, *, state: WorldState,
               history: Sequence[Exchange], player: str) -> Played:
    """
    Say ``line`` to ``npc`` in a fresh session of ``player`` (whose quest state becomes
    ``state``) seeded with ``history``; engine calls are answered ``TOOL_RESULT``.
    The session and the player's state are gone afterwards.
    """
    calls: list[ToolCall] = []
    text, error, offer = "", "", ""
    asked: ToolCall | None = None
    started = time.perf_counter()
    session: Session | None = None
    try:
        engine.set_quest_state(player, state)
        session = engine.open_session(npc, player_id=player)
        seed(engine, session, history)
        offer = session.proposal.tool if session.proposal else ""
        async for event in engine.say(session.id, line, engine.sampling(), hold=True):
            if isinstance(event, ToolCallEvent):
                calls.append(ToolCall(event.tool, dict(event.args)))
                if event.executes == "engine":
                    engine.submit_tool_result(session.id, event.call_id, TOOL_RESULT)
            elif isinstance(event, LineDoneEvent):
                text = event.text
                if event.plan is not None and event.plan.offer is not None:
                    asked = ToolCall(event.plan.offer.tool, dict(event.plan.offer.args))
    except NpcRuntimeError as exc:
        error = str(exc)
    finally:
        if session is not None:
            engine.close_session(session.id)
        engine.store.forget(engine.world.name, player)
    return Played(tuple(calls), text, error,
                  round((time.perf_counter() - started) * 1000), offer, asked)


@dataclasses.dataclass(frozen=True)
class Outcome:
    """One world test played, and how it went."""

    test: WorldTest
    played: Played
    verdict: str

    @property
    def passed(self) -> bool:
        """The expected call (or none) was made, and nothing went wrong."""
        return self.verdict in PASSING and not self.played.error


async def run_tests(engine: DialogueEngine, tests: Sequence[WorldTest],
                    done: Callable[[int, Outcome], None] = lambda _, __: None
                    ) -> list[Outcome]:
    """Play ``tests`` one after another (``done`` hears each as it ends: its index and
    outcome); each in its own session, as its own player."""
    outcomes = []
    for n, test in enumerate(tests):
        played = await play(engine, test.npc, test.line, state=test.state,
                            history=test.history, player=f"world-test-{n}")
        outcome = Outcome(test, played, verdict(test.expect, played.calls))
        done(n, outcome)
        outcomes.append(outcome)
    return outcomes
