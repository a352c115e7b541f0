"""
The store written once over SQL: the statements, the JSON each row holds, and what every
operation reads and writes. A backend (``sqlite.py``, ``postgres.py``) supplies only a
transaction and the meaning of its failures, so the two cannot drift apart in what they
store or how they encode it.

Statements use ``?`` placeholders (SQLite's); the PostgreSQL backend turns them into
psycopg's ``%s``. Both engines speak ``INSERT ... ON CONFLICT ... DO UPDATE``.
"""

from __future__ import annotations

import abc
import contextlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from npc_runtime.errors import StaleSessionError, UnknownSessionError
from npc_runtime.lore.model import WorldState
from npc_runtime.store.base import Fleet, SessionRecord

SELECT_STATE = "SELECT state FROM player_state WHERE world = ? AND player = ?"
UPSERT_STATE = (
    "INSERT INTO player_state (world, player, state, updated) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (world, player) DO UPDATE SET state = excluded.state, "
    "updated = excluded.updated")
DELETE_STATE = "DELETE FROM player_state WHERE world = ? AND player = ?"
SELECT_SESSION = ("SELECT id, npc, player, player_name, history, owner, proposal, version "
                  "FROM session WHERE id = ?")
SELECT_VERSION = "SELECT version FROM session WHERE id = ?"
# Sessions are written with optimistic concurrency (see ``StateStore``): a new one only
# where its id is free, a later write only over the version it read. ``rowcount`` says
# whether it landed. The owner is set when a session opens and never changes.
INSERT_SESSION = (
    "INSERT INTO session (id, npc, player, player_name, history, updated, owner, proposal, "
    "version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1) ON CONFLICT (id) DO NOTHING")
UPDATE_SESSION = (
    "UPDATE session SET history = ?, updated = ?, proposal = ?, version = version + 1 "
    "WHERE id = ? AND version = ?")
DELETE_SESSION = "DELETE FROM session WHERE id = ?"


class Rows(Protocol):
    """What a statement returns: its rows, one at a time, or how many rows it changed."""

    @property
    def rowcount(self) -> int:
        """Rows an INSERT, UPDATE or DELETE changed."""
        ...

    def fetchone(self) -> Any:
        """The next row as a tuple, or None."""
        ...

    def fetchall(self) -> list[Any]:
        """The remaining rows, as tuples."""
        ...


class Executor(Protocol):
    """A connection inside a transaction, as the shared code uses it."""

    def execute(self, sql: str, params: Sequence[Any] = (), /) -> Rows:
        """Run one statement with ``?`` placeholders."""
        ...


