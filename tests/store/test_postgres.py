"""
The PostgreSQL store against a real server: replicas share it, migrate it one at a time,
and every failure is a ConfigError that says what to do without showing the password.

(What it does like SQLite is in test_sql.py.)
"""

from __future__ import annotations

import threading

import pytest
import structlog

from npc_runtime.errors import ConfigError, StaleSessionError
from npc_runtime.lore.model import WorldState
from npc_runtime.store import migrations
from npc_runtime.store import postgres as postgres_store
from npc_runtime.store.postgres import PostgresStore
from tests.postgres import GUARDED_PASSWORD, GUARDED_ROLE, PostgresServer
from tests.store.samples import STATE, record


def _guarded_database(postgres: PostgresServer) -> str:
    """A fresh database the password-guarded role owns; its URL with the password."""
    name = postgres.new_database().rsplit("/", 1)[1]
    postgres.sql("postgres", f"ALTER DATABASE {name} OWNER TO {GUARDED_ROLE}")
    return postgres.url(name, GUARDED_ROLE, GUARDED_PASSWORD)


def test_two_stores_on_one_database_see_each_others_writes(postgres: PostgresServer) -> None:
    """Two replicas on one database: a turn one of them commits, the other reads."""
    url = postgres.new_database()
    one, other = PostgresStore(url), PostgresStore(url)
    one.commit_turn("Saltmere", "p1", STATE, record("s1"))
    assert other.state("Saltmere", "p1") == STATE
    assert other.session("s1") == record("s1", version=1)
    other.commit_turn("Saltmere", "p1", WorldState(), record("s1", turns=4, version=1))
    assert one.state("Saltmere", "p1") == WorldState()
    assert one.session("s1") == record("s1", turns=4, version=2)
    other.delete_session("s1")
    assert one.session("s1") is None
    one.close()
    other.close()


