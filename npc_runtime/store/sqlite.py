"""
What must survive a restart, in SQLite: each player's quest state and each open session.

Quest state belongs to a player (every NPC they talk to sees the same stages, revealed
facts and items), keyed by world name so it survives lore edits that change the world's
version. Sessions are kept with their history so a client can go on talking after the
server restarts. Reads are served from memory; every change is written through at once,
and a turn's quest state and session history go in one transaction (``commit_turn``), so
a crash never keeps one without the other.

Durability: the journal is WAL with ``synchronous=NORMAL``. A commit appends its pages
to the ``-wal`` file with ``write()`` and returns without ``fsync``; the WAL is synced
only when it is checkpointed into the main file (every ~1000 pages, and at close). So:

* a process crash (kill -9, a segfault, the OOM killer) loses nothing committed: the
  written pages are in the operating system's cache, and the next open replays the WAL;
* a power loss or kernel crash may lose the transactions committed since the last
  checkpoint (the latest turns: at most ~4 MB of WAL), but never corrupts the file:
  WAL frames are checksummed and a torn tail is ignored, so the database comes back as
  it was at an earlier commit. ``synchronous=FULL`` would close that window at the cost
  of an ``fsync`` per turn, which a laptop disk makes slow; we chose NORMAL.

What storage does corrupt (a bad disk, a copy taken mid-write, a stray editor) is caught
at open by ``PRAGMA quick_check`` and refused with what to do, rather than served as
empty quest state; a read or write that finds damage later raises the same kind of
error, never a default.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import structlog

from npc_runtime.errors import ConfigError
from npc_runtime.lore.model import WorldState
from npc_runtime.model.tokenizer import Message

log = structlog.get_logger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS player_state (
    world TEXT NOT NULL,
    player TEXT NOT NULL,
    state TEXT NOT NULL,      -- JSON: {"stages": {quest: stage}, "revealed": [...], "items": [...]}
    updated REAL NOT NULL,
    PRIMARY KEY (world, player)
);
CREATE TABLE IF NOT EXISTS session (
    id TEXT PRIMARY KEY,
    npc TEXT NOT NULL,
    player TEXT NOT NULL,
    player_name TEXT NOT NULL,
    history TEXT NOT NULL,    -- JSON: [[role, text], ...]
    updated REAL NOT NULL,
    owner TEXT NOT NULL DEFAULT '',  -- a digest of the token that opened it ('' without auth)
    proposal TEXT NOT NULL DEFAULT ''  -- JSON: the call the NPC offered last turn ('' none)
);
"""


@dataclasses.dataclass(frozen=True)
class SessionRecord:
    """A session as stored: enough to resume the conversation."""

    id: str
    npc_id: str
    player_id: str
    player_name: str
    history: tuple[Message, ...] = ()
    owner: str = ""  # who may use it: a digest of the opening token ("" without auth)
    proposal: str = ""  # JSON: the call the NPC offered last turn, awaiting an answer


_UPSERT_STATE = (
    "INSERT INTO player_state (world, player, state, updated) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (world, player) DO UPDATE SET state = excluded.state, "
    "updated = excluded.updated")
_UPSERT_SESSION = (
    "INSERT INTO session (id, npc, player, player_name, history, updated, owner, proposal) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
    "history = excluded.history, updated = excluded.updated, proposal = excluded.proposal")


