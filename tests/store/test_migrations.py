"""
Versioned migrations: a new database gets every one, a SQLite file from before
versioning is adopted at the version its columns show and upgraded, and a database from
a newer release is refused.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest

from npc_runtime.errors import ConfigError
from npc_runtime.store import migrations
from npc_runtime.store.sqlite import SQLiteStore
from tests.store.conftest import Backend
from tests.store.samples import STATE, record

# The tables as releases before versioning created them, oldest first: a session had no
# owner, then an owner, then also the NPC's pending proposal.
_BEFORE_VERSIONING = """
CREATE TABLE player_state (world TEXT NOT NULL, player TEXT NOT NULL, state TEXT NOT NULL,
    updated REAL NOT NULL, PRIMARY KEY (world, player));
CREATE TABLE session (id TEXT PRIMARY KEY, npc TEXT NOT NULL, player TEXT NOT NULL,
    player_name TEXT NOT NULL, history TEXT NOT NULL, updated REAL NOT NULL{columns});
INSERT INTO player_state VALUES ('Saltmere', 'p1',
    '{{"stages": {{"silent_bell": "asked"}}, "revealed": ["noises_below"],
      "items": ["cellar_key"]}}', 0);
INSERT INTO session (id, npc, player, player_name, history, updated)
    VALUES ('s1', 'maren', 'player-s1', 'Ash',
            '[["user", "line 0 of s1"], ["assistant", "line 1 of s1"]]', 0);
"""
_COLUMNS = {
    "no-owner": "",
    "owner": ", owner TEXT NOT NULL DEFAULT ''",
    "owner-and-proposal": ", owner TEXT NOT NULL DEFAULT '', proposal TEXT NOT NULL DEFAULT ''",
}


def _version(path: Path) -> int:
    with contextlib.closing(sqlite3.connect(path)) as db:
        version: int = db.execute("PRAGMA user_version").fetchone()[0]
        return version


def test_a_new_database_records_every_migration(backend: Backend) -> None:
    """A fresh store is at the latest version, and opening it again runs nothing."""
    backend.open().close()
    backend.open().close()
    if backend.name == "sqlite":
        assert backend.sql("PRAGMA user_version") == [(migrations.LATEST,)]
    else:
        expected = [(m.version,) for m in migrations.MIGRATIONS]
        assert expected == backend.sql("SELECT version FROM schema_version ORDER BY 1")


@pytest.mark.parametrize("shape", list(_COLUMNS))
def test_a_sqlite_file_from_before_versioning_opens_and_is_upgraded(
        tmp_path: Path, shape: str) -> None:
    """Its rows read as before (its sessions at version 1: stored once), its sessions
    take owners and proposals, and it is recorded at the latest version."""
    path = tmp_path / "state.sqlite3"
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.executescript(_BEFORE_VERSIONING.format(columns=_COLUMNS[shape]))
    assert _version(path) == 0
    store = SQLiteStore(path)
    assert store.state("Saltmere", "p1") == STATE
    assert store.session("s1") == record("s1", version=1)
    store.save_session(record("s2", owner="digest", proposal='{"tool": "x"}'))
    store.close()
    assert _version(path) == migrations.LATEST
    again = SQLiteStore(path)
    assert again.session("s2") == record("s2", version=1, owner="digest",
                                         proposal='{"tool": "x"}')
    again.close()


def test_a_sqlite_file_from_a_newer_release_is_refused(tmp_path: Path) -> None:
    """A version this release does not know stops the store from opening, with what to
    do, and leaves the file as it was."""
    path = tmp_path / "state.sqlite3"
    SQLiteStore(path).close()
    newer = migrations.LATEST + 1
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute(f"PRAGMA user_version = {newer}")
    with pytest.raises(ConfigError, match=f"schema version {newer}.*newer release"):
        SQLiteStore(path)
    assert newer == _version(path)


def test_a_failing_migration_leaves_the_database_as_it_was(
        backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    """The migrations and the new version are one transaction: when one fails, none of
    them is kept, and the database opens once the cause is gone."""
    broken = migrations.Migration(migrations.LATEST + 1, "a table that already exists",
                                  ("CREATE TABLE session (id TEXT)",))
    monkeypatch.setattr(migrations, "MIGRATIONS", (*migrations.MIGRATIONS, broken))
    monkeypatch.setattr(migrations, "LATEST", broken.version)
    with pytest.raises(ConfigError, match="already exists"):
        backend.open()
    tables = ("SELECT name FROM sqlite_master WHERE type = 'table'" if backend.name == "sqlite"
              else "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    assert backend.sql(tables) == []
    monkeypatch.undo()
    backend.open().close()