def test_replicas_writing_one_session_at_once_land_exactly_one_write(
        postgres: PostgresServer) -> None:
    """Four replicas read a session at version 1 and commit a turn of it at the same
    moment: one write lands, the three others are refused, and the stored session is
    the winner's whole."""
    url = postgres.new_database()
    stores = [PostgresStore(url) for _ in range(4)]
    stores[0].save_session(record("s1"))
    start = threading.Barrier(4)
    landed: list[int] = []
    refused: list[int] = []

    def replica(i: int) -> None:
        start.wait()
        try:
            stores[i].commit_turn("Saltmere", f"p{i}", STATE,
                                  record("s1", turns=4 + 2 * i, version=1))
            landed.append(i)
        except StaleSessionError:
            refused.append(i)

    threads = [threading.Thread(target=replica, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert (len(landed), len(refused)) == (1, 3)
    assert stores[1].session("s1") == record("s1", turns=4 + 2 * landed[0], version=2)
    assert [stores[1].state("Saltmere", f"p{i}") == STATE for i in range(4)] == [
        i in landed for i in range(4)]
    for store in stores:
        store.close()


def test_quest_state_is_read_anew_each_time(postgres: PostgresServer) -> None:
    """A store that has read a state once still sees another replica's later change: it
    keeps no cache that could serve the old one."""
    url = postgres.new_database()
    one, other = PostgresStore(url), PostgresStore(url)
    assert one.state("Saltmere", "p1") == WorldState()
    other.set_state("Saltmere", "p1", STATE)
    assert one.state("Saltmere", "p1") == STATE
    other.forget("Saltmere", "p1")
    assert one.state("Saltmere", "p1") == WorldState()
    one.close()
    other.close()


def test_replicas_migrating_at_once_do_not_race(postgres: PostgresServer) -> None:
    """Eight replicas start together on an empty database: each opens, and each migration
    ran exactly once."""
    url = postgres.new_database()
    database = url.rsplit("/", 1)[1]
    start = threading.Barrier(8)
    opened: list[PostgresStore] = []
    failed: list[BaseException] = []

    def replica() -> None:
        start.wait()
        try:
            opened.append(PostgresStore(url))
        except BaseException as exc:
            failed.append(exc)

    threads = [threading.Thread(target=replica) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for store in opened:
        store.close()
    assert failed == []
    expected = [(m.version,) for m in migrations.MIGRATIONS]
    assert expected == postgres.sql(database, "SELECT version FROM schema_version ORDER BY 1")


def test_connections_the_server_dropped_are_replaced(postgres: PostgresServer) -> None:
    """After the server drops the store's connections (a restart, a failover), the next
    call gets a new one instead of failing."""
    url = postgres.new_database()
    database = url.rsplit("/", 1)[1]
    store = PostgresStore(url)
    store.set_state("Saltmere", "p1", STATE)
    dropped = postgres.sql("postgres", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                           "WHERE datname = %s AND application_name = 'npc-runtime'",
                           (database,))
    assert dropped, "the store had no connection to drop"
    assert store.state("Saltmere", "p1") == STATE
    store.close()


def test_a_database_lost_after_opening_is_reported_as_unreachable(
        postgres: PostgresServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The server drops the store's connections and takes no new ones: a call fails once
    the wait for a connection runs out, with a message that names no host."""
    monkeypatch.setattr(postgres_store, "WAIT_S", 1.0)
    url = postgres.new_database()
    database = url.rsplit("/", 1)[1]
    store = PostgresStore(url)
    postgres.sql("postgres", f"ALTER DATABASE {database} ALLOW_CONNECTIONS false")
    postgres.sql("postgres", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                 "WHERE datname = %s", (database,))
    with pytest.raises(ConfigError, match="cannot be reached") as info:
        store.state("Saltmere", "p1")
    store.close()
    assert "127.0.0.1" not in str(info.value)


def test_an_unreachable_server_is_a_config_error_without_the_password(
        postgres: PostgresServer) -> None:
    """Nothing listens at the URL: the message names the place and the fix, not the
    password."""
    closed = postgres.port + 1 if postgres.port < 65535 else postgres.port - 1
    url = f"postgresql://npc:{GUARDED_PASSWORD}@127.0.0.1:{closed}/t"
    with structlog.testing.capture_logs() as logs, pytest.raises(ConfigError) as info:
        PostgresStore(url)
    message = str(info.value)
    assert f"postgresql://npc:***@127.0.0.1:{closed}/t" in message
    assert "NPC_STATE_URL" in message
    assert "check that PostgreSQL is running" in message
    assert GUARDED_PASSWORD not in message + str(logs)


def test_a_wrong_password_is_refused_without_showing_it(postgres: PostgresServer) -> None:
    """The server refuses the login: libpq's reason, never the password tried."""
    wrong = "Wr0ng-secret"
    with pytest.raises(ConfigError) as info:
        PostgresStore(postgres.url("postgres", GUARDED_ROLE, wrong))
    message = str(info.value)
    assert "password authentication failed" in message
    assert wrong not in message
    assert info.value.__cause__ is not None, "libpq's error stays chained for the traceback"


@pytest.mark.parametrize("url", [
    "postgresql://npc:s3cr%ZZet@127.0.0.1:5432/t",  # libpq quotes the bad token
    "postgresql://npc:s3cr%ZZet@[::1:5432/t",  # ... and here the whole URL
], ids=["bad-escape", "bad-host"])
def test_a_malformed_url_is_refused_without_showing_the_password(url: str) -> None:
    """libpq's parse errors quote the URL; the store hides its password and does not chain
    the original error (whose text still holds it)."""
    with pytest.raises(ConfigError) as info:
        PostgresStore(url)
    message = str(info.value)
    assert "s3cr" not in message
    assert "***" in message
    assert "postgresql://USER:PASSWORD@HOST:PORT/DATABASE" in message
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


def test_a_missing_database_is_named(postgres: PostgresServer) -> None:
    """A URL naming a database that does not exist says which."""
    with pytest.raises(ConfigError, match='database "no_such_db" does not exist'):
        PostgresStore(postgres.url("no_such_db"))


def test_a_later_failure_tells_the_client_no_host_and_logs_no_password(
        postgres: PostgresServer) -> None:
    """A write the database refuses after opening: the message (which may reach a game
    client) names neither host nor user; the log names the URL, password hidden."""
    url = _guarded_database(postgres)
    store = PostgresStore(url)
    assert GUARDED_PASSWORD not in store.where
    database = url.rsplit("/", 1)[1]
    postgres.sql(database, f"REVOKE ALL ON session FROM {GUARDED_ROLE}")
    postgres.sql(database, f"ALTER TABLE session OWNER TO {postgres.superuser}")
    with structlog.testing.capture_logs() as logs, pytest.raises(ConfigError) as info:
        store.save_session(record("s1"))
    store.close()
    message = str(info.value)
    assert "permission denied for table session" in message
    assert "127.0.0.1" not in message
    assert GUARDED_ROLE not in message
    assert [store.where] == [entry["url"] for entry in logs]
    assert GUARDED_PASSWORD not in str(logs)


def test_a_database_from_a_newer_release_is_refused(postgres: PostgresServer) -> None:
    """A schema version this release does not know (a newer replica migrated) stops the
    store from opening, with what to do."""
    url = postgres.new_database()
    PostgresStore(url).close()
    newer = migrations.LATEST + 1
    postgres.sql(url.rsplit("/", 1)[1], "INSERT INTO schema_version (version, why) "
                 f"VALUES ({newer}, 'from the future')")
    with pytest.raises(ConfigError, match=f"schema version {newer}.*newer release"):
        PostgresStore(url)
