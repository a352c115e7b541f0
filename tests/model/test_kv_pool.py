"""KV reuse: shared prefixes, session continuation, eviction, and identical results."""

from __future__ import annotations

import numpy as np

from npc_runtime.model.generate import Generation, SamplingParams
from npc_runtime.model.kv_pool import CachedSequence, KVPool
from npc_runtime.model.loader import LoadedModel

SYSTEM = [("system", "You keep an inn by the sea. Rooms cost five coppers.")]


def _ids(model: LoadedModel, *turns: tuple[str, str]) -> tuple[list[int], int]:
    tok = model.tokenizer
    prefix = tok.encode(tok.render(SYSTEM, add_generation_prompt=False))
    return tok.encode_chat([*SYSTEM, *turns]), len(prefix)


def _reply(model: LoadedModel, ids: list[int], start: tuple[np.ndarray, object] | None
           ) -> list[int]:
    generation = Generation(model.runner, ids, SamplingParams(max_new_tokens=8), frozenset(),
                            start=start)  # type: ignore[arg-type]
    return list(generation)


def test_prefix_hit_gives_the_same_reply_as_a_cold_prefill(tiny_model: LoadedModel) -> None:
    """A second session reuses the first one's prefix and decodes identically."""
    pool = KVPool(64 << 20)
    ids, prefix_len = _ids(tiny_model, ("user", "A room?"))
    cold = _reply(tiny_model, ids, None)
    pool.prefill(tiny_model.runner, ids, prefix_len=prefix_len, session="a")
    assert pool.stats.prefix_misses == 1
    other, _ = _ids(tiny_model, ("user", "Any stew?"))
    warm_start = pool.prefill(tiny_model.runner, ids, prefix_len=prefix_len, session="b")
    assert pool.stats.prefix_hits == 1
    assert _reply(tiny_model, ids, warm_start) == cold
    assert other[:prefix_len] == ids[:prefix_len]


def test_session_turn_prefills_only_new_tokens(tiny_model: LoadedModel) -> None:
    """The second turn of a session starts from its own KV: only the new tokens run."""
    pool = KVPool(64 << 20)
    first, prefix_len = _ids(tiny_model, ("user", "A room?"))
    logits, kv = pool.prefill(tiny_model.runner, first, prefix_len=prefix_len, session="s")
    pool.put(("session", "s"), CachedSequence(tuple(first), kv))
    second, _ = _ids(tiny_model, ("user", "A room?"), ("assistant", "Five."),
                     ("user", "And stew?"))
    before = pool.stats.prefilled_tokens
    start = pool.prefill(tiny_model.runner, second, prefix_len=prefix_len, session="s")
    assert pool.stats.session_hits == 1
    assert pool.stats.prefilled_tokens - before == len(second) - len(first)
    assert _reply(tiny_model, second, start) == _reply(tiny_model, second, None)
    del logits


def test_changed_prefix_misses_and_lru_evicts(tiny_model: LoadedModel) -> None:
    """A different system prompt is a different key; the byte budget evicts the oldest."""
    ids, prefix_len = _ids(tiny_model, ("user", "hi"))
    one = KVPool(1 << 30)
    one.prefill(tiny_model.runner, ids, prefix_len=prefix_len, session=None)
    size = one.nbytes
    pool = KVPool(int(size * 1.5))  # room for one prefix, not two
    pool.prefill(tiny_model.runner, ids, prefix_len=prefix_len, session=None)
    changed = [*ids[: prefix_len - 2], 7, *ids[prefix_len - 1:]]
    pool.prefill(tiny_model.runner, changed, prefix_len=prefix_len, session=None)
    assert pool.stats.prefix_misses == 2
    assert pool.stats.evictions == 1
    pool.prefill(tiny_model.runner, ids, prefix_len=prefix_len, session=None)
    assert pool.stats.prefix_misses == 3  # the evicted one had to be recomputed
    assert pool.nbytes <= int(size * 1.5)


def test_drop_prefixes_keeps_sessions(tiny_model: LoadedModel) -> None:
    """Invalidation (a world reload) frees prefixes and leaves session caches alone."""
    pool = KVPool(64 << 20)
    ids, prefix_len = _ids(tiny_model, ("user", "hi"))
    _, kv = pool.prefill(tiny_model.runner, ids, prefix_len=prefix_len, session=None)
    pool.put(("session", "s"), CachedSequence(tuple(ids), kv))
    pool.drop_prefixes()
    assert ("session", "s") in pool
    assert pool.nbytes == CachedSequence(tuple(ids), kv).nbytes


def test_an_idle_session_keeps_only_what_follows_the_shared_prefix(tiny_model: LoadedModel
                                                                   ) -> None:
    """Stored behind the NPC's shared prefix, a session costs its own tokens only, and
    its next turn decodes exactly as from a cold prefill (the prefix recomputed if gone)."""
    first, prefix_len = _ids(tiny_model, ("user", "A room?"))
    second, _ = _ids(tiny_model, ("user", "A room?"), ("assistant", "Five."),
                     ("user", "And stew?"))
    cold = _reply(tiny_model, second, None)
    for evict_prefix in (False, True):
        pool = KVPool(64 << 20)
        _, kv = pool.prefill(tiny_model.runner, first, prefix_len=prefix_len, session="s")
        assert pool.has_prefix(first[:prefix_len])
        pool.keep_session("s", first, kv.copy(start=prefix_len), prefix_len)
        kept = pool.get(("session", "s"))
        assert kept is not None
        assert kept.offset == prefix_len
        assert kept.kv.length == len(first) - prefix_len
        if evict_prefix:
            pool.drop_prefixes()
        before = pool.stats.prefilled_tokens
        start = pool.prefill(tiny_model.runner, second, prefix_len=prefix_len, session="s")
        assert pool.stats.session_hits == 1
        recomputed = prefix_len if evict_prefix else 0
        assert pool.stats.prefilled_tokens - before == len(second) - len(first) + recomputed
        assert _reply(tiny_model, second, start) == cold


def test_a_kept_session_resumes_into_a_batch_row(tiny_model: LoadedModel) -> None:
    """The prefix and the session's own tokens are copied into the row, in place."""
    first, prefix_len = _ids(tiny_model, ("user", "A room?"))
    second, _ = _ids(tiny_model, ("user", "A room?"), ("assistant", "Five."),
                     ("user", "And stew?"))
    pool = KVPool(64 << 20)
    _, kv = pool.prefill(tiny_model.runner, first, prefix_len=prefix_len, session="s")
    pool.keep_session("s", first, kv.copy(start=prefix_len), prefix_len)
    row = tiny_model.runner.empty_cache(len(second) + 32)
    logits, cache = pool.prefill(tiny_model.runner, second, prefix_len=prefix_len,
                                 session="s", into=row)
    assert cache is row
    reference, _ = tiny_model.runner.forward(second, tiny_model.runner.empty_cache(
        len(second) + 32))
    np.testing.assert_allclose(logits, reference, rtol=1e-4, atol=1e-4)
