"""
KV reuse: a byte-bounded LRU of attention caches, and the choice of where a prompt's
prefill can start.

Two kinds of entries share one budget: *prefixes* (the KV of a system prompt, keyed by
its token ids, so every session of an NPC at one stage of one world version shares it;
a changed world or stage changes the tokens, hence the key) and *sessions* (the KV of a
conversation so far, so a turn only prefills its new tokens). An idle session keeps only
the tokens after its NPC's shared prefix: a dozen sessions of one NPC hold the prefix
once, not a dozen times. Eviction only costs time: an evicted entry is recomputed on next
use.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import threading
from collections.abc import Callable, Sequence

import numpy as np

from npc_runtime.model.runner import KVCache, OnnxCausalLM

HEADROOM = 128  # tokens of room beyond the prompt, for the reply, before buffers must grow


@dataclasses.dataclass(frozen=True)
class CachedSequence:
    """
    Token ids and the KV computed for them: for all of them, or (``offset`` > 0) for
    those after the first ``offset``, which the shared prefix of ``ids[:offset]`` holds.
    """

    ids: tuple[int, ...]
    kv: KVCache
    offset: int = 0

    @property
    def nbytes(self) -> int:
        """Memory held by the KV buffers."""
        return self.kv.nbytes


@dataclasses.dataclass
class PoolStats:
    """Counters for tests, logs and benchmarks."""

    prefix_hits: int = 0
    prefix_misses: int = 0
    session_hits: int = 0
    evictions: int = 0
    reused_tokens: int = 0
    prefilled_tokens: int = 0


class KVPool:
    """LRU over prefix and session caches, bounded by ``budget_bytes``."""

    def __init__(self, budget_bytes: int, held_elsewhere: Callable[[], int] = lambda: 0
                 ) -> None:
        self._budget = budget_bytes
        # KV living outside the pool (decode batch rows) counts against the same budget.
        self._held_elsewhere = held_elsewhere
        self._entries: collections.OrderedDict[tuple[str, str], CachedSequence] = (
            collections.OrderedDict())
        self._bytes = 0
        self._lock = threading.Lock()  # the generation worker and the event loop both call in
        self.stats = PoolStats()

    @property
    def nbytes(self) -> int:
        """Bytes held now."""
        return self._bytes

    def __contains__(self, key: tuple[str, str]) -> bool:
        return key in self._entries

    def put(self, key: tuple[str, str], entry: CachedSequence) -> None:
        """Store (or replace) an entry, evicting least recently used ones to fit."""
        self.drop(key)
        if entry.nbytes > self._budget:
            return  # larger than the whole pool: not worth keeping
        with self._lock:
            self._entries[key] = entry
            self._bytes += entry.nbytes
        self.trim()

    def trim(self) -> None:
        """Evict least recently used entries until the pool and what is held elsewhere
        (turns' batch rows, which may just have grown) fit the budget."""
        with self._lock:
            while self._entries and self._bytes + self._held_elsewhere() > self._budget:
                _, old = self._entries.popitem(last=False)
                self._bytes -= old.nbytes
                self.stats.evictions += 1

    def get(self, key: tuple[str, str]) -> CachedSequence | None:
        """The entry, marked as recently used; None if absent or evicted."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def drop(self, key: tuple[str, str]) -> None:
        """Forget an entry (a closed session, a cancelled turn)."""
        self.take(key)

    def take(self, key: tuple[str, str]) -> CachedSequence | None:
        """Remove and return an entry: its caller now owns (and may write) its KV."""
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            return old

    def has_prefix(self, ids: Sequence[int]) -> bool:
        """Whether the shared prefix of ``ids`` is cached now."""
        return ("prefix", _digest(ids)) in self

    def keep_session(self, session: str, ids: Sequence[int], kv: KVCache, offset: int = 0
                     ) -> None:
        """
        Keep a finished turn's KV for the session's next turn: ``kv`` holds the tokens
        ``ids[offset:]``; the first ``offset`` are a shared prefix's (see ``has_prefix``).
        """
        self.put(("session", session), CachedSequence(tuple(ids), kv, offset))

    def drop_prefixes(self) -> None:
        """Forget every prefix (e.g. after a world reload); sessions keep theirs."""
        for key in [k for k in list(self._entries) if k[0] == "prefix"]:
            self.drop(key)

    def prefill(self, runner: OnnxCausalLM, ids: Sequence[int], *, prefix_len: int,
                session: str | None, into: KVCache | None = None
                ) -> tuple[np.ndarray, KVCache]:
        """
        Run the prompt ``ids`` reusing the most KV available; return the next-token logits
        and the cache covering ``ids``.

        Reuse comes from the session's own cache (longest common prefix of token ids,
        behind its shared prefix if it was kept without it) or from the shared prefix
        cache for ``ids[:prefix_len]``, whichever covers more. A prefix that is missing is
        computed and stored first, for the next session. A session's whole cache is taken
        out of the pool and extended in place (the caller keeps it again when the turn
        completes; a failed or cancelled turn just drops it); a shared prefix is copied,
        never written. With ``into`` (a decode batch row), the reused tokens are copied
        there and the prefill writes there.
        """
        parts: list[tuple[KVCache, int]] = []  # sources of the reused tokens, in order
        covered = 0
        mine = self.take(("session", session)) if session is not None else None
        self.trim()  # a turn just reserved its row: make room for it
        if mine is not None and (common := _common_prefix(mine.ids, ids)) > mine.offset:
            self.stats.session_hits += 1
            covered = common
            if mine.offset:
                parts.append((self.shared_prefix(runner, mine.ids[:mine.offset]).kv, 0))
            parts.append((mine.kv, mine.offset))
        if 0 < prefix_len <= len(ids) and covered < prefix_len:
            parts = [(self.shared_prefix(runner, ids[:prefix_len]).kv, 0)]
            covered = prefix_len
        covered = min(covered, len(ids) - 1)  # at least one token must run to get logits
        if into is not None:  # e.g. a decode batch row
            start = into
        elif mine is not None and parts == [(mine.kv, 0)]:
            start, parts = mine.kv, []  # our own whole cache: extended in place
        else:
            start = runner.empty_cache(len(ids) + HEADROOM)
        bounds = [at for _, at in parts[1:]] + [covered] if parts else []
        for (source, at), end in zip(parts, bounds, strict=True):
            for target, tensor in zip(start.tensors, source.tensors, strict=True):
                target.copy_tokens(tensor, max(0, min(end, covered) - at), at=at)
        start.length = covered
        self.stats.reused_tokens += covered
        self.stats.prefilled_tokens += len(ids) - covered
        return runner.forward(ids[covered:], start)


    def shared_prefix(self, runner: OnnxCausalLM, ids: Sequence[int]) -> CachedSequence:
        """The cached KV of ``ids`` as a shared prefix, computed and stored on a miss."""
        key = ("prefix", _digest(ids))
        shared = self.get(key)
        if shared is not None:
            self.stats.prefix_hits += 1
            return shared
        self.stats.prefix_misses += 1
        # Written once, here; then batch rows map its pages rather than copy them.
        _, kv = runner.forward(ids, runner.empty_cache(len(ids), shareable=True))
        self.stats.prefilled_tokens += len(ids)
        shared = CachedSequence(tuple(ids), kv)
        self.put(key, shared)
        return shared


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def _digest(ids: Sequence[int]) -> str:
    return hashlib.blake2b(np.asarray(ids, dtype=np.int64).tobytes(), digest_size=16).hexdigest()
