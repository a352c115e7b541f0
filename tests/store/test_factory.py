"""open_store: PostgreSQL when NPC_STATE_URL is set, else SQLite; psycopg only when needed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from npc_runtime.config import Settings
from npc_runtime.store.factory import open_store
from npc_runtime.store.postgres import PostgresStore
from npc_runtime.store.sqlite import SQLiteStore
from tests.postgres import PostgresServer
from tests.store.samples import STATE


def test_without_a_url_the_store_is_the_sqlite_file(tmp_path: Path) -> None:
    """NPC_STATE_DB names the file; the embedded default needs no server."""
    store = open_store(Settings(state_db=tmp_path / "state.sqlite3"))
    assert isinstance(store, SQLiteStore)
    store.set_state("Saltmere", "p1", STATE)
    store.close()
    assert (tmp_path / "state.sqlite3").exists()


def test_a_url_picks_postgresql_over_the_file(tmp_path: Path, postgres: PostgresServer) -> None:
    """With NPC_STATE_URL set, NPC_STATE_DB (always set by Settings.load) is not used."""
    settings = Settings(state_db=tmp_path / "state.sqlite3", state_url=postgres.new_database())
    store = open_store(settings)
    assert isinstance(store, PostgresStore)
    store.close()
    assert not (tmp_path / "state.sqlite3").exists()


def test_a_sqlite_server_never_imports_psycopg() -> None:
    """psycopg is imported lazily: a server on SQLite does not load it."""
    code = ("import sys; from npc_runtime.config import Settings; "
            "from npc_runtime.store.factory import open_store; "
            "import npc_runtime.dialogue.engine; "
            "open_store(Settings(state_db=None)).close(); "
            "print(sorted(m for m in sys.modules if m.startswith('psycopg')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.strip() == "[]"
