"""
Drafts of a line's first sentence decoded together, as rows of the decode batch
(``dialogue/drafts.py``): the same choice as drafting in turn, within the batch's rows,
every row freed at the end.

The lines are the tiny random-weight model's; the judge is a plain function of the text,
so each case says which drafts have faults.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Sequence

import numpy as np
import pytest

from npc_runtime.constraints.checker import LineChecker
from npc_runtime.dialogue.actions import Reply
from npc_runtime.dialogue.drafts import Choice
from npc_runtime.dialogue.prompt import persona_card
from npc_runtime.dialogue.scheduler import DONE, Release, Reserve, TurnScheduler
from npc_runtime.dialogue.score import Verdict
from npc_runtime.dialogue.sessions import Session
from npc_runtime.dialogue.speech import Line, LineWriter
from npc_runtime.lore.knowledge import view
from npc_runtime.lore.model import World
from npc_runtime.model.generate import SamplingParams
from npc_runtime.model.loader import LoadedModel
from npc_runtime.model.runner import KVCache

PLAYER_LINE = "Hello there."
PARAMS = SamplingParams(max_new_tokens=12, seed=7)  # greedy: draft 1 is the request's
OPENING = "Aye, the"  # every draft starts so: greedy, the tiny model would end at once


@dataclasses.dataclass
class _Run:
    line: Line | None = None
    kept: KVCache | None = None  # what the turn's row held at its end
    rows: list[int] = dataclasses.field(default_factory=list)  # rows in each decode step


def _good(text: str) -> Verdict:
    return Verdict(text, ())


def _say_the_best(_: Sequence[Verdict]) -> str | None:
    return None


def _line(model: LoadedModel, world: World, judge: Callable[[str], Verdict], *, rows: int,
          drafts: int = 2, instead: Callable[[Sequence[Verdict]], str | None] = _say_the_best,
          hold: bool = False, cancel_at_step: int = 0) -> _Run:
    """One line written on a scheduler whose batch has ``rows`` rows, as the engine does."""
    scheduler = TurnScheduler(model.runner, rows=rows, tokens=512)
    batch = scheduler._batch
    assert batch is not None
    run, cancelled, ended = _Run(), threading.Event(), threading.Event()
    step = batch.step

    def counted(tokens: dict[int, int]) -> dict[int, np.ndarray]:
        run.rows.append(len(batch))
        if len(run.rows) == cancel_at_step:
            cancelled.set()
        return step(tokens)

    batch.step = counted  # type: ignore[method-assign]
    known = view(world, "maren")
    checker = LineChecker(world, known, persona_card(world, known))
    session = Session("s", "maren", "Player", "p")
    prompt = model.tokenizer.encode_chat([("user", PLAYER_LINE)])

    def turn():  # type: ignore[no-untyped-def]
        row = yield Reserve(len(prompt) + PARAMS.max_new_tokens + 8)
        assert isinstance(row, KVCache)
        logits, cache = model.runner.forward(prompt, row)
        run.line = yield from LineWriter(model).checked_line(
            session, known, checker, Reply(logits, cache), start=list(prompt),
            player_line=PLAYER_LINE, params=PARAMS, hold=hold, cancelled=cancelled,
            choice=Choice(judge, drafts, instead), opening=model.tokenizer.encode(OPENING))
        if run.line is not None:
            kept = yield Release(cache)
            assert isinstance(kept, KVCache)
            run.kept = kept.copy()

    scheduler.submit(turn(), lambda item: ended.set() if item is DONE else None)
    assert ended.wait(60)
    scheduler.shutdown()
    assert len(batch) == 0, "every row the turn held is free"
    return run


def _faulty_if(faulty: Callable[[str], bool]) -> Callable[[str], Verdict]:
    """A judge that finds a (mild) fault in the drafts ``faulty`` says."""
    def judge(text: str) -> Verdict:
        return Verdict(text, ("misses the plan",) if faulty(text) else ())
    return judge


def _always(_: str) -> bool:
    return True


def test_a_good_first_draft_is_said_as_drafting_in_turn_says_it(
        tiny_model: LoadedModel, world: World) -> None:
    """Draft 1 without faults: the same line, tokens and trace as when drafts run in turn
    (a batch of one row), and the decode batch held two rows while drafting."""
    together = _line(tiny_model, world, _good, rows=4)
    in_turn = _line(tiny_model, world, _good, rows=1)
    assert together.line is not None
    assert in_turn.line is not None
    assert in_turn.line.text == together.line.text
    assert in_turn.line.ids == together.line.ids
    assert in_turn.line.drafts == together.line.drafts
    assert max(together.rows) == 2
    assert max(in_turn.rows) == 1


def test_a_faulty_first_draft_gives_way_to_the_second_decoded_alongside(
        tiny_model: LoadedModel, world: World) -> None:
    """Draft 1 faulty, draft 2 not: draft 2 is said, as drafting in turn says it, and the
    turn's row then holds exactly its tokens (its KV went on; nothing was decoded again)."""
    first = _line(tiny_model, world, _good, rows=1).line
    assert first is not None
    assert first.text.startswith(OPENING)
    judge = _faulty_if(lambda text: text.strip() == first.text.strip())
    together = _line(tiny_model, world, judge, rows=4)
    in_turn = _line(tiny_model, world, judge, rows=1)
    assert together.line is not None
    assert in_turn.line is not None
    assert [d.text for d in together.line.drafts] == [d.text for d in in_turn.line.drafts]
    assert len(together.line.drafts) == 2
    assert together.line.drafts[0].faults
    assert not together.line.drafts[1].faults
    assert in_turn.line.text == together.line.text
    assert together.kept is not None
    assert together.kept.length == len(together.line.ids)
    _, fresh = tiny_model.runner.forward(together.line.ids, tiny_model.runner.empty_cache())
    for kept, expected in zip(together.kept.tensors, fresh.tensors, strict=True):
        length = together.kept.length
        np.testing.assert_allclose(kept.numpy()[:, :, :length],
                                   expected.numpy()[:, :, :length], atol=1e-4)


