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
