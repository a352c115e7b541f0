"""Shared prefix pages: rows map them copy-on-write and behave exactly like copies."""

from __future__ import annotations

import gc
import sys
from pathlib import Path

import numpy as np
import pytest

from npc_runtime.model import host_memory
from npc_runtime.model.batch import DecodeBatch
from npc_runtime.model.generate import Generation, SamplingParams
from npc_runtime.model.kv_pool import KVPool
from npc_runtime.model.kv_tensor import HostTensor
from npc_runtime.model.loader import LoadedModel

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="memory files are Linux's")

HEADS, DIM = 2, 16  # the tiny model's: 64 bytes a token, 64 tokens a page
# Long enough to span several pages of every (row, head) run, with a partial page after.
SYSTEM = [("system", "You keep an inn by the sea. Rooms cost five coppers, stew two. " * 12)]
LINES = ["A room?", "Any stew tonight, and how much is it?", "Bell?"]


def _lent() -> int:
    """Private views of our memory files mapped in this process now."""
    maps = Path("/proc/self/maps").read_text().splitlines()
    return sum(1 for line in maps if "memfd:npc-kv" in line and line.split()[1] == "rw-p")


def _prefix(tokens: int) -> HostTensor:
    prefix = HostTensor.zeros((1, HEADS, 256, DIM), np.float32, shareable=True)
    values = np.random.default_rng(0).standard_normal((1, HEADS, tokens, DIM))
    prefix.array[:, :, :tokens] = values
    return prefix


def _rows(rows: int = 4) -> HostTensor:
    return HostTensor.zeros((rows, HEADS, 2048, DIM), np.float32, lazy=True)


def test_a_row_reads_the_prefix_it_shares_and_zeros_after_it() -> None:
    prefix, rows = _prefix(200), _rows()
    before = _lent()
    row = rows.rows(1, 2)
    row.copy_tokens(prefix, 200)
    assert _lent() == before + HEADS  # three whole pages of each head's run are mapped
    np.testing.assert_array_equal(row.numpy()[:, :, :200], prefix.numpy()[:, :, :200])
    assert not row.numpy()[:, :, 200:].any()
    assert not rows.rows(0, 1).numpy().any()
    assert not rows.rows(2, 4).numpy().any()


def test_writing_a_row_changes_neither_the_prefix_nor_another_row() -> None:
    prefix, rows = _prefix(200), _rows()
    expected = prefix.numpy().copy()
    first, second = rows.rows(0, 1), rows.rows(1, 2)
    first.copy_tokens(prefix, 200)
    second.copy_tokens(prefix, 200)
    first.array[:, :, :200] = -1.0  # over the shared pages: each written page goes private
    np.testing.assert_array_equal(prefix.numpy(), expected)
    np.testing.assert_array_equal(second.numpy()[:, :, :200], expected[:, :, :200])
    assert (first.numpy()[:, :, :200] == -1.0).all()


def test_a_released_row_reads_zeros_and_can_share_again() -> None:
    prefix, rows = _prefix(200), _rows()
    before = _lent()
    row = rows.rows(2, 3)
    row.copy_tokens(prefix, 200)
    row.array[:, :, 190:200] = 5.0
    row.zero()
    assert _lent() == before  # zeroing gives the shared pages back, not the file's values
    assert not rows.numpy().any()
    row.copy_tokens(prefix, 130)
    np.testing.assert_array_equal(row.numpy()[:, :, :130], prefix.numpy()[:, :, :130])
    assert not row.numpy()[:, :, 130:].any()


def test_a_moved_row_keeps_its_values_and_its_shared_pages() -> None:
    prefix, rows = _prefix(200), _rows()
    last = rows.rows(3, 4)
    last.copy_tokens(prefix, 200)
    last.array[:, :, 200:230] = 3.0  # its own tokens, after the prefix
    rows.rows(1, 2).copy_tokens(prefix, 150)  # the hole it fills held another sequence
    rows.array[1, :, 150:170] = 9.0
    expected = last.numpy().copy()
    lent = _lent()
    assert rows.move_row(3, 1, 230)
    np.testing.assert_array_equal(rows.rows(1, 2).numpy(), expected)
    assert not rows.rows(3, 4).numpy().any()
    assert _lent() == lent - HEADS  # the hole's views went; the moved row's stayed lent
    # Shared twice without a release in between, the row's mappings no longer match what
    # a move expects: it copies instead, with the same result.
    rows.rows(2, 3).copy_tokens(prefix, 200)
    rows.rows(2, 3).copy_tokens(prefix, 100)
    expected = rows.rows(2, 3).numpy().copy()
    assert rows.move_row(2, 0, 200)
    np.testing.assert_array_equal(rows.rows(0, 1).numpy(), expected)
    assert not rows.rows(2, 3).numpy().any()


