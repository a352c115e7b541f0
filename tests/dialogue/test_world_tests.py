"""Playing conversation tests: a test's history goes into the session as the engine keeps
it, each test runs in a fresh session, and calls are judged by one rule."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from npc_runtime.config import Settings
from npc_runtime.dialogue.engine import DialogueEngine
from npc_runtime.dialogue.sessions import Session
from npc_runtime.dialogue.world_tests import TOOL_RESULT, run_tests, seed, verdict
from npc_runtime.lore.diagnostics import Location
from npc_runtime.lore.loader import load_world
from npc_runtime.lore.model import Exchange, ToolCall, WorldState, WorldTest
from npc_runtime.model.loader import LoadedModel
from npc_runtime.tools.acts import Embed

SALTMERE = Path(__file__).parents[2] / "examples" / "worlds" / "saltmere"
KEY = ToolCall("give_item", {"item": "room_key"})


@pytest.fixture(scope="module")
def engine(tiny_model: LoadedModel, embed: Embed) -> Iterator[DialogueEngine]:
    engine = DialogueEngine(load_world(SALTMERE), tiny_model,
                            Settings(max_new_tokens=4, state_db=None), embed=embed)
    yield engine
    engine.shutdown()


def _session() -> Session:
    return Session("s1", "maren", "a traveller", "p1")


def test_seed_writes_a_call_as_the_engine_keeps_it(engine: DialogueEngine) -> None:
    """The player's line, the call with the game's answer, then what the NPC said; a
    line that offers nothing leaves nothing pending."""
    session = _session()
    seed(engine, session, [Exchange("Here, love.", "A key, please.", called=KEY)])
    assert session.history == [("user", "A key, please."),
            ("assistant", '[give_item] {"item": "room_key"}'),
            ("tool", TOOL_RESULT),
            ("assistant", "Here, love.")]
    assert session.proposal is None


def test_a_seeded_offer_waits_for_the_players_answer(engine: DialogueEngine) -> None:
    """The NPC's offer is kept as the engine keeps it at the end of a turn."""
    session = _session()
    seed(engine, session, [Exchange("Want the key? Five coppers a night.", proposed=KEY)])
    assert session.history == [("assistant", "Want the key? Five coppers a night.")]
    assert session.proposal is not None
    assert (session.proposal.tool, dict(session.proposal.args)) == ("give_item",
                                                                    {"item": "room_key"})


@pytest.mark.parametrize(("expect", "calls", "expected"), [
    (None, [], "quiet"),
    (None, [KEY], "unasked"),
    (KEY, [], "missed"),
    (KEY, [ToolCall("sell_item", {"item": "room_key"})], "wrong tool"),
    (KEY, [ToolCall("give_item", {"item": "eel_stew"})], "right tool"),
    (KEY, [ToolCall("give_item", {"item": "room_key", "count": 2})], "right"),
    (ToolCall("give_item", {"count": 2}), [ToolCall("give_item", {"count": "2"})], "right"),
    (ToolCall("give_item"), [ToolCall("give_item", {"item": "eel_stew"}), KEY], "right"),
])
def test_verdict_judges_the_first_call_on_the_arguments_that_matter(
        expect: ToolCall | None, calls: list[ToolCall], expected: str) -> None:
    """Arguments not in the expectation are free; values compare as text."""
    assert expected == verdict(expect, calls)


def test_each_test_is_played_in_a_fresh_session_and_leaves_nothing_behind(
        engine: DialogueEngine) -> None:
    """A request the tool's examples cover is called whatever the (random) model says;
    a wrong expectation fails; no session or player state is left."""
    where = Location("tests.yaml", 1, 1)
    tests = [WorldTest(where, "maren", "Could I have the room key?", WorldState(), (), KEY),
             WorldTest(where, "maren", "Could I have the room key?", WorldState(), (), None)]
    heard: list[int] = []
    outcomes = asyncio.run(run_tests(engine, tests, lambda n, _: heard.append(n)))
    left = (len(engine.sessions), engine.quest_state("world-test-0"))
    assert heard == [0, 1]
    assert [(o.verdict, o.passed) for o in outcomes] == [("right", True), ("unasked", False)]
    assert (KEY.tool, "room_key") == (outcomes[0].played.calls[0].tool,
                                      outcomes[0].played.calls[0].args["item"])
    assert left == (0, WorldState())
