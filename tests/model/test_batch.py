"""Batched decoding equals unbatched decoding, token for token."""

from __future__ import annotations

import numpy as np

from npc_runtime.model.batch import DecodeBatch
from npc_runtime.model.generate import Generation, SamplingParams
from npc_runtime.model.loader import LoadedModel
from npc_runtime.testing import greedy_in_batch

LINES = ["A room?", "Any stew tonight, and how much is it?", "Bell?"]


def _prompt(model: LoadedModel, line: str) -> list[int]:
    return model.tokenizer.encode_chat([("system", "You keep an inn."), ("user", line)])


def test_batched_greedy_equals_unbatched_greedy(tiny_model: LoadedModel) -> None:
    """Rows of different lengths decoded together give each row its solo tokens."""
    steps = 12
    solo = [list(Generation(tiny_model.runner, _prompt(tiny_model, line),
                            SamplingParams(max_new_tokens=steps), frozenset()))
            for line in LINES]
    got, _ = greedy_in_batch(tiny_model.runner, [_prompt(tiny_model, line) for line in LINES],
                             steps)
    assert got == solo


def test_rows_leave_with_their_own_kv(tiny_model: LoadedModel) -> None:
    """A row that leaves carries its tokens; the rows left keep decoding correctly."""
    batch = DecodeBatch(tiny_model.runner)
    handles, logits = [], {}
    for line in LINES:
        first, cache = tiny_model.runner.forward(_prompt(tiny_model, line),
                                                 tiny_model.runner.empty_cache())
        handle = batch.join(cache)
        handles.append(handle)
        logits[handle] = first
    tokens = {h: int(np.argmax(lg)) for h, lg in logits.items()}
    logits = batch.step(tokens)
    left = batch.leave(handles[0])
    assert left.length == len(_prompt(tiny_model, LINES[0])) + 1
    assert len(batch) == 2
    # The departed sequence continues alone exactly as it would have in the batch.
    alone, _ = tiny_model.runner.forward([int(np.argmax(logits[handles[0]]))], left)
    rest = batch.step({h: int(np.argmax(logits[h])) for h in handles[1:]})
    assert set(rest) == set(handles[1:])
    reference = tiny_model.runner
    ids = _prompt(tiny_model, LINES[0])
    ref_logits, ref_cache = reference.forward(ids, reference.empty_cache())
    t1 = int(np.argmax(ref_logits))
    ref_logits, ref_cache = reference.forward([t1], ref_cache)
    ref_logits, _ = reference.forward([int(np.argmax(ref_logits))], ref_cache)
    np.testing.assert_allclose(alone, ref_logits, rtol=1e-4, atol=1e-4)
    for handle in handles[1:]:
        batch.leave(handle)
    assert len(batch) == 0  # the buffers stay mapped for the next rows


def _resident_bytes(batch: DecodeBatch) -> int:
    """Bytes of the batch's buffers the OS has in RAM now (mincore over their pages)."""
    import ctypes
    import mmap

    libc = ctypes.CDLL(None, use_errno=True)
    total = 0
    for tensor in batch._tensors:
        array = tensor.numpy()
        start = array.ctypes.data // mmap.PAGESIZE * mmap.PAGESIZE
        pages = -(-(array.ctypes.data + array.nbytes - start) // mmap.PAGESIZE)
        vec = (ctypes.c_ubyte * pages)()
        assert libc.mincore(ctypes.c_void_p(start), ctypes.c_size_t(pages * mmap.PAGESIZE),
                            vec) == 0
        total += sum(v & 1 for v in vec) * mmap.PAGESIZE
    return total


def test_memory_follows_the_rows_in_use(tiny_model: LoadedModel) -> None:
    """Rows commit memory only for their tokens; a row that leaves gives its pages back,
    and the row moved into its place keeps no stale tail of it."""
    runner = tiny_model.runner
    batch = DecodeBatch(runner, rows=3, tokens=4096)
    assert _resident_bytes(batch) == 0  # reserved address space, nothing committed
    long_prompt = _prompt(tiny_model, " ".join(["Tell me of the bell."] * 150))
    handles = []
    for ids in (long_prompt, _prompt(tiny_model, "Hi"), _prompt(tiny_model, "Hi")):
        handle, row = batch.reserve(len(ids) + 8)
        runner.forward(ids, row)
        batch.sync(handle, len(ids))
        handles.append(handle)
    used = _resident_bytes(batch)
    assert 0 < used < batch.nbytes // 4
    batch.leave(handles[0])  # the last row moves into the long row's place
    short = _resident_bytes(batch)
    assert short < used // 4, (short, used)
    batch.leave(handles[1])
    batch.leave(handles[2])
    assert _resident_bytes(batch) == 0


def test_a_full_batch_refuses_instead_of_growing(tiny_model: LoadedModel) -> None:
    """Past its rows or tokens the batch raises BatchFullError (admission prevents it);
    growing used to copy every row and commit every page."""
    import pytest

    from npc_runtime.errors import BatchFullError

    batch = DecodeBatch(tiny_model.runner, rows=2, tokens=512)
    batch.reserve(100)
    batch.reserve(100)
    with pytest.raises(BatchFullError):
        batch.reserve(100)
    with pytest.raises(BatchFullError):
        DecodeBatch(tiny_model.runner, rows=2, tokens=512).reserve(600)


def test_a_forked_row_goes_on_as_its_source_would(tiny_model: LoadedModel) -> None:
    """A fork holds its source's tokens: fed the same token, both rows give the logits a
    single sequence would; then each goes its own way without touching the other."""
    runner = tiny_model.runner
    ids = _prompt(tiny_model, LINES[1])
    first, cache = runner.forward(ids, runner.empty_cache())
    batch = DecodeBatch(runner, rows=3, tokens=256)
    source = batch.join(cache)
    fork = batch.fork(source)
    token = int(np.argmax(first))
    logits = batch.step({source: token, fork: token})
    alone, alone_cache = runner.forward([token], runner.forward(ids, runner.empty_cache())[1])
    np.testing.assert_allclose(logits[fork], alone, atol=1e-4)
    np.testing.assert_allclose(logits[source], alone, atol=1e-4)
    other = (token + 1) % len(alone)  # the fork says something else next
    logits = batch.step({source: token, fork: other})
    expected, _ = runner.forward([token], alone_cache)
    np.testing.assert_allclose(logits[source], expected, atol=1e-4)


def test_a_row_left_out_of_a_step_sits_it_out(tiny_model: LoadedModel) -> None:
    """A row not given a token keeps its length; its next step gives the logits it would
    have given without the pause. A dropped row is gone and copies nothing out."""
    runner = tiny_model.runner
    batch = DecodeBatch(runner, rows=2, tokens=256)
    firsts, handles = [], []
    for line in LINES[:2]:
        first, cache = runner.forward(_prompt(tiny_model, line), runner.empty_cache())
        handles.append(batch.join(cache))
        firsts.append(int(np.argmax(first)))
    a, b = handles
    batch.step({a: firsts[0]})  # b sits out
    paused = batch.step({b: firsts[1]})[b]
    expected, _ = runner.forward([firsts[1]], runner.forward(
        _prompt(tiny_model, LINES[1]), runner.empty_cache())[1])
    np.testing.assert_allclose(paused, expected, atol=1e-4)
    batch.drop(a)
    assert len(batch) == 1
    assert batch.leave(b).length == len(_prompt(tiny_model, LINES[1])) + 1
