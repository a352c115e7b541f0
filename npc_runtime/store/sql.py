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
import json
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from npc_runtime.lore.model import WorldState
from npc_runtime.store.base import SessionRecord

SELECT_STATE = "SELECT state FROM player_state WHERE world = ? AND player = ?"
UPSERT_STATE = (
    "INSERT INTO player_state (world, player, state, updated) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (world, player) DO UPDATE SET state = excluded.state, "
    "updated = excluded.updated")
DELETE_STATE = "DELETE FROM player_state WHERE world = ? AND player = ?"
SELECT_SESSION = ("SELECT id, npc, player, player_name, history, owner, proposal FROM session "
                  "WHERE id = ?")
# A session's owner is set when it opens and never changes.
UPSERT_SESSION = (
    "INSERT INTO session (id, npc, player, player_name, history, updated, owner, proposal) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
    "history = excluded.history, updated = excluded.updated, proposal = excluded.proposal")
DELETE_SESSION = "DELETE FROM session WHERE id = ?"


class Rows(Protocol):
    """What a statement returns: its rows, one at a time."""

    def fetchone(self) -> Any:
        """The next row as a tuple, or None."""
        ...


class Executor(Protocol):
    """A connection inside a transaction, as the shared code uses it."""

    def execute(self, sql: str, params: Sequence[Any] = (), /) -> Rows:
        """Run one statement with ``?`` placeholders."""
        ...


class SQLStore(abc.ABC):
    """
    The ``StateStore`` operations over any SQL backend; a subclass says how a
    transaction runs (``_transaction``) and closes the database.
    """

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

    def state(self, world: str, player: str) -> WorldState:
        """
        The player's quest state in ``world`` (nothing started if never saved).

        Raises:
            ConfigError: The database cannot be read, or the row is damaged.
        """
        with self._transaction() as db:
            row = db.execute(SELECT_STATE, (world, player)).fetchone()
            return state_from_json(row[0]) if row else WorldState()

    def set_state(self, world: str, player: str, state: WorldState) -> None:
        """Replace the player's quest state (validate it against the world first)."""
        with self._transaction() as db:
            db.execute(UPSERT_STATE, (world, player, state_to_json(state), time.time()))

    def commit_turn(self, world: str, player: str, state: WorldState | None,
                    session: SessionRecord) -> None:
        """
        Store what a turn changed in one transaction: the player's quest state (unless
        None: the turn changed none) and the session with its history. Either both are
        stored or neither is.

        Raises:
            ConfigError: The write failed (nothing of it is stored).
        """
        now = time.time()
        with self._transaction() as db:
            if state is not None:
                db.execute(UPSERT_STATE, (world, player, state_to_json(state), now))
            db.execute(UPSERT_SESSION, session_row(session, now))

    def forget(self, world: str, player: str) -> None:
        """Drop a player's quest state (e.g. the scratch players of tree generation)."""
        with self._transaction() as db:
            db.execute(DELETE_STATE, (world, player))

    def save_session(self, record: SessionRecord) -> None:
        """Create or update a session (after it opens and after each turn)."""
        with self._transaction() as db:
            db.execute(UPSERT_SESSION, session_row(record, time.time()))

    def session(self, session_id: str) -> SessionRecord | None:
        """
        A stored session, or None.

        Raises:
            ConfigError: The database cannot be read, or the row is damaged.
        """
        with self._transaction() as db:
            row = db.execute(SELECT_SESSION, (session_id,)).fetchone()
            return None if row is None else session_from_row(row)

    def delete_session(self, session_id: str) -> None:
        """Forget a session (its player's quest state stays)."""
        with self._transaction() as db:
            db.execute(DELETE_SESSION, (session_id,))


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


def session_row(record: SessionRecord, now: float
                ) -> tuple[str, str, str, str, str, float, str, str]:
    """A session as the values of ``UPSERT_SESSION``."""
    return (record.id, record.npc_id, record.player_id, record.player_name,
            json.dumps([list(m) for m in record.history]), now, record.owner, record.proposal)


def session_from_row(row: Sequence[Any]) -> SessionRecord:
    """A session from the columns of ``SELECT_SESSION``; ValueError or TypeError if damaged."""
    history = tuple((str(role), str(text)) for role, text in json.loads(row[4]))
    return SessionRecord(row[0], row[1], row[2], row[3], history, row[5], row[6])
