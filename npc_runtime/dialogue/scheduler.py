"""
The turn scheduler: one worker thread runs every turn; decode steps are batched.

A turn is a generator. It yields ``Reserve(tokens)`` to get a batch row to prefill into,
events for the player (or None: nothing new to show), ``Decode(token, cache)`` when it
needs the logits after ``token`` (the scheduler sends them back), ``Rewind(length)`` to
forget its tokens after ``length`` (to generate a line again), and ``Release(cache)`` at
its end to get its KV back out of the batch.

A turn may draft several versions of a line at once, as rows of the same batch: it yields
``Fork(n, cache)`` to get up to ``n`` more rows, copies of its own row as it stands (the
reply says how many it got: none when the batch has no free rows, and then it drafts one
after another), ``DecodeRows({row: token})`` to step some of its rows (0 is its own row,
1.. the forks in order; the others sit the step out), and ``Keep(row)`` to go on with
one of them as its own row, the rest freed. A turn that ends frees every row it holds.
Each round, new turns are admitted first (their prefill runs at once, so a player who
just spoke sees a token soon), then every waiting turn's token runs in one batched
forward pass. One thread owns the model: on a small CPU parallel passes only slow each
other down, while a batch reads the weights once for every turn.
"""

from __future__ import annotations

import contextvars
import dataclasses
import queue
import threading
from collections.abc import Callable, Generator

import structlog

from npc_runtime.model.batch import DecodeBatch
from npc_runtime.model.runner import KVCache, OnnxCausalLM

log = structlog.get_logger(__name__)

#: Passed to ``emit`` after a turn's last event (or its exception).
DONE = object()

Emit = Callable[[object], None]


@dataclasses.dataclass(frozen=True)
class Decode:
    """A turn's request: run ``token`` after ``cache`` and send me the next logits."""

    token: int
    cache: KVCache  # the turn's own KV, used only when it first joins the batch


@dataclasses.dataclass(frozen=True)
class Reserve:
    """A turn's first request: give me a batch row with room for ``tokens`` to prefill into."""

    tokens: int


@dataclasses.dataclass(frozen=True)
class Release:
    """A turn's request at its end: send me my KV (out of the batch, if it is there), from
    token ``skip`` on (the tokens before are a shared prefix, kept elsewhere)."""

    cache: KVCache
    skip: int = 0


@dataclasses.dataclass(frozen=True)
class Rewind:
    """A turn's request: my row holds only its first ``length`` tokens from now on."""

    length: int


@dataclasses.dataclass(frozen=True)
class Fork:
    """A turn's request: give me up to ``n`` more rows, each a copy of my own row (seated in
    the batch from ``cache`` first, as ``Decode`` does); the reply is how many I got."""

    n: int
    cache: KVCache


@dataclasses.dataclass(frozen=True)
class DecodeRows:
    """A forked turn's request: run each row's token (row 0: my own, 1..: my forks) and
    send me their next logits, ``{row: logits}``; my rows not named sit the step out."""

    tokens: dict[int, int]


@dataclasses.dataclass(frozen=True)
class Keep:
    """A forked turn's request: ``row`` goes on as my own row; free the others."""

    row: int


TurnSteps = Generator[object, object, None]


@dataclasses.dataclass(eq=False)
class _Turn:
    steps: TurnSteps
    emit: Emit
    context: contextvars.Context  # the submitting request's, so logs keep its request id
    handle: int | None = None  # its row in the batch, once it joined
    forks: list[int] = dataclasses.field(default_factory=list)  # its extra rows (Fork)
    synced: bool = False  # the batch knows the row's length
    waiting: Decode | DecodeRows | None = None  # parked until the next batched step
    parked: Reserve | None = None  # waiting for a batch row to free


