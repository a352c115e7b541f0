"""
Which store a server uses: PostgreSQL when ``NPC_STATE_URL`` is set (replicas share it),
else SQLite at ``NPC_STATE_DB`` (the embedded default; in memory when that is None).
"""

from __future__ import annotations

from npc_runtime.config import Settings
from npc_runtime.store.base import StateStore


def open_store(settings: Settings) -> StateStore:
    """
    Open the store the settings name.

    psycopg is imported only here, for PostgreSQL, so a SQLite server never loads it.

    Raises:
        ConfigError: The database cannot be opened (the message says what to do).
    """
    if settings.state_url:
        from npc_runtime.store.postgres import PostgresStore

        return PostgresStore(settings.state_url)
    from npc_runtime.store.sqlite import SQLiteStore

    return SQLiteStore(settings.state_db)
