"""
What must survive a restart, in SQLite: each player's quest state and each open session.

Quest state belongs to a player (every NPC they talk to sees the same stages, revealed
facts and items), keyed by world name so it survives lore edits that change the world's
version. Sessions are kept with their history so a client can go on talking after the
server restarts. Quest states are served from memory (one server owns the file); every
change is written through at once, and a turn's quest state and session history go in
one transaction (``commit_turn``), so a crash never keeps one without the other.

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

The schema is versioned (``migrations.py``; the version is ``PRAGMA user_version``). A
file from before versioning (version 0 with tables in it) is adopted at the version its
columns show, then upgraded like any other.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import structlog

from npc_runtime.errors import ConfigError
from npc_runtime.lore.model import WorldState
from npc_runtime.store import migrations
from npc_runtime.store.base import SessionRecord
from npc_runtime.store.sql import SQLStore

log = structlog.get_logger(__name__)


class SQLiteStore(SQLStore):
    """Quest states and sessions in one SQLite file (or in memory when ``path`` is None)."""

    # One server owns the file (its quest states are cached here on that ground), so its
    # sessions' copies in memory are never behind the file: a turn reads no version first.
    # The writes still name theirs, so a second server on one file is refused, not obeyed.
    shared = False
    # Its tool calls wait in the server's memory and its world is its own: nothing to
    # tell other servers, so nothing of either is written.
    fleet = None

    def __init__(self, path: Path | None) -> None:
        """
        Open (or create) the database, check it and bring its schema up to date.

        Raises:
            ConfigError: The file cannot be opened or created, it is damaged, or a newer
                npc-runtime has upgraded it.
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
        # The event loop and the generation thread both write; reentrant because the
        # cache's methods hold it around the shared ones (see ``state``).
        self._lock = threading.RLock()
        self._states: dict[tuple[str, str], WorldState] = {}
        try:
            with self._errors(opening=True):
                self._check()
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._migrate()
        except ConfigError:
            self._db.close()
            raise

    def state(self, world: str, player: str) -> WorldState:
        """
        The player's quest state in ``world`` (nothing started if never saved), read from
        the file once and from memory after that.

        Raises:
            ConfigError: The database cannot be read (damaged, or the disk failed).
        """
        key = (world, player)
        with self._lock:
            if key not in self._states:
                self._states[key] = super().state(world, player)
            return self._states[key]

    def set_state(self, world: str, player: str, state: WorldState) -> None:
        """Replace the player's quest state (validate it against the world first)."""
        with self._lock:
            super().set_state(world, player, state)
            self._states[(world, player)] = state

    def commit_turn(self, world: str, player: str, state: WorldState | None,
                    session: SessionRecord) -> int:
        """
        Store what a turn changed in one transaction (see ``SQLStore.commit_turn``); the
        cache changes only once the commit has succeeded.

        Raises:
            ConfigError: The write failed (nothing of it is stored).
        """
        with self._lock:
            version = super().commit_turn(world, player, state, session)
            if state is not None:
                self._states[(world, player)] = state
            return version

    def forget(self, world: str, player: str) -> None:
        """Drop a player's quest state (e.g. the scratch players of tree generation)."""
        with self._lock:
            super().forget(world, player)
            self._states.pop((world, player), None)

    def close(self) -> None:
        """Close the database (every change is already committed)."""
        with self._lock:
            self._db.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One transaction under the lock, its failures turned into ConfigError."""
        with self._lock, self._errors(), _immediate(self._db):
            yield self._db

    def _migrate(self) -> None:
        """Run the migrations the file lacks, in one transaction with its new version."""
        with _immediate(self._db):
            stored = self._db.execute("PRAGMA user_version").fetchone()[0]
            version = stored or _unversioned(self._db)
            ran = migrations.upgrade(self._db, version, str(self.path or ":memory:"))
            if stored != migrations.LATEST:  # upgraded, or adopted from before versions
                # No placeholders in a PRAGMA; the version is our own integer.
                self._db.execute(f"PRAGMA user_version = {migrations.LATEST:d}")
        if ran and version:  # an existing file upgraded (a new one is not news)
            log.info("state_db_migrated", path=str(self.path), version=migrations.LATEST,
                     ran=[m.why for m in ran])

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


@contextlib.contextmanager
def _immediate(db: sqlite3.Connection) -> Iterator[None]:
    """
    A write transaction that takes the file's write lock at once, not halfway through
    (where it could fail after the first statement): committed at the end of the block,
    rolled back when it raises.
    """
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            with contextlib.suppress(sqlite3.Error):  # keep the first error
                db.execute("ROLLBACK")
        raise


def _unversioned(db: sqlite3.Connection) -> int:
    """
    The migration a file from before versioning stands at, from the columns it has (those
    releases created the tables, then added owner, then proposal); 0 for a new file.
    """
    columns = {row[1] for row in db.execute("PRAGMA table_info(session)")}
    if "proposal" in columns:
        return 3
    if "owner" in columns:
        return 2
    return 1 if columns else 0