def test_a_row_keeps_its_prefix_after_the_prefix_is_gone() -> None:
    prefix, rows = _prefix(200), _rows()
    expected = prefix.numpy()[:, :, :200].copy()
    row = rows.rows(0, 1)
    row.copy_tokens(prefix, 200)
    del prefix  # evicted: its mapping and descriptor close; the row's view keeps the file
    gc.collect()
    np.testing.assert_array_equal(row.numpy()[:, :, :200], expected)


def test_unaligned_or_unshareable_buffers_are_copied(monkeypatch: pytest.MonkeyPatch) -> None:
    before = _lent()
    odd = HostTensor.zeros((1, HEADS, 100, DIM), np.float32, lazy=True)  # runs not page-sized
    odd.copy_tokens(_prefix(80), 80)
    eager = HostTensor.zeros((1, HEADS, 2048, DIM), np.float32)  # not a mapping of ours
    eager.copy_tokens(_prefix(80), 80)
    assert _lent() == before
    monkeypatch.setattr(host_memory.MemoryFile, "available", staticmethod(lambda: False))
    plain = _prefix(200)  # where memory files are missing: an ordinary tensor
    row = _rows(1)
    row.copy_tokens(plain, 200)
    assert _lent() == before
    np.testing.assert_array_equal(row.numpy()[:, :, :200], plain.numpy()[:, :, :200])


def test_a_row_that_cannot_map_more_pages_gets_a_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    prefix, rows = _prefix(200), _rows()
    mapped = []
    share = host_memory.map_pages

    def first_only(address: int, size: int, source: host_memory.MemoryFile,
                   offset: int) -> None:
        if mapped:
            raise OSError(12, "out of mappings")
        mapped.append(address)
        share(address, size, source, offset)

    monkeypatch.setattr(host_memory, "map_pages", first_only)
    row = rows.rows(0, 1)
    row.copy_tokens(prefix, 200)
    np.testing.assert_array_equal(row.numpy()[:, :, :200], prefix.numpy()[:, :, :200])
    assert not row.numpy()[:, :, 200:].any()


def _prompts(model: LoadedModel) -> tuple[list[list[int]], int]:
    tok = model.tokenizer
    prefix = tok.encode(tok.render(SYSTEM, add_generation_prompt=False))
    return [tok.encode_chat([*SYSTEM, ("user", line)]) for line in LINES], len(prefix)


def test_rows_sharing_a_prefix_decode_exactly_as_alone(tiny_model: LoadedModel) -> None:
    """Greedy tokens from rows that map the prefix equal solo decoding, also after a row
    leaves (the last row moves into its place), and after the prefix is evicted."""
    runner, steps = tiny_model.runner, 10
    prompts, prefix_len = _prompts(tiny_model)
    assert prefix_len > 3 * 64  # several shared pages per run
    solo = [list(Generation(runner, p, SamplingParams(max_new_tokens=steps), frozenset()))
            for p in prompts]
    pool, batch = KVPool(64 << 20), DecodeBatch(runner)
    before = _lent()
    logits, handles = {}, []
    for prompt in prompts:
        handle, row = batch.reserve(len(prompt) + steps)
        first, cache = pool.prefill(runner, prompt, prefix_len=prefix_len, session=None,
                                    into=row)
        batch.sync(handle, cache.length)
        logits[handle] = first
        handles.append(handle)
    assert pool.stats.prefix_hits == len(prompts) - 1
    assert _lent() > before
    pool.drop_prefixes()  # evicted while its pages are mapped into live rows
    gc.collect()
    got: dict[int, list[int]] = {h: [] for h in handles}
    for step in range(steps):
        tokens = {h: int(np.argmax(lg)) for h, lg in logits.items()}
        for h, t in tokens.items():
            got[h].append(t)
        if step == 3:  # the first row leaves and finishes alone
            left = batch.leave(handles[0])
            alone = tokens.pop(handles[0])
            for _ in range(steps - step - 1):
                first, left = runner.forward([alone], left)
                alone = int(np.argmax(first))
                got[handles[0]].append(alone)
        if step + 1 < steps:
            logits = batch.step(tokens)
    assert [got[h] for h in handles] == solo
    for handle in handles[1:]:
        batch.leave(handle)
    assert _lent() == before  # released rows hold no shared pages