@pytest.mark.parametrize("hold", [False, True])
def test_when_every_draft_has_faults_the_best_is_said_without_decoding_it_again(
        tiny_model: LoadedModel, world: World, hold: bool) -> None:
    """Every draft faulty and no stand-in: the best (the first, on a tie) goes on from its
    own row; the steps are those of the drafts alone, with no forced second decode."""
    judge = _faulty_if(_always)
    together = _line(tiny_model, world, judge, rows=4, hold=hold)
    in_turn = _line(tiny_model, world, judge, rows=1, hold=hold)
    assert together.line is not None
    assert in_turn.line is not None
    assert len(together.line.drafts) == 2
    assert together.line.text.strip().startswith(together.line.drafts[0].text.strip())
    assert together.line.drafts == in_turn.line.drafts
    assert len(together.rows) < len(in_turn.rows)


def test_a_stand_in_is_said_when_every_draft_has_faults(
        tiny_model: LoadedModel, world: World) -> None:
    """Every draft faulty and a stand-in given: it is said, as drafting in turn says it."""
    together = _line(tiny_model, world, _faulty_if(_always), rows=4,
                     instead=lambda _: "Two coppers a night.")
    assert together.line is not None
    assert together.line.text == "Two coppers a night."
    assert len(together.line.drafts) == 2
    assert together.line.streamed == ""


def test_drafts_never_take_more_rows_than_the_batch_has(
        tiny_model: LoadedModel, world: World) -> None:
    """Three drafts in a batch of two rows: two decode together, the third in turn."""
    run = _line(tiny_model, world, _faulty_if(_always), rows=2, drafts=3)
    assert run.line is not None
    assert len(run.line.drafts) == 3
    assert max(run.rows) == 2


def test_a_cancelled_turn_frees_every_row(tiny_model: LoadedModel, world: World) -> None:
    """A turn cancelled while its drafts decode together ends with no line; its rows (all
    of them, checked in ``_line``) are free."""
    run = _line(tiny_model, world, _good, rows=4, cancel_at_step=2)
    assert run.line is None
    assert run.rows[:2] == [2, 2]
