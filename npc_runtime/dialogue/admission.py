"""
Admission control: how many turns run at once, how many wait, and who is refused.

Every turn holds a decode batch row and its KV while it runs, so the number of turns in
flight is what bounds memory and what each player's latency depends on. A turn that
arrives when ``active`` turns run waits in a FIFO queue of at most ``queued`` turns for up
to ``timeout_s``; beyond the queue, or past the deadline, it is refused at once with
``OverloadedError`` (RESOURCE_EXHAUSTED on the wire) and a hint of when to retry, rather
than absorbed into memory or left to run into the client's deadline. Refusing fast keeps
the latency of admitted players what it is at ``active`` turns: excess load costs the
excess players a retry, not everyone a slowdown.

Rejected alternative: admit every turn and let the batch grow. Decode steps of a bigger
batch are slower for everyone, and on this CPU 16 rows are already past the point where
aggregate tokens/s still rises much.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator

import structlog

from npc_runtime.errors import ConfigError, OverloadedError

log = structlog.get_logger(__name__)

MIN_TURN_TOKENS = 512  # the least room per turn worth serving with (a card and a line)
_ROUND = 256  # turn sizes in whole steps, so one budget always gives the same size
_SMOOTHING = 0.2  # weight of the newest turn in the average turn time (the retry hint)


@dataclasses.dataclass(frozen=True)
class Load:
    """What a server carries at one moment (for metrics and autoscaling)."""

    active_turns: int  # decoding or waiting on the game's tool result
    queued_turns: int  # waiting for a place
    refused_turns: int  # refused with RESOURCE_EXHAUSTED since start
    kv_bytes: int  # KV held: rows being decoded, shared prefixes, idle sessions
    sessions: int  # open in this process


class TurnGate:
    """At most ``active`` turns inside; at most ``queued`` waiting, each up to ``timeout_s``."""

    def __init__(self, active: int, queued: int, timeout_s: float) -> None:
        self.active, self.queued, self.timeout_s = active, queued, timeout_s
        self._inside = 0
        self._waiting: collections.deque[asyncio.Future[None]] = collections.deque()
        self._turn_s = 1.0  # average time a turn holds its place (for the retry hint)
        self.refused = 0  # turns refused since start (for logs and metrics)

    @property
    def inside(self) -> int:
        """Turns running now."""
        return self._inside

    @property
    def waiting(self) -> int:
        """Turns in the queue now."""
        return len(self._waiting)

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """
        Hold a place for one turn for the duration of the block.

        Raises:
            OverloadedError: The queue is full, or the wait passed ``timeout_s``.
        """
        await self._enter()
        started = time.monotonic()
        try:
            yield
        finally:
            held = time.monotonic() - started
            self._turn_s += _SMOOTHING * (held - self._turn_s)
            self._leave()

    async def _enter(self) -> None:
        if self._inside < self.active and not self._waiting:
            self._inside += 1
            return
        if len(self._waiting) >= self.queued:
            self._refuse("the server is at capacity: turns running {active}, waiting "
                         "{queued}")
        place: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(place)
        try:
            await asyncio.wait_for(asyncio.shield(place), self.timeout_s)
        except TimeoutError:
            if place.done():  # admitted just as the deadline passed: take it
                return
            self._waiting.remove(place)
            self._refuse("the server is at capacity: no turn ended within {timeout} s")
        except asyncio.CancelledError:  # the caller went away while waiting
            if place.done():
                self._leave()  # it was handed our place: pass it on
            else:
                self._waiting.remove(place)
            raise

    def _leave(self) -> None:
        """Hand the place to the first waiting turn, or free it."""
        while self._waiting:
            place = self._waiting.popleft()
            if not place.done():
                place.set_result(None)  # the place passes on; ``_inside`` stays
                return
        self._inside -= 1

    def _refuse(self, reason: str) -> None:
        self.refused += 1
        # A place frees every turn time / active turns, on average; the queue is ahead.
        retry = max(0.1, self._turn_s * (len(self._waiting) + 1) / self.active)
        message = reason.format(active=self.active, queued=len(self._waiting),
                                timeout=self.timeout_s)
        log.warning("turn_refused", active=self._inside, waiting=len(self._waiting),
                    retry_after_s=round(retry, 2))
        raise OverloadedError(f"{message}; retry in {retry:.1f} s", retry_after_s=retry)


def turn_room(context: int, per_token: int, kv_cache_mb: int, active: int) -> int:
    """
    The most tokens one turn may hold (its decode batch row): the model's ``context``, or
    less, so that ``active`` turns of ``per_token`` bytes a token fit the KV budget. The
    budget bounds what the turns hold; shared prefixes and idle sessions get what the
    turns leave.

    Raises:
        ConfigError: The budget leaves a turn too little room.
    """
    fits = (kv_cache_mb << 20) // (active * per_token)
    tokens = min(context, fits // _ROUND * _ROUND)
    if tokens < MIN_TURN_TOKENS:
        raise ConfigError(
            f"NPC_KV_CACHE_MB={kv_cache_mb} leaves {fits} tokens per turn for "
            f"NPC_MAX_ACTIVE_TURNS={active} turns at {per_token} bytes a token; at least "
            f"{MIN_TURN_TOKENS} are needed: raise the first or lower the second")
    log.info("turn_room", max_active_turns=active, turn_tokens=tokens,
             kv_mb_per_turn=round(tokens * per_token / 2**20, 1))
    return tokens
