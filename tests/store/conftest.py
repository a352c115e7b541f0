"""
The store tests' databases: a ``backend`` fixture that runs a test against SQLite and
against PostgreSQL (the throwaway server of ``tests/postgres.py``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from npc_runtime.store.base import StateStore
from npc_runtime.store.postgres import PostgresStore
from npc_runtime.store.sqlite import SQLiteStore
from tests.postgres import PostgresServer


@dataclasses.dataclass
class Backend:
    """One place for a store: open it (again) and reach behind its back."""

    name: str  # "sqlite" | "postgres"
    open: Callable[[], StateStore]
    sql: Callable[[str], list[Any]]  # one statement on the same database, committed; its rows


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """The test runs once on a fresh SQLite file and once on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        path = tmp_path / "state.sqlite3"

        def sqlite_sql(statement: str) -> list[Any]:
            with contextlib.closing(sqlite3.connect(path)) as db, db:
                return db.execute(statement).fetchall()

        return Backend("sqlite", lambda: SQLiteStore(path), sqlite_sql)
    server: PostgresServer = request.getfixturevalue("postgres")
    url = server.new_database()
    database = url.rsplit("/", 1)[1]
    return Backend("postgres", lambda: PostgresStore(url),
                   lambda statement: server.sql(database, statement))