class TurnScheduler:
    """Owns the generation thread; ``submit`` turns, ``shutdown`` at exit."""

    def __init__(self, runner: OnnxCausalLM | None = None, *, rows: int = 16,
                 tokens: int = 2048) -> None:
        """``rows`` turns of at most ``tokens`` tokens decode together (see DecodeBatch)."""
        self._batch = DecodeBatch(runner, rows, tokens) if runner is not None else None
        self._inbox: queue.SimpleQueue[_Turn | None] = queue.SimpleQueue()
        self._parked = 0  # turns waiting for a row: forks never take the rows they wait for
        self._thread = threading.Thread(target=self._run, name="turns", daemon=True)
        self._thread.start()

    def kv_bytes(self) -> int:
        """Memory held by the decode batch's rows."""
        return self._batch.kv_bytes if self._batch is not None else 0

    def submit(self, steps: TurnSteps, emit: Emit) -> None:
        """Run ``steps`` to the end, passing each event (then DONE) to ``emit``."""
        self._inbox.put(_Turn(steps, emit, contextvars.copy_context()))

    def shutdown(self) -> None:
        """Finish the running turns, then stop the thread."""
        self._inbox.put(None)
        self._thread.join()

    def _run(self) -> None:
        active: list[_Turn] = []
        stopping = False
        while active or not stopping:
            self._unpark(active)  # rows the last step freed go to the turns waiting first
            active = [t for t in active if t.waiting is not None or t.parked is not None]
            # Admit everything waiting; block only when there is nothing else to do.
            while not stopping:
                try:  # block only when no turn can go on without a new one
                    turn = self._inbox.get(block=not any(t.waiting for t in active))
                except queue.Empty:
                    break
                if turn is None:
                    stopping = True
                    continue
                active.append(turn)
                self._advance(turn, None)  # its prefill and first token, right away
            if waiting := [t for t in active if t.waiting is not None]:
                self._decode(waiting)

    def _unpark(self, turns: list[_Turn]) -> None:
        """Give rows that freed up to the turns waiting for one, first come first served.

        Admission control keeps turns to the batch's rows, but a turn whose client went
        away frees its row a step after its admission place: the next turn waits here for
        that step instead of failing."""
        if self._batch is None:  # nothing parks without a batch
            return
        for turn in turns:
            if turn.parked is not None and not self._batch.full:
                item, turn.parked = turn.parked, None
                self._parked -= 1
                try:
                    turn.handle, view = self._batch.reserve(item.tokens)
                except Exception as exc:  # e.g. more tokens than a row holds: this turn fails
                    log.exception("turn_request_failed")
                    turn.steps.close()
                    turn.emit(exc)
                    turn.emit(DONE)
                    continue
                self._advance(turn, view)

    def _seat(self, turn: _Turn, cache: KVCache) -> None:
        """Make sure the turn's row is in the batch and the batch knows its length."""
        assert self._batch is not None, "a turn asked to decode on a scheduler without a model"
        if turn.handle is None:  # prefilled elsewhere: copy into a row
            turn.handle = self._batch.join(cache)
            cache.clear()  # its row holds the KV now; free the original
        elif not turn.synced:  # prefilled into its reserved row
            self._batch.sync(turn.handle, cache.length)
        turn.synced = True

    def _decode(self, turns: list[_Turn]) -> None:
        """One batched forward for every waiting turn, then let each go on."""
        assert self._batch is not None, "a turn asked to decode on a scheduler without a model"
        tokens: dict[int, int] = {}
        for turn in turns:
            if isinstance(turn.waiting, Decode):
                self._seat(turn, turn.waiting.cache)
                assert turn.handle is not None
                tokens[turn.handle] = turn.waiting.token
            elif isinstance(turn.waiting, DecodeRows):  # seated when it forked
                rows = self._rows(turn)
                tokens.update({rows[row]: token for row, token in turn.waiting.tokens.items()})
        try:
            logits = self._batch.step(tokens)
        except Exception as exc:  # every turn in the step fails; the thread serves on
            log.exception("decode_step_failed", turns=len(turns))
            for turn in turns:
                self._finish(turn)
                turn.steps.close()
                turn.emit(exc)
                turn.emit(DONE)
            return
        for turn in turns:
            waiting, turn.waiting = turn.waiting, None
            if isinstance(waiting, DecodeRows):
                rows = self._rows(turn)
                self._advance(turn, {row: logits[rows[row]] for row in waiting.tokens})
            else:
                assert turn.handle is not None
                self._advance(turn, logits[turn.handle])

    @staticmethod
    def _rows(turn: _Turn) -> list[int]:
        """The batch handles of a turn's rows, in the turn's numbering (0: its own)."""
        assert turn.handle is not None, "a turn stepped rows it does not hold"
        return [turn.handle, *turn.forks]

    def _advance(self, turn: _Turn, value: object) -> None:
        """Run the turn until it waits for a decode step or ends."""
        reply: object = value
        while True:
            try:
                item = turn.context.run(turn.steps.send, reply)
            except StopIteration:
                self._finish(turn)
                turn.emit(DONE)
                return
            except Exception as exc:  # handed to the awaiting side, which re-raises it
                self._finish(turn)
                turn.emit(exc)
                turn.emit(DONE)
                return
            reply = None
            if isinstance(item, Decode | DecodeRows):
                turn.waiting = item
                return
            try:
                if isinstance(item, Reserve):
                    assert self._batch is not None, "Reserve needs a scheduler with a model"
                    if self._batch.full:  # see _unpark
                        turn.parked = item
                        self._parked += 1
                        return
                    turn.handle, reply = self._batch.reserve(item.tokens)
                elif isinstance(item, Fork):
                    reply = self._fork(turn, item)
                elif isinstance(item, Keep):
                    self._keep(turn, item.row)
                elif isinstance(item, Rewind):
                    if self._batch is not None and turn.handle is not None and turn.synced:
                        self._batch.sync(turn.handle, item.length)
                elif isinstance(item, Release):
                    if self._batch is not None and turn.handle is not None and not turn.synced:
                        # Prefilled into its row but never decoded (a line said as written):
                        # the batch learns the row's length here, else it keeps nothing.
                        self._batch.sync(turn.handle, item.cache.length)
                        turn.synced = True
                    reply = self._finish(turn, item.skip) or (
                        item.cache.copy(start=item.skip) if item.skip else item.cache)
                elif item is not None:
                    turn.emit(item)
            except Exception as exc:  # the scheduler's own part failed: fail this turn only
                log.exception("turn_request_failed")
                turn.steps.close()
                turn.emit(exc)
                turn.emit(DONE)
                return

    def _fork(self, turn: _Turn, item: Fork) -> int:
        """Give the turn up to ``item.n`` copies of its row, as many as the batch has rows
        free that no parked turn waits for; returns how many it got."""
        assert self._batch is not None, "Fork needs a scheduler with a model"
        self._seat(turn, item.cache)
        assert turn.handle is not None
        free = self._batch.rows - len(self._batch) - self._parked
        for _ in range(max(0, min(item.n, free))):
            turn.forks.append(self._batch.fork(turn.handle))
        return len(turn.forks)

    def _keep(self, turn: _Turn, row: int) -> None:
        """The turn's ``row`` becomes its own row; its other rows are freed."""
        assert self._batch is not None
        rows = self._rows(turn)
        turn.handle, turn.forks = rows.pop(row), []
        for handle in rows:
            self._batch.drop(handle)

    def _finish(self, turn: _Turn, skip: int = 0) -> KVCache | None:
        """Take the turn's rows out of the batch; returns its own row's KV (from token
        ``skip`` on) if it had one."""
        if turn.parked is not None:
            self._parked -= 1
        turn.waiting = turn.parked = None
        if self._batch is not None:
            for handle in turn.forks:  # drafts never chosen: nothing to keep
                try:
                    self._batch.drop(handle)
                except Exception:  # never let one turn's cleanup stop the thread
                    log.exception("row_release_failed")
        turn.forks = []
        if turn.handle is None or self._batch is None:
            return None
        handle, turn.handle, turn.synced = turn.handle, None, False
        try:
            return self._batch.leave(handle, skip)
        except Exception:  # never let one turn's cleanup stop the thread
            log.exception("row_release_failed")
            return None
