"""
Quest states and sessions in PostgreSQL (``NPC_STATE_URL``), for servers that share them.

Several replicas may serve the same players, so nothing is cached here: every read goes
to the database, since another replica may have written since. A turn's writes are one
transaction, as in SQLite. Connections come from a pool (psycopg_pool), each checked
before it is lent, so a database restart costs a reconnect rather than a failed turn.

Opening first connects on its own, so a wrong host, password or database name is
reported as such and not as a pool timeout. It then runs the migrations under a
transaction-scoped advisory lock: replicas that start together wait for one another
instead of racing to create the tables. Only then does it open the pool.

The URL's password never appears in a message or a log line: errors are passed through
``_Redactor``. Failures after opening may reach a game client (as a ``ConfigError``), so
they name neither the host nor the user; the server's log has the details.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Iterator, Sequence
from typing import Any, NoReturn
from urllib.parse import unquote

import psycopg
import structlog
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import ConnectionPool

from npc_runtime.errors import ConfigError
from npc_runtime.store import migrations
from npc_runtime.store.pg_fleet import PostgresFleet
from npc_runtime.store.sql import Rows, SQLStore

log = structlog.get_logger(__name__)

CONNECT_TIMEOUT_S = 10  # libpq's connect_timeout unless the URL sets one (its own: forever)
WAIT_S = 10.0  # how long an operation waits for a free connection before it fails
# Connections kept open and at most: two threads use the store (the event loop and the
# generation thread), and each holds a connection for one short transaction.
POOL_MIN, POOL_MAX = 1, 4
# The advisory lock replicas migrate under; any constant works, this spells "npc_st".
MIGRATION_LOCK = 0x6E70_635F_7374


class PostgresStore(SQLStore):
    """Quest states and sessions in a PostgreSQL database that several servers may share."""

    shared = True  # so a turn first checks that its session's copy is not behind

    def __init__(self, url: str) -> None:
        """
        Connect, bring the schema up to date and open the connection pool.

        Args:
            url: ``postgresql://USER:PASSWORD@HOST:PORT/DATABASE`` (any libpq URL).

        Raises:
            ConfigError: The URL is malformed, the server cannot be reached or refuses
                the login, the database does not exist, or a newer npc-runtime has
                upgraded its schema.
        """
        self._redact = _Redactor(url)
        self.where = self._redact(url)  # for the operator: the URL, password hidden
        try:
            conninfo = _with_defaults(url)
        except psycopg.ProgrammingError as exc:  # libpq quotes the URL: never chained
            raise ConfigError(
                f"NPC_STATE_URL is not a URL PostgreSQL can read: {self._redact(_line(exc))}; "
                "write it as postgresql://USER:PASSWORD@HOST:PORT/DATABASE, with special "
                "characters in the password percent-encoded") from None
        with self._errors(opening=True):
            with psycopg.connect(conninfo) as conn:
                self._migrate(conn)
            self._pool: ConnectionPool = ConnectionPool(
                conninfo, min_size=POOL_MIN, max_size=POOL_MAX, open=False, timeout=WAIT_S,
                check=ConnectionPool.check_connection, name="npc-state")
            try:
                self._pool.open(wait=True, timeout=CONNECT_TIMEOUT_S)
            except BaseException:
                self._pool.close()
                raise
        # Tool calls cross replicas through it; it listens only once the engine asks.
        self.fleet: PostgresFleet = PostgresFleet(self._timed, conninfo, self._redact)

    def close(self) -> None:
        """Stop listening, close the pool's connections (every change is committed)."""
        self.fleet.close()
        self._pool.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[_Connection]:
        """A pooled connection for one transaction, its failures turned into ConfigError."""
        # The pool's block commits when it ends and rolls back when it raises.
        with self._errors(), self._pool.connection() as conn:
            yield _Connection(conn)

    def _migrate(self, conn: psycopg.Connection[Any]) -> None:
        """Run the migrations the database lacks, one replica at a time."""
        db = _Connection(conn)
        with conn.transaction():
            db.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))
            db.execute("CREATE TABLE IF NOT EXISTS schema_version ("
                       "version INTEGER PRIMARY KEY, why TEXT NOT NULL, "
                       "applied TIMESTAMPTZ NOT NULL DEFAULT now())")
            version = db.execute("SELECT max(version) FROM schema_version").fetchone()[0]
            ran = migrations.upgrade(db, version or 0, self.where)
            for migration in ran:
                db.execute("INSERT INTO schema_version (version, why) VALUES (?, ?)",
                           (migration.version, migration.why))
        if ran and version:  # an existing database upgraded (a new one is not news)
            log.info("state_db_migrated", url=self.where, version=migrations.LATEST,
                     ran=[m.why for m in ran])

    @contextlib.contextmanager
    def _errors(self, *, opening: bool = False) -> Iterator[None]:
        """Turn database failures into a ConfigError that says what to do."""
        try:
            yield
        except (ValueError, TypeError) as exc:  # a row the codecs cannot read
            log.error("state_db_failed", url=self.where, error=str(exc), damaged=True)
            raise ConfigError(
                f"the state database (NPC_STATE_URL) holds a damaged row: {exc}. Restore the "
                "database from a backup, or delete the row (that player's quest state or "
                "that session starts again)") from exc
        except psycopg.Error as exc:
            self._failed(exc, opening=opening)

    def _failed(self, exc: psycopg.Error, *, opening: bool) -> NoReturn:
        """Raise the ConfigError for a psycopg failure (see ``_errors``)."""
        error = self._redact(_line(exc))
        # A message that held the password is not chained either: no traceback shows it.
        cause = exc if error == _line(exc) else None
        if opening:  # the operator's: the URL (password hidden) and libpq's own words
            raise ConfigError(
                f"cannot use the state database {self.where} (NPC_STATE_URL): {error}; "
                "check that PostgreSQL is running and reachable from here, that the URL's "
                "user, password and database are right, and that the user may create "
                "tables there") from cause
        # Connection-level failures: no SQLSTATE (refused, timed out, pool exhausted),
        # class 08 (connection exception) or 57P (the server shutting down).
        unreachable = exc.sqlstate is None or exc.sqlstate.startswith(("08", "57P"))
        log.error("state_db_failed", url=self.where, error=error, sqlstate=exc.sqlstate,
                  unreachable=unreachable)
        if unreachable:
            raise ConfigError(
                "the state database (NPC_STATE_URL) cannot be reached; check that "
                "PostgreSQL is up and reachable from this server (the server's log has "
                "the details)") from cause
        primary = self._redact(exc.diag.message_primary or error)
        raise ConfigError(
            f"the state database (NPC_STATE_URL) failed: {primary}; check the database "
            "server (disk full? the role's privileges on the tables?)") from cause


