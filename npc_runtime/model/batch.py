"""
Batched decoding: the sequences of concurrent turns share one KV buffer, one row each,
and every decode step is one forward pass for all of them.

On a CPU a decode step is dominated by reading the weights; a batch reads them once for
every row (measured here: 4 rows decode ~2.4x the tokens/s of one). Rows join after
their own prefill (one copy of their KV) and leave when their turn ends (one copy out).
Attention writes each row's new token in place, at that row's own length.
"""

from __future__ import annotations

import numpy as np

from npc_runtime.model import kv_tensor
from npc_runtime.model.kv_tensor import KVTensor
from npc_runtime.model.runner import CAPACITY_STEP, KVCache, OnnxCausalLM

# The buffers are allocated at this size up front: on a host, zeroed memory is only
# committed by the OS when written, so unused rows and tokens cost address space, not RAM
# (on a GPU the allocation is real, ~300 MB for the default model in fp16), and growing
# (a full copy, with both copies resident for a moment) is left for the rare overflow.
ROWS = 16
TOKENS = 2048


class DecodeBatch:
    """The rows being decoded together; ``step`` runs one token for each of them."""

    def __init__(self, runner: OnnxCausalLM) -> None:
        self._runner = runner
        self._tensors: list[KVTensor] = []  # per past input: [row_capacity, heads, tokens, dim]
        self._lengths: list[int] = []  # tokens held by each row, row order
        self._handles: list[int] = []  # row -> handle
        self._next_handle = 0

    def __len__(self) -> int:
        return len(self._lengths)

    @property
    def nbytes(self) -> int:
        """Memory held by the batch buffers."""
        return sum(t.nbytes for t in self._tensors)

    def reserve(self, tokens: int) -> tuple[int, KVCache]:
        """
        A new empty row with room for ``tokens``; returns its handle and a cache that
        views the row, for the sequence's prefill to write into directly (no copy later).
        The view is valid until the next ``reserve``/``join`` (which may grow the buffers);
        ``step`` reads the row's length from ``sync``.
        """
        row = len(self._lengths)
        self._reserve(rows=row + 1, tokens=tokens)
        self._lengths.append(0)
        self._handles.append(self._next_handle)
        self._next_handle += 1
        return self._handles[-1], KVCache([t.rows(row, row + 1) for t in self._tensors], 0)

    def sync(self, handle: int, length: int) -> None:
        """Record how many tokens a row holds: after its prefill, or to rewind it."""
        self._lengths[self._handles.index(handle)] = length

    def join(self, cache: KVCache) -> int:
        """Copy a prefilled sequence into a new row; returns its handle."""
        row = len(self._lengths)
        self._reserve(rows=row + 1, tokens=cache.length + 1)
        for batch, own in zip(self._tensors, cache.tensors, strict=True):
            batch.rows(row, row + 1).copy_tokens(own, cache.length)
        self._lengths.append(cache.length)
        self._handles.append(self._next_handle)
        self._next_handle += 1
        return self._handles[-1]

    def leave(self, handle: int, skip: int = 0) -> KVCache:
        """Remove a row; returns its sequence from token ``skip`` on as a cache of its own
        (``skip``: a shared prefix kept elsewhere, not copied again)."""
        row = self._handles.index(handle)
        length = self._lengths[row]
        # Copied out into its own mapping: it may idle in the KV pool for a while, and when
        # evicted its memory goes back to the OS. A whole sequence gets room for the next
        # turn; one without its prefix is copied into a row again when the turn comes.
        room = length + CAPACITY_STEP if skip == 0 else 0
        out = KVCache([t.rows(row, row + 1) for t in self._tensors], length).copy(
            room, lazy=True, start=min(skip, length))
        last = len(self._lengths) - 1
        if row != last:  # keep rows dense: the last row moves into the hole
            for t in self._tensors:  # pages move, or only its tokens are copied
                kv_tensor.move_row(t, last, row, self._lengths[last])
            self._lengths[row], self._handles[row] = self._lengths[last], self._handles[last]
        else:
            for t in self._tensors:
                t.rows(last, last + 1).zero()  # pages back to the OS; they read as zeros
        self._lengths.pop()
        self._handles.pop()
        return out

    @property
    def kv_bytes(self) -> int:
        """Memory the rows' tokens occupy (what an overall KV budget should count)."""
        if not self._tensors:
            return 0
        per_token = sum(t.nbytes // (t.shape[0] * t.shape[2]) for t in self._tensors)
        return int(per_token * sum(self._lengths))

    def step(self, tokens: dict[int, int]) -> dict[int, np.ndarray]:
        """
        Run one token for every row (``tokens`` maps each handle to its token).

        Returns:
            Each handle's next-token logits (``[vocab]``).
        """
        rows = len(self._lengths)
        if set(tokens) != set(self._handles):
            raise ValueError("every row of the batch steps together")
        self._reserve(rows=rows, tokens=max(self._lengths) + 1)
        total = max(self._lengths) + 1
        mask = np.zeros((rows, total), dtype=np.int64)  # [rows, total]: valid past + new
        for row, length in enumerate(self._lengths):
            mask[row, : length + 1] = 1
        ids = [[tokens[handle]] for handle in self._handles]  # [rows, 1]
        logits = self._runner.forward_rows(ids, mask, [t.rows(0, rows) for t in self._tensors])
        self._lengths = [length + 1 for length in self._lengths]
        return {handle: logits[row] for row, handle in enumerate(self._handles)}

    def _reserve(self, rows: int, tokens: int) -> None:
        """Make room, growing (one full copy) only past the up-front size."""
        have_rows = self._tensors[0].shape[0] if self._tensors else 0
        have_tokens = self._tensors[0].shape[2] if self._tensors else 0
        if rows <= have_rows and tokens <= have_tokens:
            return
        new_rows = max(have_rows, ROWS, rows)
        new_tokens = max(have_tokens, TOKENS, tokens + CAPACITY_STEP)
        template = self._runner.empty_cache(1).tensors
        grown = [t.alike(new_rows, new_tokens, lazy=True) for t in template]
        for new, old in zip(grown, self._tensors, strict=False):
            new.rows(0, have_rows).copy_tokens(old, have_tokens)
        self._tensors = grown
