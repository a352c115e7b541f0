"""
The schema as numbered migrations, the same SQL for SQLite and PostgreSQL.

A database records the last migration it ran (SQLite: ``PRAGMA user_version``;
PostgreSQL: the ``schema_version`` table); opening runs the ones after it, all in one
transaction, so a database is always at one known version. Add a migration at the end,
never edit one that shipped: databases out there have already run it.

Types are spelt so both engines read them alike: ``DOUBLE PRECISION`` is a float8 in
PostgreSQL and has REAL affinity in SQLite (``REAL`` would be a float4 in PostgreSQL and
round the timestamps). JSON is kept as ``TEXT`` in both, so one codec reads both and a
row that does not parse is found as damage, not refused by the column type.
"""

from __future__ import annotations

import dataclasses

from npc_runtime.errors import ConfigError
from npc_runtime.store.sql import Executor


@dataclasses.dataclass(frozen=True)
class Migration:
    """One step of the schema: its number, what it is for, and its statements."""

    version: int
    why: str
    statements: tuple[str, ...]


MIGRATIONS = (
    Migration(1, "quest states and sessions", (
        """CREATE TABLE player_state (
            world TEXT NOT NULL,
            player TEXT NOT NULL,
            state TEXT NOT NULL,  -- JSON: {"stages": {quest: stage}, "revealed": [], "items": []}
            updated DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (world, player)
        )""",
        """CREATE TABLE session (
            id TEXT PRIMARY KEY,
            npc TEXT NOT NULL,
            player TEXT NOT NULL,
            player_name TEXT NOT NULL,
            history TEXT NOT NULL,  -- JSON: [[role, text], ...]
            updated DOUBLE PRECISION NOT NULL
        )""",
    )),
    Migration(2, "sessions have owners", (
        # a digest of the token that opened it ('' without auth)
        "ALTER TABLE session ADD COLUMN owner TEXT NOT NULL DEFAULT ''",
    )),
    Migration(3, "sessions keep the NPC's pending offer", (
        # JSON: the call the NPC offered last turn ('' none)
        "ALTER TABLE session ADD COLUMN proposal TEXT NOT NULL DEFAULT ''",
    )),
    Migration(4, "sessions count their writes, so servers can take turns on one", (
        # Each write adds one, and names the version it read (store/sql.py). Rows from
        # before are at 1: they exist, and 0 means "not stored yet".
        "ALTER TABLE session ADD COLUMN version INTEGER NOT NULL DEFAULT 1",
    )),
    Migration(5, "engine tool calls wait in the database, so any replica can answer", (
        # Written only by replicas that share PostgreSQL (store/pg_fleet.py); a SQLite
        # file has the table, empty, so both engines stay at one schema.
        """CREATE TABLE tool_call (
            id TEXT PRIMARY KEY,
            session TEXT NOT NULL,
            expires DOUBLE PRECISION NOT NULL,  -- epoch s (the database's clock)
            answered INTEGER NOT NULL DEFAULT 0,  -- 1 once the game answered
            result TEXT NOT NULL DEFAULT '',  -- JSON, up to 4000 characters
            error TEXT NOT NULL DEFAULT ''
        )""",
        "CREATE INDEX tool_call_expires ON tool_call (expires)",
    )),
    Migration(6, "served worlds are published, so a load on one replica reaches all", (
        # Written only by replicas that share PostgreSQL (store/pg_fleet.py).
        """CREATE TABLE world_release (
            seq INTEGER PRIMARY KEY,  -- counts up: the highest is the fleet's world
            name TEXT NOT NULL,
            version TEXT NOT NULL,  -- World.version where it was published
            files TEXT NOT NULL,  -- JSON: {relative name: text}; '' once superseded
            published DOUBLE PRECISION NOT NULL
        )""",
        "CREATE INDEX world_release_version ON world_release (version)",
    )),
)
LATEST = MIGRATIONS[-1].version


def upgrade(db: Executor, version: int, where: str) -> list[Migration]:
    """
    Run the migrations after ``version`` in the caller's transaction; the caller records
    the new version (``LATEST``) in the same transaction.

    Returns:
        The migrations that ran (none when the database is current).

    Raises:
        ConfigError: The database is newer than this program: a newer release migrated it.
    """
    if version > LATEST:
        raise ConfigError(
            f"the state database {where} has schema version {version}, but this npc-runtime "
            f"knows versions up to {LATEST}: a newer release upgraded it. Run that release "
            "(every replica on one database needs it), or restore a backup from before")
    pending = [m for m in MIGRATIONS if m.version > version]
    for migration in pending:
        for statement in migration.statements:
            db.execute(statement)
    return pending
