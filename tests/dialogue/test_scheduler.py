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


def test_forked_rows_share_the_prompt_and_a_turn_keeps_one(tiny_model: LoadedModel) -> None:
    """A turn's forks hold its prompt: their first logits equal its own row's and a lone
    sequence's; the row it keeps goes on with its own KV; every row is free at its end."""
    from npc_runtime.dialogue.scheduler import DecodeRows, Fork, Keep, Reserve
    from npc_runtime.model.runner import KVCache

    runner = tiny_model.runner
    ids = tiny_model.tokenizer.encode_chat([("user", "Hello from a drafting turn")])
    got: dict[str, object] = {}
    scheduler = TurnScheduler(runner, rows=4, tokens=512)
    batch = scheduler._batch
    assert batch is not None

    def turn() -> TurnSteps:
        row = yield Reserve(len(ids) + 8)
        assert isinstance(row, KVCache)
        logits, cache = runner.forward(ids, row)
        token = int(np.argmax(logits))
        got["granted"] = yield Fork(2, cache)
        got["held"] = len(batch)
        got["first"] = yield DecodeRows({0: token, 1: token, 2: token})
        got["second"] = yield DecodeRows({2: token})  # rows 0 and 1 sit it out
        yield Keep(2)
        got["held after keep"] = len(batch)
        got["kept"] = yield Release(cache)

    recorder = _Recorder()
    scheduler.submit(turn(), recorder.emit("t"))
    assert recorder.done.acquire(timeout=30)
    scheduler.shutdown()
    first, lone = runner.forward(ids, runner.empty_cache())
    token = int(np.argmax(first))
    expected, lone = runner.forward([token], lone)
    assert got["granted"] == 2
    assert got["held"] == 3
    rows = got["first"]
    assert isinstance(rows, dict)
    for row in (0, 1, 2):
        np.testing.assert_allclose(rows[row], expected, atol=1e-4)
    again, _ = runner.forward([token], lone)
    second = got["second"]
    assert isinstance(second, dict)
    assert list(second) == [2]
    np.testing.assert_allclose(second[2], again, atol=1e-4)
    assert got["held after keep"] == 1
    kept = got["kept"]
    assert isinstance(kept, KVCache)
    assert kept.length == len(ids) + 2
    assert len(batch) == 0


def _forking_turn(model: LoadedModel, name: str, steps: int, wanted: int,
                  granted: list[int], *, finish: bool = True) -> TurnSteps:
    """A turn that asks for ``wanted`` forks, steps all its rows, and (``finish``) keeps
    its own row and releases it; else it just ends, holding every row."""
    from npc_runtime.dialogue.scheduler import DecodeRows, Fork, Keep, Reserve
    from npc_runtime.model.runner import KVCache

    ids = model.tokenizer.encode_chat([("user", f"Hello from {name}")])
    row = yield Reserve(len(ids) + steps + 1)
    assert isinstance(row, KVCache)
    logits, cache = model.runner.forward(ids, row)
    got = yield Fork(wanted, cache)
    assert isinstance(got, int)
    granted.append(got)
    token = int(np.argmax(logits))
    for _ in range(steps):
        yield DecodeRows(dict.fromkeys(range(got + 1), token))
    if finish:
        yield Keep(0)
        yield Release(cache)


def test_forks_take_only_free_rows_and_every_row_is_freed(tiny_model: LoadedModel) -> None:
    """In a batch of three rows, one turn running, a turn asking for three forks gets one
    (the batch never holds more rows than it has); a turn that ends without keeping or
    releasing its rows (cancelled) frees them all."""
    scheduler = TurnScheduler(tiny_model.runner, rows=3, tokens=512)
    batch = scheduler._batch
    assert batch is not None
    held: list[int] = []
    step = batch.step

    def counted(tokens: dict[int, int]) -> dict[int, np.ndarray]:
        held.append(len(batch))
        return step(tokens)

    batch.step = counted  # type: ignore[method-assign]
    recorder = _Recorder()
    started = threading.Event()
    scheduler.submit(_turn(tiny_model, "long", 60, started), recorder.emit("long"))
    assert started.wait(10)
    granted: list[int] = []
    scheduler.submit(_forking_turn(tiny_model, "a", 5, 3, granted), recorder.emit("a"))
    scheduler.submit(_forking_turn(tiny_model, "b", 3, 1, granted, finish=False),
                     recorder.emit("b"))
    for _ in range(3):
        assert recorder.done.acquire(timeout=30)
    scheduler.shutdown()
    assert granted[0] == 1
    assert max(held) <= 3
    assert len(batch) == 0
