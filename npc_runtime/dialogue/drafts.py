"""
Drafts of a line's first sentence, and their choice; decoded together where rows allow.

With drafts (``serve --candidates N``) a line's first sentence must be one the reply's
scorer (``score.py``) finds no fault with before it goes out. Drafted one after another, a
faulty first draft costs the whole decode of a second before anything goes out. Here the
N drafts decode together, as N rows of the turn scheduler's decode batch forked from the
turn's prompt (one copy of its KV per row, no prefill); on a CPU a step of two rows costs
little more than a step of one, since the weights are read once.

The choice is the one drafting in turn would make, so a seeded reply says the same: the
first draft without a fault once every draft before it has finished with faults (a good
first draft goes out as soon as its first sentence ends, the others stopped); else, once
every draft has finished, the best (``score.best``) or the choice's stand-in. The chosen
row goes on as the turn's own row: its KV already holds the draft, nothing is decoded
again (drafting in turn decodes the best draft's tokens again, forced).

Each draft is an ordinary pass of the line (``LineWriter._generate``) that pauses once its
first sentence is judged, by yielding ``Drafted``; ``together`` steps the passes and
resumes only the chosen one. A pass releases text only after its pause, so nothing of a
draft reaches the player before the choice. When the batch has no row to spare (under
load) the scheduler grants no fork and the line is drafted one draft after another; with
fewer rows than drafts, the rest are drafted in turn after the batch.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Generator, Sequence
from typing import Generic, TypeVar

from npc_runtime.dialogue.scheduler import Decode, DecodeRows, Fork, Keep, Rewind
from npc_runtime.dialogue.score import Verdict, best
from npc_runtime.model.runner import KVCache

Pass = TypeVar("Pass")  # what a pass of the line returns (``speech._Pass``)
Drafting = Generator[object, object, Pass]  # a pass, in the scheduler's protocol


@dataclasses.dataclass(frozen=True)
class Choice:
    """How a line's first sentence is chosen (``score.py``): what finds a draft's faults,
    how many drafts at most, and what to say instead when every draft has faults (None:
    the best draft; "": an authored fallback line)."""

    judge: Callable[[str], Verdict]
    drafts: int
    instead: Callable[[Sequence[Verdict]], str | None]


@dataclasses.dataclass
class Drafts:
    """The choice of a line's first sentence so far."""

    faulty: list[tuple[Verdict, list[int]]] = dataclasses.field(default_factory=list)
    forced: list[int] = dataclasses.field(default_factory=list)  # the best, decoded again
    accepted: Verdict | None = None  # the first sentence found without fault

    def trace(self) -> tuple[Verdict, ...]:
        """The first sentences drafted, in order, the one said last."""
        said = [v for v, _ in self.faulty]
        if self.accepted is not None and self.accepted not in said:
            said.append(self.accepted)
        return tuple(said)


@dataclasses.dataclass(frozen=True)
class Drafted:
    """A pass's pause: its first sentence, judged (None: it wrote no words), and that
    sentence's tokens. Sent nothing back, the pass goes on (it was chosen); else closed."""

    verdict: Verdict | None
    tokens: list[int]


@dataclasses.dataclass(frozen=True)
class Together(Generic[Pass]):
    """What drafting together came to."""

    faulty: list[tuple[Verdict, list[int]]]  # drafts passed over, in order
    said: Pass | None = None  # the chosen draft's pass, run to its end (maybe the best of
    # ``faulty``, when every draft had faults)
    instead: str | None = None  # every draft had faults: say this ("": an authored line)
    spent: int = 0  # tokens decoded by the drafts not said


def after_drafts(choice: Choice, verdicts: Sequence[Verdict]) -> int | str:
    """Every draft had faults: the index of the one to say (the best), or the line to say
    instead ("": an authored fallback line)."""
    instead = choice.instead(verdicts)
    return best(verdicts) if instead is None else instead


def together(choice: Choice, draft: Callable[[int], tuple[list[int], Drafting[Pass]]], *,
             cache: KVCache, length: int, cancelled: threading.Event
             ) -> Generator[object, object, Together[Pass] | None]:
    """
    Decode the line's first-sentence drafts as rows of the decode batch, choose, and run
    the chosen one's pass to its end; None if the turn was cancelled. ``draft(row)``: the
    tokens list and pass of draft ``row`` (0: the request's sampling). ``cache`` and
    ``length``: the turn's row, holding the prompt. With no row to spare, nothing is
    drafted (``faulty`` empty, nothing said): the caller drafts in turn.
    """
    granted = yield Fork(choice.drafts - 1, cache)
    assert isinstance(granted, int)
    if not granted:
        return Together([])
    made = [draft(row) for row in range(granted + 1)]
    passes = [steps for _, steps in made]
    asked: dict[int, int] = {}  # row -> the token it runs next
    paused: dict[int, Drafted] = {}

    def go(row: int, value: object) -> None:
        item = passes[row].send(value)
        if isinstance(item, Decode):
            asked[row] = item.token
        else:  # a drafting pass releases nothing before its pause
            assert isinstance(item, Drafted), f"a draft yielded {type(item).__name__}"
            paused[row] = item

    for row in range(len(passes)):
        go(row, None)
    while (chosen := _settled(paused, len(passes))) is None and not cancelled.is_set():
        # A draft after one without faults can no longer be chosen: it sits out.
        open_rows = _open_rows(paused, len(passes))
        received = yield DecodeRows({row: token for row, token in asked.items()
                                     if row < open_rows})
        assert isinstance(received, dict)
        for row, logits in received.items():
            del asked[row]
            go(row, logits)
    if chosen is None:  # cancelled: the scheduler frees every row as the turn ends
        _close(passes)
        return None
    faulty = [(d.verdict, d.tokens) for row, d in sorted(paused.items())
              if row < chosen and d.verdict is not None]
    if chosen == len(passes):  # every draft had faults
        pick = (after_drafts(choice, [v for v, _ in faulty]) if len(faulty) == choice.drafts
                else None)  # fewer rows than drafts: the rest are drafted in turn
        if not isinstance(pick, int):
            _close(passes)
            yield Keep(0)
            yield Rewind(length)
            return Together(faulty, instead=pick, spent=sum(len(t) for t, _ in made))
        chosen = pick
    spent = sum(len(tokens) for row, (tokens, _) in enumerate(made) if row != chosen)
    yield Keep(chosen)
    _close(passes[:chosen] + passes[chosen + 1:])
    said = yield from passes[chosen]
    return Together(faulty, said, spent=spent)


def _settled(paused: dict[int, Drafted], rows: int) -> int | None:
    """The row to choose, once it is known: the first without faults whose drafts before
    it all had faults; ``rows`` when every draft had faults; None while it is open."""
    for row in range(rows):
        if row not in paused:
            return None
        if _good(paused[row]):
            return row
    return rows


def _open_rows(paused: dict[int, Drafted], rows: int) -> int:
    """Rows from here on can no longer be chosen: a draft before them has no faults."""
    return min((row for row, drafted in paused.items() if _good(drafted)), default=rows)


def _good(drafted: Drafted) -> bool:
    """Whether a draft is one to say: no faults (or no words to judge, as in turn)."""
    return drafted.verdict is None or not drafted.verdict.faults


def _close(passes: Sequence[Drafting[object]]) -> None:
    """Stop passes never to be resumed (a generator closed at its pause ends there)."""
    for steps in passes:
        steps.close()
