"""The turn scheduler: new turns go first, decode steps are shared, errors are delivered."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from npc_runtime.dialogue.scheduler import DONE, Decode, Release, TurnScheduler, TurnSteps
from npc_runtime.model.loader import LoadedModel


class _Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []
        self.lock = threading.Lock()
        self.done = threading.Semaphore(0)

    def emit(self, name: str):  # type: ignore[no-untyped-def]
        def emit(item: object) -> None:
            with self.lock:
                self.events.append((name, item))
            if item is DONE:
                self.done.release()
        return emit

    def of(self, name: str) -> list[object]:
        return [item for who, item in self.events if who == name]


def _turn(model: LoadedModel, name: str, steps: int, gate: threading.Event | None = None,
          fail_at: int = -1) -> TurnSteps:
    ids = model.tokenizer.encode_chat([("user", f"Hello from {name}")])
    logits, cache = model.runner.forward(ids, model.runner.empty_cache())
    for i in range(steps):
        if gate is not None and i == 1:
            gate.set()  # the first event is out: let the test submit another turn
        if i == fail_at:
            raise RuntimeError("boom")
        token = int(np.argmax(logits))
        yield f"{name}{i}"
        received = yield Decode(token, cache)
        assert isinstance(received, np.ndarray)
        logits = received
    released = yield Release(cache)
    yield f"{name} kept {released.length} tokens"  # type: ignore[attr-defined]


def test_new_turn_gets_its_first_token_while_the_long_one_runs(tiny_model: LoadedModel) -> None:
    """A turn submitted mid-way starts at once and the two then step together."""
    scheduler = TurnScheduler(tiny_model.runner)
    recorder = _Recorder()
    started = threading.Event()
    # Long enough that "b" arrives well before "a" ends, even on a loaded machine.
    scheduler.submit(_turn(tiny_model, "a", 400, started), recorder.emit("a"))
    assert started.wait(10)
    scheduler.submit(_turn(tiny_model, "b", 4), recorder.emit("b"))
    assert recorder.done.acquire(timeout=30)
    assert recorder.done.acquire(timeout=30)
    scheduler.shutdown()
    order = [item for _, item in recorder.events if item is not DONE]
    assert order.index("b0") < order.index("a398")
    assert recorder.of("b")[:4] == ["b0", "b1", "b2", "b3"]
    assert str(recorder.of("b")[4]).startswith("b kept ")
    assert recorder.of("b")[-1] is DONE


def test_a_failing_turn_delivers_its_error_and_others_carry_on(
    tiny_model: LoadedModel,
) -> None:
    """An exception in one turn reaches its caller, followed by DONE; its row is freed."""
    scheduler = TurnScheduler(tiny_model.runner)
    recorder = _Recorder()
    scheduler.submit(_turn(tiny_model, "bad", 5, fail_at=2), recorder.emit("bad"))
    scheduler.submit(_turn(tiny_model, "ok", 3), recorder.emit("ok"))
    assert recorder.done.acquire(timeout=30)
    assert recorder.done.acquire(timeout=30)
    scheduler.shutdown()
    bad = recorder.of("bad")
    assert bad[:2] == ["bad0", "bad1"]
    assert isinstance(bad[2], RuntimeError)
    assert bad[3] is DONE
    assert recorder.of("ok")[:3] == ["ok0", "ok1", "ok2"]


def test_shutdown_finishes_running_turns(tiny_model: LoadedModel) -> None:
    """Turns already submitted run to their end before the thread stops."""
    scheduler = TurnScheduler(tiny_model.runner)
    recorder = _Recorder()
    scheduler.submit(_turn(tiny_model, "a", 6), recorder.emit("a"))
    scheduler.shutdown()
    assert recorder.events[-1] == ("a", DONE)


def test_a_failing_decode_step_fails_its_turns_and_the_thread_serves_on(
    tiny_model: LoadedModel, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An error in the batched forward reaches every turn in it; later turns still run."""
    scheduler = TurnScheduler(tiny_model.runner)
    batch = scheduler._batch
    assert batch is not None
    real_step = batch.step
    calls = {"n": 0}

    def flaky(tokens: dict[int, int]) -> dict[int, np.ndarray]:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("onnxruntime fell over")
        return real_step(tokens)

    monkeypatch.setattr(batch, "step", flaky)
    recorder = _Recorder()
    scheduler.submit(_turn(tiny_model, "a", 3), recorder.emit("a"))
    assert recorder.done.acquire(timeout=30)
    scheduler.submit(_turn(tiny_model, "b", 3), recorder.emit("b"))
    assert recorder.done.acquire(timeout=30)
    scheduler.shutdown()
    assert isinstance(recorder.of("a")[1], RuntimeError)
    assert recorder.of("b")[:3] == ["b0", "b1", "b2"]
    assert len(batch) == 0


def _reserving_turn(model: LoadedModel, name: str, steps: int) -> TurnSteps:
    """A turn as the engine runs one: a reserved row, prefilled in place, then decoded."""
    from npc_runtime.dialogue.scheduler import Reserve
    from npc_runtime.model.runner import KVCache

    ids = model.tokenizer.encode_chat([("user", f"Hello from {name}")])
    row = yield Reserve(len(ids) + steps + 1)
    assert isinstance(row, KVCache)
    logits, cache = model.runner.forward(ids, row)
    for i in range(steps):
        yield f"{name}{i}"
        received = yield Decode(int(np.argmax(logits)), cache)
        assert isinstance(received, np.ndarray)
        logits = received
    yield Release(cache)


def test_a_turn_waits_for_a_row_instead_of_failing(tiny_model: LoadedModel) -> None:
    """With every row taken (a turn admitted while another still frees its row), a new
    turn waits for the row, then runs in full; it does not fail with BatchFullError."""
    scheduler = TurnScheduler(tiny_model.runner, rows=1, tokens=512)
    recorder = _Recorder()
    scheduler.submit(_reserving_turn(tiny_model, "a", 20), recorder.emit("a"))
    scheduler.submit(_reserving_turn(tiny_model, "b", 3), recorder.emit("b"))
    assert recorder.done.acquire(timeout=30)
    assert recorder.done.acquire(timeout=30)
    scheduler.shutdown()
    assert recorder.of("b") == ["b0", "b1", "b2", DONE]
    assert recorder.of("a")[-1] is DONE
    assert len(recorder.of("a")) == 21
    order = [item for _, item in recorder.events if item is not DONE]
    assert order.index("a19") < order.index("b0")  # b had to wait for a's row
