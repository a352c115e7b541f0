"""
The session registry on a shared store: two registries (two servers) on one PostgreSQL
database take turns on one session without losing a line; on a SQLite file, which has one
server, a turn reads no version, and a write over another's is still refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from npc_runtime.dialogue.sessions import Session, SessionRegistry
from npc_runtime.errors import StaleSessionError, UnknownSessionError
from npc_runtime.lore.model import WorldState
from npc_runtime.store.base import StateStore
from npc_runtime.store.postgres import PostgresStore
from npc_runtime.store.sqlite import SQLiteStore
from tests.postgres import PostgresServer

STAGE = WorldState(stages={"noises_below": "trusted"})


@pytest.fixture
def shared(postgres: PostgresServer) -> Iterator[tuple[StateStore, StateStore]]:
    """Two stores on one fresh PostgreSQL database, as two servers hold them."""
    url = postgres.new_database()
    stores = (PostgresStore(url), PostgresStore(url))
    yield stores
    for store in stores:
        store.close()


def _turn(registry: SessionRegistry, session_id: str, line: str,
          state: WorldState | None = None) -> Session:
    """A turn as the engine runs one: catch up, add the exchange, commit."""
    session = registry.get(session_id)
    registry.catch_up(session)
    session.history += [("user", line), ("assistant", f"reply to {line}")]
    registry.commit(session, "Harbor", state)
    session.from_store = False  # the engine's mark: said here
    return session


def test_two_servers_taking_turns_keep_every_line_in_order(
        shared: tuple[StateStore, StateStore]) -> None:
    """Turns alternate between the servers: each goes on from the other's last line, and
    the quest state one turn stored is the other's next."""
    one, two = SessionRegistry(8, shared[0]), SessionRegistry(8, shared[1])
    session_id = one.open("maren", "Ada", "p1").id
    lines = [f"line {i}" for i in range(6)]
    for i, line in enumerate(lines):
        _turn((one, two)[i % 2], session_id, line, STAGE if i == 1 else None)
    stored = shared[0].session(session_id)
    assert stored is not None
    assert [text for role, text in stored.history if role == "user"] == lines
    assert stored.version == 1 + len(lines)  # opened, then one write a turn
    assert shared[0].state("Harbor", "p1") == STAGE
    behind = one.get(session_id)
    assert len(behind.history) == 10  # one said the fifth line, two the sixth
    assert one.catch_up(behind)
    assert behind.history == list(stored.history)


def test_a_catch_up_with_nothing_new_reads_only_the_version(
        shared: tuple[StateStore, StateStore]) -> None:
    """The copy that wrote last is current: catching up changes nothing and does not call
    it read from the store."""
    one = SessionRegistry(8, shared[0])
    session = _turn(one, one.open("maren", "Ada").id, "Hello.")
    history = list(session.history)
    assert not one.catch_up(session)
    assert session.history == history


def test_a_write_over_another_servers_turn_is_refused_and_the_copy_reloaded(
        shared: tuple[StateStore, StateStore]) -> None:
    """Both servers hold the session; two commits a turn; one commits without catching up
    (a race): refused, nothing of it stored, and its copy is now the stored one, so the
    turn sent again lands after two's."""
    one, two = SessionRegistry(8, shared[0]), SessionRegistry(8, shared[1])
    session_id = one.open("maren", "Ada").id
    mine = one.get(session_id)
    _turn(two, session_id, "from two")
    mine.history += [("user", "from one"), ("assistant", "reply")]
    with pytest.raises(StaleSessionError, match="another server"):
        one.commit(mine, "Harbor", STAGE)
    assert shared[0].state("Harbor", session_id) == WorldState()
    assert [text for role, text in mine.history if role == "user"] == ["from two"]
    assert mine.from_store
    _turn(one, session_id, "from one")
    stored = shared[1].session(session_id)
    assert stored is not None
    assert [text for role, text in stored.history if role == "user"] == ["from two", "from one"]


def test_a_session_closed_on_another_server_is_unknown_here(
        shared: tuple[StateStore, StateStore]) -> None:
    """Two closes the session: one's next turn finds it gone and forgets its copy."""
    one, two = SessionRegistry(8, shared[0]), SessionRegistry(8, shared[1])
    session_id = one.open("maren", "Ada").id
    two.close(session_id)
    with pytest.raises(UnknownSessionError, match="closed"):
        one.catch_up(one.get(session_id))
    assert session_id not in one


def test_on_sqlite_a_turn_reads_no_version_but_a_stale_write_is_refused(
        tmp_path: Path) -> None:
    """A SQLite file has one server: its copy is trusted without a read. Two servers
    pointed at one file anyway cannot overwrite each other: the write is refused, the
    copy reloaded, and the turn sent again lands."""
    path = tmp_path / "state.sqlite3"
    stores = SQLiteStore(path), SQLiteStore(path)
    try:
        one, two = SessionRegistry(8, stores[0]), SessionRegistry(8, stores[1])
        session_id = one.open("maren", "Ada").id
        mine = one.get(session_id)
        _turn(two, session_id, "from two")
        assert not one.catch_up(mine)  # not shared: no read, the copy is trusted
        mine.history += [("user", "from one"), ("assistant", "reply")]
        with pytest.raises(StaleSessionError):
            one.commit(mine, "Harbor", None)
        _turn(one, session_id, "from one")
        stored = stores[1].session(session_id)
        assert stored is not None
        assert [t for r, t in stored.history if r == "user"] == ["from two", "from one"]
    finally:
        for store in stores:
            store.close()
