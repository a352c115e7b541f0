"""Training data the runtime judges itself: only replies its checker and scorer passed,
whose plan does what the line was made to ask, with the exact prompt they were made under."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from npc_runtime.config import Settings
from npc_runtime.constraints.checker import CheckAction, CheckReport
from npc_runtime.dialogue.events import LineDoneEvent, Timings
from npc_runtime.dialogue.plan import Act, Plan
from npc_runtime.lore.loader import load_world
from npc_runtime.lore.model import World, WorldState
from npc_runtime.model.generate import StopReason
from npc_runtime.model.loader import LoadedModel
from npc_runtime.tools.acts import Embed
from npc_runtime.tune.data import (
    chat_for,
    judge_reply,
    make_examples,
    read_jsonl,
    world_words,
    write_jsonl,
)
from npc_runtime.tune.lines import PlayerLine, player_lines

ROOT = Path(__file__).resolve().parents[2]
_ROOM = PlayerLine("maren", WorldState(), "How much is the room key?", "fact", "fact room_price",
                   ("room_price",))


@pytest.fixture(scope="module")
def saltmere() -> World:
    """The medium example world."""
    return load_world(ROOT / "examples/worlds/saltmere")


def _done(saltmere: World, *, act: Act = Act.ANSWER, facts: tuple[str, ...] = ("room_price",),
          faults: tuple[str, ...] = (), check: CheckAction = CheckAction.PASSED,
          text: str = "Five coppers a night, love.", prompt_tokens: int = 300) -> LineDoneEvent:
    plan = Plan(act, tuple(saltmere.facts[f] for f in facts), "question",
                drafts=((text, faults),))
    return LineDoneEvent(text, StopReason.END_OF_TURN, Timings(10, 20, prompt_tokens, 8, 50),
                         CheckReport(action=check), plan=plan)


def test_a_clean_answer_of_the_asked_fact_is_kept(saltmere: World) -> None:
    """Checker passed, last draft faultless, the plan tells the fact asked: kept."""
    assert judge_reply(_ROOM, _done(saltmere), called=False).kept


@pytest.mark.parametrize(("change", "why"), [
    ({"check": CheckAction.REGENERATED}, "checker: regenerated"),
    ({"faults": ("misses the plan",)}, "scorer: misses the plan"),
    ({"facts": ("eel_stew_price",)}, "plan tells none of room_price"),
    ({"act": Act.DOES_NOT_KNOW, "facts": ()}, "plan does_not_know for a fact line"),
])
def test_a_reply_the_judge_faults_is_dropped(saltmere: World, change: dict[str, object],
                                             why: str) -> None:
    """A checker intervention, a scorer fault, or a plan that tells another fact drops it."""
    verdict = judge_reply(_ROOM, _done(saltmere, **change), called=False)  # type: ignore[arg-type]
    assert (False, why) == (verdict.kept, verdict.why)


def test_a_tool_call_or_the_gist_said_instead_is_dropped(saltmere: World) -> None:
    """A turn that called a tool, or that said the plan's gist because every draft had
    faults, teaches nothing the model wrote well."""
    assert not judge_reply(_ROOM, _done(saltmere), called=True).kept
    gist = "A room costs five copper pieces a night."
    assert not judge_reply(_ROOM, _done(saltmere, text=gist), False, gist_text=gist).kept


def test_a_remark_off_the_worlds_words_is_dropped(saltmere: World) -> None:
    """The runtime's judge passes an off-world remark; the tune's word check does not."""
    words = world_words(saltmere)
    off = "The new smartphone has revolutionized the way businesses operate."
    verdict = judge_reply(_ROOM, _done(saltmere, text=off), False, words=words)
    assert (verdict.kept, verdict.why.split(":")[0]) == (False, "off the world's words")
    inn = "A bed at the Gull and Lantern is five coppers a night, love."
    assert judge_reply(_ROOM, _done(saltmere, text=inn), False, words=words).kept


def test_the_rebuilt_chat_ends_with_the_line_and_the_plans_note(saltmere: World) -> None:
    """The prompt a reply was made under: the card first, the player's line, the note last."""
    plan = Plan(Act.ANSWER, (saltmere.facts["room_price"],), "question")
    messages = chat_for(saltmere, _ROOM, plan)
    assert (messages[0][0], messages[-1][0]) == ("system", "system")
    assert "Maren Ashveil" in messages[0][1]
    assert messages[-2] == ("user", _ROOM.text)
    assert "five copper" in messages[-1][1]


def test_made_examples_are_judged_and_carry_their_prompt(
        tiny_model: LoadedModel, saltmere: World, embed: Embed, tmp_path: Path) -> None:
    """On the tiny model (random weights), what is kept passed the checker; a line the model
    wrote carries the prompt the engine ran, token for token; the JSONL round-trips."""
    lines = [line for line in player_lines(saltmere) if line.npc == "maren"][:12]
    lines += [next(line for line in player_lines(saltmere)
                   if line.npc == "maren" and line.kind == kind)
              for kind in ("greeting", "withheld")]
    settings = dataclasses.replace(Settings(max_new_tokens=8, candidates=2), state_db=None)
    kept, dropped = make_examples(saltmere, tiny_model, embed, lines, settings=settings)
    assert kept, dropped
    assert {"greeting", "withheld"} <= {k["kind"] for k in kept}
    for record in kept:
        assert record["line"] in {line.text for line in lines}
        assert record["prompt"] == tiny_model.tokenizer.render(
            [tuple(m) for m in record["messages"]])
        assert record["prompt"].count(record["line"]) >= 1
    digest = write_jsonl(tmp_path / "data.jsonl", kept)
    assert len(digest) == 64
    assert kept == read_jsonl(tmp_path / "data.jsonl")
