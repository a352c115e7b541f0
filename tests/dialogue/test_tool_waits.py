"""
A turn's wait for the game's answer (``dialogue/tool_waits.py``): in-process on SQLite,
and across replicas on PostgreSQL, where an answer received by one server wakes the turn
waiting on another (from the store's listener thread, onto the turn's event loop).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from npc_runtime.dialogue.tool_waits import ToolWaits
from npc_runtime.errors import NotFoundError
from npc_runtime.store.postgres import PostgresStore
from npc_runtime.store.sqlite import SQLiteStore
from tests.postgres import PostgresServer

NOT_FOUND = "no call 'call-1' is waiting in session 's1'"


def test_on_sqlite_an_answer_wakes_the_turn_once(tmp_path: Path) -> None:
    """One server: the answer resolves the wait in-process; a second answer, or one
    naming another session, is NOT_FOUND as before."""
    store = SQLiteStore(tmp_path / "state.sqlite3")
    waits = ToolWaits(store, timeout_s=5.0)

    async def turn() -> tuple[str, str]:
        waits.open("call-1", "s1")
        with pytest.raises(NotFoundError, match=NOT_FOUND.replace("'s1'", "'s2'")):
            waits.answer("s2", "call-1", "{}", "")
        waits.answer("s1", "call-1", '{"ok": true}', "")
        with pytest.raises(NotFoundError, match=f"{NOT_FOUND}.*timed out after 5.0 s"):
            waits.answer("s1", "call-1", "{}", "")
        return await waits.wait("call-1")

    assert asyncio.run(turn()) == ('{"ok": true}', "")
    store.close()


def test_on_sqlite_an_unanswered_call_times_out_and_then_refuses(tmp_path: Path) -> None:
    """The timeout ends the wait; an answer after it is NOT_FOUND."""
    store = SQLiteStore(tmp_path / "state.sqlite3")
    waits = ToolWaits(store, timeout_s=0.1)

    async def turn() -> None:
        waits.open("call-1", "s1")
        with pytest.raises(TimeoutError):
            await waits.wait("call-1")
        with pytest.raises(NotFoundError, match=NOT_FOUND):
            waits.answer("s1", "call-1", "{}", "")

    asyncio.run(turn())
    store.close()


def test_an_answer_through_another_replica_wakes_the_waiting_turn(
        postgres: PostgresServer) -> None:
    """Replica a's turn waits; the game answers through replica b; a's turn goes on with
    the answer, and answering again through either is NOT_FOUND."""
    url = postgres.new_database()
    store_a, store_b = PostgresStore(url), PostgresStore(url)
    a, b = ToolWaits(store_a, timeout_s=10.0), ToolWaits(store_b, timeout_s=10.0)
    assert store_a.fleet.listener.connected.wait(10)

    async def turn() -> tuple[str, str]:
        a.open("call-1", "s1")
        waiting = asyncio.create_task(a.wait("call-1"))
        await asyncio.sleep(0.05)
        b.answer("s1", "call-1", '{"given": "room_key"}', "")
        answer = await asyncio.wait_for(waiting, 5)
        for replica in (a, b):
            with pytest.raises(NotFoundError, match=NOT_FOUND):
                replica.answer("s1", "call-1", "{}", "")
        return answer

    assert asyncio.run(turn()) == ('{"given": "room_key"}', "")
    store_a.close()
    store_b.close()


def test_an_interrupted_wait_refuses_a_late_answer_on_every_replica(
        postgres: PostgresServer) -> None:
    """The player spoke again: the wait ends with that error, its row is gone, and the
    game's answer that comes after is NOT_FOUND wherever it arrives."""
    url = postgres.new_database()
    store_a, store_b = PostgresStore(url), PostgresStore(url)
    a, b = ToolWaits(store_a, timeout_s=10.0), ToolWaits(store_b, timeout_s=10.0)

    async def turn() -> tuple[str, str]:
        a.open("call-1", "s1")
        waiting = asyncio.create_task(a.wait("call-1"))
        await asyncio.sleep(0.05)
        a.interrupt("s1", "the player spoke again")
        answer = await waiting
        for replica in (a, b):
            with pytest.raises(NotFoundError, match=NOT_FOUND):
                replica.answer("s1", "call-1", "{}", "")
        return answer

    assert asyncio.run(turn()) == ("", "the player spoke again")
    store_a.close()
    store_b.close()
