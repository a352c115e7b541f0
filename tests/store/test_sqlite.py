"""The SQLite store: a damaged file is refused with what to do, at open and later.

(What both backends do alike is in test_sql.py.)"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from npc_runtime.errors import ConfigError
from npc_runtime.store.sqlite import SQLiteStore
from tests.store.samples import STATE, record


def _filled(path: Path, players: int = 200) -> None:
    """A database of several pages: states and sessions of many players, then closed."""
    store = SQLiteStore(path)
    for i in range(players):
        store.set_state("Saltmere", f"player-{i}", STATE)
        store.save_session(record(f"s{i}", turns=6))
    store.close()


def _damage_pages(path: Path) -> None:
    """Overwrite whole pages in the middle of the file; the 100-byte header stays intact."""
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) >= 8 * page, "the test needs a database of several pages"
    start = (len(data) // 2) // page * page
    data[start:start + 3 * page] = b"\xab" * (3 * page)
    path.write_bytes(bytes(data))


def test_damaged_pages_are_refused_at_open(tmp_path: Path) -> None:
    """A file whose header is intact but whose pages are not is a ConfigError, not {}."""
    path = tmp_path / "state.sqlite3"
    _filled(path)
    _damage_pages(path)
    with pytest.raises(ConfigError) as info:
        SQLiteStore(path)
    message = str(info.value)
    assert str(path) in message
    assert "damaged" in message
    assert "backup" in message
    assert "move it away" in message


def test_a_file_that_is_no_database_is_refused_with_advice(tmp_path: Path) -> None:
    """Garbage where the database should be is refused the same way."""
    path = tmp_path / "state.sqlite3"
    path.write_bytes(b"not sqlite at all " * 500)
    with pytest.raises(ConfigError, match=r"damaged.*backup"):
        SQLiteStore(path)


def test_a_healthy_database_reopens_with_its_states_and_sessions(tmp_path: Path) -> None:
    """The check at open lets a sound file through, contents intact."""
    path = tmp_path / "state.sqlite3"
    _filled(path, players=3)
    store = SQLiteStore(path)
    assert store.state("Saltmere", "player-2") == STATE
    assert store.session("s1") == record("s1", turns=6, version=1)
    store.close()


def test_damage_found_after_open_raises_instead_of_defaults(tmp_path: Path) -> None:
    """A read that hits a damaged page later raises ConfigError; it never answers 'nothing'."""
    path = tmp_path / "state.sqlite3"
    _filled(path, players=3)
    store = SQLiteStore(path)
    other = sqlite3.connect(path)
    root = other.execute(
        "SELECT rootpage FROM sqlite_master WHERE name = 'player_state'").fetchone()[0]
    with path.open("r+b") as file:  # the table's only page, behind the store's back
        file.seek((root - 1) * 4096)
        file.write(b"\xab" * 4096)
    other.execute("DELETE FROM session WHERE id = 's0'")  # the store's cache goes stale
    other.commit()
    other.close()
    with pytest.raises(ConfigError, match="damaged"):
        store.state("Saltmere", "player-1")
    store.close()