class StateStore:
    """Quest states and sessions in one SQLite file (or in memory when ``path`` is None)."""

    def __init__(self, path: Path | None) -> None:
        """
        Open (or create) the database and check it.

        Raises:
            ConfigError: The file cannot be opened or created, or it is damaged.
        """
        self.path = path
        try:
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path) if path else ":memory:",
                                       check_same_thread=False, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"cannot open the state database {path}: {exc}; "
                              "set NPC_STATE_DB to a writable file") from exc
        try:
            with self._errors(opening=True):
                self._check()
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.executescript(_SCHEMA)
                columns = {row[1] for row in self._db.execute("PRAGMA table_info(session)")}
                if "owner" not in columns:  # a file from before sessions had owners
                    self._db.execute(
                        "ALTER TABLE session ADD COLUMN owner TEXT NOT NULL DEFAULT ''")
                if "proposal" not in columns:  # ... or kept the NPC's pending offer
                    self._db.execute(
                        "ALTER TABLE session ADD COLUMN proposal TEXT NOT NULL DEFAULT ''")
        except ConfigError:
            self._db.close()
            raise
        self._lock = threading.Lock()  # the event loop and the generation thread both write
        self._states: dict[tuple[str, str], WorldState] = {}

    def state(self, world: str, player: str) -> WorldState:
        """
        The player's quest state in ``world`` (nothing started if never saved).

        Raises:
            ConfigError: The database cannot be read (damaged, or the disk failed).
        """
        key = (world, player)
        with self._lock:
            if key not in self._states:
                with self._errors():
                    row = self._db.execute(
                        "SELECT state FROM player_state WHERE world = ? AND player = ?",
                        key).fetchone()
                    self._states[key] = _state_from_json(row[0]) if row else WorldState()
            return self._states[key]

    def set_state(self, world: str, player: str, state: WorldState) -> None:
        """Replace the player's quest state (validate it against the world first)."""
        with self._lock, self._errors():
            self._db.execute(_UPSERT_STATE, (world, player, _state_to_json(state), time.time()))
            self._states[(world, player)] = state

    def commit_turn(self, world: str, player: str, state: WorldState | None,
                    session: SessionRecord) -> None:
        """
        Store what a turn changed in one transaction: the player's quest state (unless
        None: the turn changed none) and the session with its history. Either both are
        stored or neither is; the cache changes only once the commit has succeeded.

        Raises:
            ConfigError: The write failed (nothing of it is stored).
        """
        now = time.time()
        with self._lock, self._errors():
            self._db.execute("BEGIN IMMEDIATE")  # take the write lock now, not halfway
            try:
                if state is not None:
                    self._db.execute(_UPSERT_STATE, (world, player, _state_to_json(state), now))
                self._db.execute(_UPSERT_SESSION, _session_row(session, now))
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    with contextlib.suppress(sqlite3.Error):  # keep the first error
                        self._db.execute("ROLLBACK")
                raise
            if state is not None:
                self._states[(world, player)] = state

    def forget(self, world: str, player: str) -> None:
        """Drop a player's quest state (e.g. the scratch players of tree generation)."""
        with self._lock, self._errors():
            self._db.execute("DELETE FROM player_state WHERE world = ? AND player = ?",
                             (world, player))
            self._states.pop((world, player), None)

    def save_session(self, record: SessionRecord) -> None:
        """Create or update a session (after it opens and after each turn)."""
        with self._lock, self._errors():
            self._db.execute(_UPSERT_SESSION, _session_row(record, time.time()))

    def session(self, session_id: str) -> SessionRecord | None:
        """
        A stored session, or None.

        Raises:
            ConfigError: The database cannot be read, or the row is damaged.
        """
        with self._lock, self._errors():
            row = self._db.execute(
                "SELECT id, npc, player, player_name, history, owner, proposal FROM session "
                "WHERE id = ?",
                (session_id,)).fetchone()
            if row is None:
                return None
            history = tuple((str(role), str(text)) for role, text in json.loads(row[4]))
            return SessionRecord(row[0], row[1], row[2], row[3], history, row[5], row[6])

    def delete_session(self, session_id: str) -> None:
        """Forget a session (its player's quest state stays)."""
        with self._lock, self._errors():
            self._db.execute("DELETE FROM session WHERE id = ?", (session_id,))

    def close(self) -> None:
        """Close the database (every change is already committed)."""
        with self._lock:
            self._db.close()

    def _check(self) -> None:
        """``PRAGMA quick_check``: every page readable and every b-tree well formed."""
        found = [str(row[0]) for row in self._db.execute("PRAGMA quick_check")]
        if found != ["ok"]:
            more = f" (and {len(found) - 3} more)" if len(found) > 3 else ""
            raise _DamagedError("; ".join(found[:3]) + more)

    @contextlib.contextmanager
    def _errors(self, *, opening: bool = False) -> Iterator[None]:
        """Turn SQLite failures into a ConfigError that says what is wrong and what to do."""
        try:
            yield
        except (sqlite3.Error, _DamagedError, ValueError, TypeError) as exc:
            # Opening: the path as configured (this reaches the operator). Later the message
            # may reach a client, so only the file's name.
            where = (str(self.path) if opening else self.path.name) if self.path else ":memory:"
            damaged = not isinstance(exc, sqlite3.Error) or getattr(
                exc, "sqlite_errorname", "").startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB"))
            if not opening:  # at open the error goes straight to the operator
                log.error("state_db_failed", path=str(self.path), error=str(exc),
                          damaged=damaged)
            if damaged:
                raise ConfigError(
                    f"the state database {where} (NPC_STATE_DB) is damaged: {exc}. Stop the "
                    "server, then restore the file from a backup, or move it away (with its "
                    "-wal and -shm files) to start again with no quest state and no "
                    "sessions") from exc
            raise ConfigError(f"the state database {where} (NPC_STATE_DB) failed: {exc}; "
                              "check the disk (full? read-only?) and the file's "
                              "permissions") from exc


class _DamagedError(Exception):
    """quick_check found problems (the message lists the first few)."""


def _session_row(record: SessionRecord, now: float
                 ) -> tuple[str, str, str, str, str, float, str, str]:
    return (record.id, record.npc_id, record.player_id, record.player_name,
            json.dumps([list(m) for m in record.history]), now, record.owner, record.proposal)


def _state_to_json(state: WorldState) -> str:
    return json.dumps({"stages": dict(state.stages), "revealed": sorted(state.revealed),
                       "items": sorted(state.player_items)})


def _state_from_json(text: str) -> WorldState:
    raw = json.loads(text)  # a JSONDecodeError (a ValueError) is damage: see _errors
    if not isinstance(raw, dict):
        raise ValueError(f"a quest state is {type(raw).__name__}, not an object")
    return WorldState(stages=dict(raw.get("stages", {})),
                      revealed=frozenset(raw.get("revealed", [])),
                      player_items=frozenset(raw.get("items", [])))
