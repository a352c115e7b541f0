"""Admission control: a bounded number of turns run, a bounded queue waits, the rest are
refused at once with a retry hint."""

from __future__ import annotations

import asyncio

import pytest

from npc_runtime.dialogue.admission import TurnGate
from npc_runtime.errors import OverloadedError


async def _hold(gate: TurnGate, release: asyncio.Event, entered: list[int], i: int) -> None:
    async with gate.turn():
        entered.append(i)
        await release.wait()


def test_turns_beyond_the_queue_are_refused_at_once() -> None:
    """With one place and one queue slot, a third turn is refused without waiting."""

    async def scenario() -> None:
        gate = TurnGate(active=1, queued=1, timeout_s=30)
        release, entered = asyncio.Event(), []
        first = asyncio.create_task(_hold(gate, release, entered, 1))
        second = asyncio.create_task(_hold(gate, release, entered, 2))
        await asyncio.sleep(0.01)
        assert (gate.inside, gate.waiting) == (1, 1)
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(OverloadedError) as refused:
            async with gate.turn():
                pass
        assert loop.time() - started < 0.5
        assert refused.value.retry_after_s > 0
        assert "retry in" in str(refused.value)
        release.set()
        await asyncio.gather(first, second)
        assert entered == [1, 2]
        assert (gate.inside, gate.waiting, gate.refused) == (0, 0, 1)

    asyncio.run(scenario())


def test_a_queued_turn_is_refused_at_the_deadline() -> None:
    """A turn that waits past the queue deadline is refused and leaves the queue."""

    async def scenario() -> None:
        gate = TurnGate(active=1, queued=4, timeout_s=0.05)
        release, entered = asyncio.Event(), []
        first = asyncio.create_task(_hold(gate, release, entered, 1))
        await asyncio.sleep(0.01)
        with pytest.raises(OverloadedError):
            async with gate.turn():
                pass
        assert gate.waiting == 0
        release.set()
        await first
        async with gate.turn():  # the place is free again
            assert gate.inside == 1
        assert gate.inside == 0

    asyncio.run(scenario())


def test_a_cancelled_waiter_gives_up_its_place() -> None:
    """A client that goes away while queued neither blocks nor leaks a place."""

    async def scenario() -> None:
        gate = TurnGate(active=1, queued=4, timeout_s=30)
        release, entered = asyncio.Event(), []
        first = asyncio.create_task(_hold(gate, release, entered, 1))
        gone = asyncio.create_task(_hold(gate, release, entered, 2))
        third = asyncio.create_task(_hold(gate, release, entered, 3))
        await asyncio.sleep(0.01)
        gone.cancel()
        await asyncio.sleep(0.01)
        release.set()
        await asyncio.gather(first, third)
        assert entered == [1, 3]
        assert (gate.inside, gate.waiting) == (0, 0)

    asyncio.run(scenario())