class _Connection:
    """A psycopg connection behind the shared code's ``?`` placeholders."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = (), /) -> Rows:
        """Run one statement, its ``?`` placeholders made psycopg's ``%s``."""
        return self._conn.execute(_placeholders(sql), params or None)


def _line(exc: Exception) -> str:
    """An error's message on one line (libpq's span several)."""
    return "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())


@functools.cache
def _placeholders(sql: str) -> str:
    return sql.replace("?", "%s")


def _with_defaults(url: str) -> str:
    """
    The URL as libpq connection parameters, with a connect timeout (libpq's default is to
    wait forever) and an application name (``pg_stat_activity`` shows who is connected),
    unless the URL sets them.

    Raises:
        psycopg.ProgrammingError: The URL cannot be parsed.
    """
    params = conninfo_to_dict(url)
    params.setdefault("connect_timeout", CONNECT_TIMEOUT_S)
    params.setdefault("application_name", "npc-runtime")
    return make_conninfo("", **params)


class _Redactor:
    """Hides a URL's password (in the user part or a ``password=`` parameter) in text."""

    def __init__(self, url: str) -> None:
        # By hand, not urlsplit: that raises on some malformed URLs, which must be
        # reported without their password all the same.
        rest, _, query = url.partition("?")
        authority = re.split(r"[/#]", rest.partition("://")[2], maxsplit=1)[0]
        userinfo = authority.rpartition("@")[0]
        found = [userinfo.partition(":")[2]] if ":" in userinfo else []
        found += re.findall(r"(?:^|&)password=([^&#]*)", query)
        # As written and percent-decoded; the longest first, so no part of one is left.
        self._secrets = sorted({s for raw in found for s in (raw, unquote(raw)) if s},
                               key=len, reverse=True)

    def __call__(self, text: str) -> str:
        """``text`` with every occurrence of the password replaced by ``***``."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text
