"""
Batched decoding: the sequences of concurrent turns share one KV buffer, one row each,
and every decode step is one forward pass for all of them.

On a CPU a decode step is dominated by reading the weights; a batch reads them once for
every row (measured here: 4 rows decode ~2.4x the tokens/s of one). Rows join after
their own prefill (one copy of their KV) and leave when their turn ends (one copy out).
Attention writes each row's new token in place, at that row's own length. A row may also
be forked from another (the drafts of one line share its prompt: one copy, no prefill),
and rows may sit a step out (a draft that waits for the others).

The buffers have a fixed size, set at construction: ``rows`` sequences of at most
``tokens`` tokens (the server derives both from its admission limit and KV budget). They
never grow: growing meant a full copy of every row (which commits every page of the new
buffers, used or not) while turns still held views of the old buffers, so under 32
concurrent turns memory rose by GBs per second. A request beyond the size raises
``BatchFullError``; admission control keeps the server from making one.
"""

from __future__ import annotations

import numpy as np

from npc_runtime.errors import BatchFullError
from npc_runtime.model import kv_tensor
from npc_runtime.model.kv_tensor import KVTensor
from npc_runtime.model.runner import CAPACITY_STEP, KVCache, OnnxCausalLM

# Default size. On a host, the buffers are a lazy mapping: zeroed memory is committed by
# the OS only when written, so unused rows and tokens cost address space, not RAM (on a
# GPU the allocation is real: ~500 MB for 16 x 2048 tokens of the default model in fp16).
ROWS = 16
TOKENS = 2048


class DecodeBatch:
    """The rows being decoded together; ``step`` runs one token for each of them."""

    def __init__(self, runner: OnnxCausalLM, rows: int = ROWS, tokens: int = TOKENS) -> None:
        self._runner = runner
        self.rows, self.tokens = rows, tokens
        template = runner.empty_cache(1).tensors
        # per past input: [rows, heads, tokens, dim]
        self._tensors: list[KVTensor] = [t.alike(rows, tokens, lazy=True) for t in template]
        self._lengths: list[int] = []  # tokens held by each row, row order
        self._reserved: list[int] = []  # tokens each row may fill (what its turn asked for)
        self._handles: list[int] = []  # row -> handle
        self._next_handle = 0

    def __len__(self) -> int:
        return len(self._lengths)

    @property
    def full(self) -> bool:
        """Whether every row is taken."""
        return len(self._lengths) >= self.rows

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
        self._check_room(rows=row + 1, tokens=tokens)
        self._lengths.append(0)
        self._reserved.append(tokens)
        self._handles.append(self._next_handle)
        self._next_handle += 1
        return self._handles[-1], KVCache([t.rows(row, row + 1) for t in self._tensors], 0)

    def sync(self, handle: int, length: int) -> None:
        """Record how many tokens a row holds: after its prefill, or to rewind it."""
        self._lengths[self._handles.index(handle)] = length

    def join(self, cache: KVCache) -> int:
        """Copy a prefilled sequence into a new row; returns its handle."""
        row = len(self._lengths)
        tokens = min(cache.length + CAPACITY_STEP, self.tokens)
        self._check_room(rows=row + 1, tokens=cache.length + 1)
        for batch, own in zip(self._tensors, cache.tensors, strict=True):
            batch.rows(row, row + 1).copy_tokens(own, cache.length)
        self._lengths.append(cache.length)
        self._reserved.append(tokens)
        self._handles.append(self._next_handle)
        self._next_handle += 1
        return self._handles[-1]

    def fork(self, handle: int) -> int:
        """A new row holding a copy of row ``handle``'s tokens, with as much room; returns
        its handle. (Copied, not shared: each row writes its own tokens after them.)"""
        source = self._handles.index(handle)
        row = len(self._lengths)
        self._check_room(rows=row + 1, tokens=self._lengths[source] + 1)
        for t in self._tensors:
            t.rows(row, row + 1).copy_tokens(t.rows(source, source + 1),
                                             self._lengths[source])
        self._lengths.append(self._lengths[source])
        self._reserved.append(self._reserved[source])
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
        self._remove(row)
        return out

    def drop(self, handle: int) -> None:
        """Remove a row and forget its tokens (a draft not chosen): nothing is copied out."""
        self._remove(self._handles.index(handle))

    def _remove(self, row: int) -> None:
        """Free ``row``; the last row moves into its place, so rows stay dense."""
        last = len(self._lengths) - 1
        for t in self._tensors:  # pages back to the OS (they read as zeros): no stale tail
            t.rows(row, row + 1).zero()
        if row != last:  # keep rows dense: the last row moves into the hole
            for t in self._tensors:  # pages move, or only its tokens are copied
                kv_tensor.move_row(t, last, row, self._lengths[last])
            self._lengths[row], self._handles[row] = self._lengths[last], self._handles[last]
            self._reserved[row] = self._reserved[last]
        self._lengths.pop()
        self._reserved.pop()
        self._handles.pop()

    @property
    def kv_bytes(self) -> int:
        """Memory the rows may occupy: each row's reserved tokens, or more if it holds more
        (what an overall KV budget should count)."""
        return self._runner.kv_bytes_per_token * sum(map(max, self._lengths, self._reserved))

    def step(self, tokens: dict[int, int]) -> dict[int, np.ndarray]:
        """
        Run one token for each row in ``tokens`` (handle -> its token). A row left out
        sits the step out: it runs a placeholder whose KV lands just past its tokens,
        where its length does not reach (its next real token overwrites it). Cheaper
        than a second pass: the weights are read once however many rows run.

        Returns:
            The next-token logits (``[vocab]``) of each handle in ``tokens``.
        """
        rows = len(self._lengths)
        if unknown := set(tokens) - set(self._handles):
            raise ValueError(f"no rows with handles {sorted(unknown)} in the batch")
        self._check_room(rows=rows, tokens=max(self._lengths) + 1)
        total = max(self._lengths) + 1
        mask = np.zeros((rows, total), dtype=np.int64)  # [rows, total]: valid past + new
        for row, length in enumerate(self._lengths):
            mask[row, : length + 1] = 1
        ids = [[tokens.get(handle, 0)] for handle in self._handles]  # [rows, 1]
        logits = self._runner.forward_rows(ids, mask, [t.rows(0, rows) for t in self._tensors])
        self._lengths = [length + (handle in tokens)
                         for length, handle in zip(self._lengths, self._handles, strict=True)]
        return {handle: logits[row] for row, handle in enumerate(self._handles)
                if handle in tokens}

    def _check_room(self, rows: int, tokens: int) -> None:
        """Raise BatchFullError unless ``rows`` rows of ``tokens`` tokens fit."""
        if rows > self.rows or tokens > self.tokens:
            raise BatchFullError(
                f"the decode batch holds {self.rows} rows of {self.tokens} tokens; asked for "
                f"row {rows} with {tokens} tokens")