class SQLStore(abc.ABC):
    """
    The ``StateStore`` operations over any SQL backend; a subclass says how a
    transaction runs (``_transaction``), closes the database, and whether other servers
    may share it (``shared``).
    """

    shared: bool  # whether other servers may write the database (``StateStore.shared``)
    fleet: Fleet | None  # how replicas on it reach one another (``StateStore.fleet``)

    @abc.abstractmethod
    def _transaction(self) -> AbstractContextManager[Executor]:
        """
        One transaction: committed when the block ends, rolled back when it raises.

        Raises:
            ConfigError: Any failure of the database or of a row's contents, translated
                with what to do.
        """

    @abc.abstractmethod
    def close(self) -> None:
        """Release the database (every change is already committed)."""

    _on_done: Callable[[str, float], None] | None = None

    def observe(self, on_done: Callable[[str, float], None]) -> None:
        """Report each operation's time as ``on_done(operation, seconds)`` (the server's
        metrics); a read the SQLite store answers from memory is no operation."""
        self._on_done = on_done

    @contextlib.contextmanager
    def _timed(self, operation: str) -> Iterator[Executor]:
        """``_transaction``, timed for ``observe`` (failures included: a slow failing
        database is what an operator needs to see)."""
        started = time.perf_counter()
        try:
            with self._transaction() as db:
                yield db
        finally:
            if self._on_done is not None:
                self._on_done(operation, time.perf_counter() - started)

    def state(self, world: str, player: str) -> WorldState:
        """
        The player's quest state in ``world`` (nothing started if never saved).

        Raises:
            ConfigError: The database cannot be read, or the row is damaged.
        """
        with self._timed("state") as db:
            row = db.execute(SELECT_STATE, (world, player)).fetchone()
            return state_from_json(row[0]) if row else WorldState()

    def set_state(self, world: str, player: str, state: WorldState) -> None:
        """Replace the player's quest state (validate it against the world first)."""
        with self._timed("set_state") as db:
            db.execute(UPSERT_STATE, (world, player, state_to_json(state), time.time()))

    def commit_turn(self, world: str, player: str, state: WorldState | None,
                    session: SessionRecord) -> int:
        """
        Store what a turn changed in one transaction: the player's quest state (unless
        None: the turn changed none) and the session with its history. Either both are
        stored or neither is.

        Returns:
            The session's new version.

        Raises:
            StaleSessionError: Another server wrote the session since ``session.version``
                (nothing of the turn is stored).
            UnknownSessionError: The session was closed meanwhile (nothing is stored).
            ConfigError: The write failed (nothing of it is stored).
        """
        now = time.time()
        with self._timed("commit_turn") as db:
            version = write_session(db, session, now)  # first: a refusal writes nothing
            if state is not None:
                db.execute(UPSERT_STATE, (world, player, state_to_json(state), now))
            return version

    def forget(self, world: str, player: str) -> None:
        """Drop a player's quest state (e.g. the scratch players of tree generation)."""
        with self._timed("forget") as db:
            db.execute(DELETE_STATE, (world, player))

    def save_session(self, record: SessionRecord) -> int:
        """
        Create a session (``record.version`` 0) or update it (the version it was read at).

        Returns:
            The session's new version.

        Raises:
            StaleSessionError: The stored session is not at ``record.version``.
            UnknownSessionError: An update of a session that was closed.
            ConfigError: The write failed.
        """
        with self._timed("save_session") as db:
            return write_session(db, record, time.time())

    def session(self, session_id: str) -> SessionRecord | None:
        """
        A stored session, or None.

        Raises:
            ConfigError: The database cannot be read, or the row is damaged.
        """
        with self._timed("session") as db:
            row = db.execute(SELECT_SESSION, (session_id,)).fetchone()
            return None if row is None else session_from_row(row)

    def session_version(self, session_id: str) -> int | None:
        """
        A stored session's version (one primary-key read), or None if there is none.

        Raises:
            ConfigError: The database cannot be read.
        """
        with self._timed("session_version") as db:
            row = db.execute(SELECT_VERSION, (session_id,)).fetchone()
            return None if row is None else int(row[0])

    def delete_session(self, session_id: str) -> None:
        """Forget a session (its player's quest state stays)."""
        with self._timed("delete_session") as db:
            db.execute(DELETE_SESSION, (session_id,))


def write_session(db: Executor, record: SessionRecord, now: float) -> int:
    """
    Write a session in the caller's transaction, only over the version it was read at;
    returns its new version.

    Raises:
        StaleSessionError: The stored row is at another version (for a new session: the
            id is taken); the caller's transaction is then rolled back.
        UnknownSessionError: There is no row to update: the session was closed.
    """
    history = json.dumps([list(m) for m in record.history])
    if record.version == 0:
        written = db.execute(INSERT_SESSION, (
            record.id, record.npc_id, record.player_id, record.player_name, history, now,
            record.owner, record.proposal)).rowcount
    else:
        written = db.execute(UPDATE_SESSION, (history, now, record.proposal, record.id,
                                              record.version)).rowcount
    if written == 1:
        return record.version + 1
    if record.version and db.execute(SELECT_VERSION, (record.id,)).fetchone() is None:
        raise UnknownSessionError(f"session {record.id!r} was closed (on another server); "
                                  "open a new one with OpenSession")
    raise StaleSessionError(
        f"session {record.id!r} moved on on another server (it served a turn of it "
        "meanwhile); this turn was not kept: send it again")


# ---- The JSON in the rows: one encoding for every backend. A value that does not decode
# raises ValueError or TypeError, which each backend reports as a damaged row.

def state_to_json(state: WorldState) -> str:
    """A quest state as stored (sorted, so equal states are equal text)."""
    return json.dumps({"stages": dict(state.stages), "revealed": sorted(state.revealed),
                       "items": sorted(state.player_items)})


def state_from_json(text: str) -> WorldState:
    """A stored quest state; ValueError when it is not one."""
    raw = json.loads(text)  # a JSONDecodeError is a ValueError
    if not isinstance(raw, dict):
        raise ValueError(f"a quest state is {type(raw).__name__}, not an object")
    return WorldState(stages=dict(raw.get("stages", {})),
                      revealed=frozenset(raw.get("revealed", [])),
                      player_items=frozenset(raw.get("items", [])))


def session_from_row(row: Sequence[Any]) -> SessionRecord:
    """A session from the columns of ``SELECT_SESSION``; ValueError or TypeError if damaged."""
    history = tuple((str(role), str(text)) for role, text in json.loads(row[4]))
    return SessionRecord(row[0], row[1], row[2], row[3], history, row[5], row[6], int(row[7]))
