"""Choosing among drafts with the real default model: what is said is the draft chosen,
decoded again, and a plan's answer comes out when no draft states it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from npc_runtime.config import EXAMPLE_WORLD, Settings
from npc_runtime.dialogue.engine import DialogueEngine
from npc_runtime.dialogue.events import LineDoneEvent, ReplyEvent, TokenEvent
from npc_runtime.dialogue.score import Verdict
from npc_runtime.lore.loader import load_world
from npc_runtime.model.loader import load_model
from npc_runtime.tools.acts import Embed

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def engine(default_model_dir: Path, embed: Embed) -> Iterator[DialogueEngine]:
    model = load_model(default_model_dir, threads=2)
    engine = DialogueEngine(load_world(EXAMPLE_WORLD), model,
                            Settings(max_new_tokens=40, max_active_turns=1, candidates=2),
                            embed=embed)
    yield engine
    engine.shutdown()


def _turn(engine: DialogueEngine, line: str) -> list[ReplyEvent]:
    session = engine.open_session("maren").id

    async def run() -> list[ReplyEvent]:
        params = engine.sampling(seed=11)  # greedy first draft; seeded redrafts
        return [e async for e in engine.say(session, line, params)]

    return asyncio.run(run())


def test_when_every_draft_has_a_mild_fault_the_best_is_said(
        engine: DialogueEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    """A scorer that finds a mild fault in every draft: every draft is made (two
    here), then the first (the earliest of equals) is decoded again and said; nothing
    else went out."""
    def judge(*_: object, **__: object) -> object:
        return lambda text: Verdict(text, ("repeats itself",))

    monkeypatch.setattr("npc_runtime.dialogue.engine.judge", judge)
    events = _turn(engine, "Any news in town?")
    done = events[-1]
    assert isinstance(done, LineDoneEvent)
    assert done.plan is not None
    assert len(done.plan.drafts) == engine.settings.candidates == 2
    first = done.plan.drafts[0][0]
    assert done.text.startswith(first.strip())
    shown = "".join(e.text for e in events if isinstance(e, TokenEvent))
    assert shown.strip() == done.text


def test_an_answer_no_draft_states_says_the_fact_in_the_npcs_words(
        engine: DialogueEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    def judge(*_: object, **__: object) -> object:
        return lambda text: Verdict(text, ("misses the plan",))

    monkeypatch.setattr("npc_runtime.dialogue.engine.judge", judge)
    tobin = engine.world.facts["tobin_lost"]
    done = _turn(engine, "What happened to your husband Tobin?")[-1]
    assert isinstance(done, LineDoneEvent)
    assert done.plan is not None
    assert [f.id for f in done.plan.facts] == [tobin.id]
    assert done.text == "My husband Tobin was lost at sea with the herring fleet."
