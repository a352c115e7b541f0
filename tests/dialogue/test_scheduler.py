"""The turn scheduler: new turns go first, active turns interleave, errors are delivered."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

from npc_runtime.dialogue.scheduler import DONE, TurnScheduler


class _Recorder:
    def __init__(self) -> None:
        self.events: list[object] = []
        self.lock = threading.Lock()
        self.done = threading.Semaphore(0)

    def emit(self, name: str):  # type: ignore[no-untyped-def]
        def emit(item: object) -> None:
            with self.lock:
                self.events.append((name, item))
            if item is DONE:
                self.done.release()
        return emit


def _steps(name: str, count: int, gate: threading.Event | None = None,
           step_s: float = 0.0) -> Iterator[object | None]:
    for i in range(count):
        if gate is not None and i == 1:
            gate.set()  # the first event is out: let the test submit another turn
        time.sleep(step_s)  # a model step takes time
        yield f"{name}{i}" if i % 2 == 0 else None  # odd steps show nothing new


def test_new_turn_gets_its_first_step_before_the_long_one_finishes() -> None:
    """A turn submitted mid-way starts at once and the two alternate."""
    scheduler = TurnScheduler()
    recorder = _Recorder()
    started = threading.Event()
    scheduler.submit(_steps("a", 40, started, step_s=0.005), recorder.emit("a"))
    assert started.wait(5)
    scheduler.submit(_steps("b", 4), recorder.emit("b"))
    assert recorder.done.acquire(timeout=5)
    assert recorder.done.acquire(timeout=5)
    scheduler.shutdown()
    order = [item for _, item in recorder.events if item is not DONE]
    assert order.index("b0") < order.index("a38")
    assert [i for n, i in recorder.events if n == "b"] == ["b0", "b2", DONE]
    assert None not in order  # steps with nothing new are not emitted


def test_a_failing_turn_delivers_its_error_and_others_carry_on() -> None:
    """An exception in one turn reaches its caller, followed by DONE."""
    def broken() -> Iterator[object | None]:
        yield "x"
        raise RuntimeError("boom")

    scheduler = TurnScheduler()
    recorder = _Recorder()
    scheduler.submit(broken(), recorder.emit("bad"))
    scheduler.submit(_steps("ok", 3), recorder.emit("ok"))
    assert recorder.done.acquire(timeout=5)
    assert recorder.done.acquire(timeout=5)
    scheduler.shutdown()
    bad = [i for n, i in recorder.events if n == "bad"]
    assert bad[0] == "x"
    assert isinstance(bad[1], RuntimeError)
    assert bad[2] is DONE
    assert [i for n, i in recorder.events if n == "ok"] == ["ok0", "ok2", DONE]


def test_shutdown_finishes_running_turns() -> None:
    """Turns already submitted run to their end before the thread stops."""
    scheduler = TurnScheduler()
    recorder = _Recorder()
    scheduler.submit(_steps("a", 6), recorder.emit("a"))
    scheduler.shutdown()
    assert recorder.events[-1] == ("a", DONE)
