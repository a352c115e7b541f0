"""
The turn scheduler: one worker thread runs every turn, interleaved token by token.

A turn is an iterator of steps (each ``next`` runs one model step and returns an event
or None). New turns are admitted first, so a player who just spoke gets a first token
after one prefill instead of after everyone else's whole reply; then active turns take
one step each, in rotation. One thread owns the model, as on a 2-core CPU parallel
prefills only slow each other down.
"""

from __future__ import annotations

import collections
import contextvars
import dataclasses
import queue
import threading
from collections.abc import Callable, Iterator

import structlog

log = structlog.get_logger(__name__)

#: Passed to ``emit`` after a turn's last event (or its exception).
DONE = object()

Emit = Callable[[object], None]


@dataclasses.dataclass
class _Turn:
    steps: Iterator[object | None]
    emit: Emit
    context: contextvars.Context  # the submitting request's, so logs keep its request id


class TurnScheduler:
    """Owns the generation thread; ``submit`` turns, ``shutdown`` at exit."""

    def __init__(self) -> None:
        self._inbox: queue.SimpleQueue[_Turn | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="turns", daemon=True)
        self._thread.start()

    def submit(self, steps: Iterator[object | None], emit: Emit) -> None:
        """Run ``steps`` to the end, passing each event (then DONE) to ``emit``."""
        self._inbox.put(_Turn(steps, emit, contextvars.copy_context()))

    def shutdown(self) -> None:
        """Finish the running turns, then stop the thread."""
        self._inbox.put(None)
        self._thread.join()

    def _run(self) -> None:
        active: collections.deque[_Turn] = collections.deque()
        stopping = False
        while active or not stopping:
            # Admit everything waiting; block only when there is nothing else to do.
            while not stopping:
                try:
                    turn = self._inbox.get(block=not active)
                except queue.Empty:
                    break
                if turn is None:
                    stopping = True
                elif self._step(turn):  # its prefill and first token, right away
                    active.append(turn)
            if active:
                turn = active.popleft()
                if self._step(turn):
                    active.append(turn)

    @staticmethod
    def _step(turn: _Turn) -> bool:
        """Advance one step; False once the turn is over."""
        try:
            event = turn.context.run(next, turn.steps)
        except StopIteration:
            turn.emit(DONE)
            return False
        except Exception as exc:  # handed to the awaiting side, which re-raises it
            turn.emit(exc)
            turn.emit(DONE)
            return False
        if event is not None:
            turn.emit(event)
        return True
