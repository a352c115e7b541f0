"""
What replicas tell one another through a real PostgreSQL server (``store/pg_fleet.py``):
engine tool calls (one store waits, another answers, once) and published worlds; the
listening store hears of both, even when its connection was cut and a notification lost.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from npc_runtime.store.base import CallAnswer, PublishedWorld
from npc_runtime.store.pg_fleet import KEEP_FILES, STALE_S
from npc_runtime.store.postgres import PostgresStore
from npc_runtime.store.sqlite import SQLiteStore
from tests.postgres import PostgresServer

# The longest result a game may send, in characters that take 3 bytes each in UTF-8:
# 12,000 bytes, more than a notification's payload may hold.
LONG_RESULT = '{"note": "' + "潮" * 3988 + '"}'


class Heard:
    """Answers a store's listener passes on (from its thread), to wait for in a test."""

    def __init__(self) -> None:
        self.answers: list[CallAnswer] = []
        self._arrived = threading.Condition()

    def __call__(self, answer: CallAnswer) -> None:
        with self._arrived:
            self.answers.append(answer)
            self._arrived.notify_all()

    def wait(self, count: int = 1, timeout_s: float = 10.0) -> list[CallAnswer]:
        """The answers heard, once there are ``count`` (or the timeout passed)."""
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.answers) >= count, timeout_s)
            return list(self.answers)


@pytest.fixture
def pair(postgres: PostgresServer) -> Iterator[tuple[PostgresStore, PostgresStore, str]]:
    """Two stores (two replicas) on one fresh database, and the database's name."""
    url = postgres.new_database()
    one, other = PostgresStore(url), PostgresStore(url)
    yield one, other, url.rsplit("/", 1)[1]
    one.close()
    other.close()


def _listening(store: PostgresStore) -> Heard:
    heard = Heard()
    store.fleet.on_answer(heard)
    assert store.fleet.listener.connected.wait(10), "the listener did not connect"
    return heard


def test_an_answer_through_another_replica_reaches_the_waiting_one(
        pair: tuple[PostgresStore, PostgresStore, str]) -> None:
    """The waiting replica hears the answer the other received, whole (a 4000-character
    multibyte result travels in the row, not the notification)."""
    waiting, answering, _ = pair
    heard = _listening(waiting)
    waiting.fleet.wait_for_call("call-1", "s1", 10.0)
    assert answering.fleet.answer_call("call-1", "s1", LONG_RESULT, "")
    assert [CallAnswer("call-1", LONG_RESULT, "")] == heard.wait()
    # Ending the wait deletes the row and returns what landed.
    assert CallAnswer("call-1", LONG_RESULT, "") == waiting.fleet.end_call("call-1")


def test_a_call_is_answered_once_and_only_while_it_waits(
        pair: tuple[PostgresStore, PostgresStore, str]) -> None:
    """A second answer, an answer naming another session, one after the turn stopped
    waiting and one after the timeout are all refused."""
    waiting, answering, _ = pair
    waiting.fleet.wait_for_call("call-1", "s1", 10.0)
    assert not answering.fleet.answer_call("call-1", "other-session", "{}", "")
    assert answering.fleet.answer_call("call-1", "s1", '{"ok": true}', "")
    assert not waiting.fleet.answer_call("call-1", "s1", '{"ok": false}', "")
    assert CallAnswer("call-1", '{"ok": true}', "") == waiting.fleet.end_call("call-1")
    assert not answering.fleet.answer_call("call-1", "s1", "{}", "")  # the row is gone
    waiting.fleet.wait_for_call("call-2", "s1", 0.2)
    time.sleep(0.4)
    assert not answering.fleet.answer_call("call-2", "s1", "{}", "")  # too late
    assert waiting.fleet.end_call("call-2") is None  # timed out, nothing landed
    assert _rows(answering) == []


def test_an_answer_that_beat_the_timeout_is_returned_when_the_wait_ends(
        pair: tuple[PostgresStore, PostgresStore, str]) -> None:
    """The database decides between an answer and the timeout: an answer that landed
    before the wait ended is handed back by ``end_call``; after it, none lands."""
    waiting, answering, _ = pair
    waiting.fleet.wait_for_call("call-1", "s1", 10.0)
    assert answering.fleet.answer_call("call-1", "s1", "", "the shop is closed")
    assert CallAnswer("call-1", "", "the shop is closed") == waiting.fleet.end_call("call-1")
    assert waiting.fleet.end_call("call-1") is None


def test_the_listener_reconnects_and_rereads_what_it_missed(
        pair: tuple[PostgresStore, PostgresStore, str], postgres: PostgresServer) -> None:
    """The listening connection is terminated on the server (pg_terminate_backend) and
    the answer comes while it is down: it reconnects, reads the row, and hears it."""
    waiting, answering, database = pair
    heard = _listening(waiting)
    waiting.fleet.wait_for_call("call-1", "s1", 30.0)
    killed = postgres.sql("postgres", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = %s AND application_name = 'npc-runtime-listener'",
                          (database,))
    assert killed == [(True,)]
    assert answering.fleet.answer_call("call-1", "s1", '{"ok": true}', "")
    assert [CallAnswer("call-1", '{"ok": true}', "")] == heard.wait()[:1]
    deadline = time.monotonic() + 10
    while waiting.fleet.listener.connects < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert waiting.fleet.listener.connects >= 2
    # And it listens again: the next answer arrives by notification.
    waiting.fleet.wait_for_call("call-2", "s1", 30.0)
    assert waiting.fleet.listener.connected.wait(10)
    assert answering.fleet.answer_call("call-2", "s1", "{}", "")
    assert CallAnswer("call-2", "{}", "") in heard.wait(len(heard.answers) + 1)


def test_rows_a_killed_replica_left_are_cleared_by_the_next_wait(
        pair: tuple[PostgresStore, PostgresStore, str], postgres: PostgresServer) -> None:
    """A row long past its expiry (its replica died waiting) goes at the next wait
    anywhere; one still in its time stays."""
    waiting, answering, database = pair
    now = time.time()
    postgres.sql(database, "INSERT INTO tool_call (id, session, expires) VALUES "
                 "('dead', 's0', %s), ('recent', 's0', %s)", (now - STALE_S - 5, now - 1))
    answering.fleet.wait_for_call("call-1", "s1", 10.0)
    assert _rows(waiting) == ["call-1", "recent"]


def test_a_sqlite_store_has_no_fleet_and_writes_no_call(tmp_path: Path) -> None:
    """One server owns a SQLite file: its tool calls stay in its memory (no fleet), and
    the table the migration made stays empty."""
    store = SQLiteStore(tmp_path / "state.sqlite3")
    assert store.fleet is None
    with store._transaction() as db:
        assert db.execute("SELECT id FROM tool_call").fetchall() == []
    store.close()


def _rows(store: PostgresStore) -> list[str]:
    """The ids of the calls stored as waiting."""
    with store._transaction() as db:
        return [row[0] for row in db.execute("SELECT id FROM tool_call ORDER BY id").fetchall()]


class HeardWorlds:
    """Publications a store's listener passes on, to wait for in a test."""

    def __init__(self) -> None:
        self.worlds: list[PublishedWorld] = []
        self._arrived = threading.Condition()

    def __call__(self, world: PublishedWorld) -> None:
        with self._arrived:
            self.worlds.append(world)
            self._arrived.notify_all()

    def wait_for(self, seq: int, timeout_s: float = 10.0) -> PublishedWorld | None:
        """The publication numbered ``seq`` once heard (None if not in time)."""
        with self._arrived:
            self._arrived.wait_for(lambda: any(w.seq == seq for w in self.worlds), timeout_s)
            return next((w for w in self.worlds if w.seq == seq), None)


def _world(version: str, text: str = "world: {name: Saltmere}\n") -> PublishedWorld:
    return PublishedWorld(0, "Saltmere", version, {"world.yaml": text, "more/npcs.yaml": "潮"})


def test_a_world_published_by_one_replica_reaches_the_other_with_its_files(
        pair: tuple[PostgresStore, PostgresStore, str]) -> None:
    """b publishes; a hears the publication, files and all; numbers count up, and the
    latest publication is not repeated for the same version."""
    listening, publishing, _ = pair
    heard = HeardWorlds()
    listening.fleet.on_world(heard)
    assert listening.fleet.listener.connected.wait(10)
    assert publishing.fleet.publish_world(_world("v1")) == 1
    assert heard.wait_for(1) == dataclasses.replace(_world("v1"), seq=1)
    assert publishing.fleet.publish_world(_world("v1")) == 1  # the latest already
    assert publishing.fleet.publish_world(_world("v2")) == 2
    assert listening.fleet.publish_world(_world("v1")) == 3  # a rollback is news
    assert heard.wait_for(3) is not None
    latest = listening.fleet.latest_world()
    assert latest is not None
    assert (latest.seq, latest.version) == (3, "v1")
    assert publishing.fleet.was_published("v2")
    assert not publishing.fleet.was_published("v9")


def test_only_the_newest_publications_keep_their_files(
        pair: tuple[PostgresStore, PostgresStore, str], postgres: PostgresServer) -> None:
    """Publications do not pile up: past ``KEEP_FILES``, a row keeps only its version."""
    store, _, database = pair
    for i in range(KEEP_FILES + 3):
        store.fleet.publish_world(_world(f"v{i}"))
    kept = postgres.sql(database, "SELECT seq FROM world_release WHERE files <> '' "
                        "ORDER BY seq")
    assert [seq for (seq,) in kept] == list(range(4, KEEP_FILES + 4))
    assert store.fleet.was_published("v0")


def test_a_publication_missed_while_the_listener_was_down_arrives_on_reconnect(
        pair: tuple[PostgresStore, PostgresStore, str], postgres: PostgresServer) -> None:
    """The listening connection is terminated; a world published meanwhile is read when
    it connects again."""
    listening, publishing, database = pair
    heard = HeardWorlds()
    listening.fleet.on_world(heard)
    assert listening.fleet.listener.connected.wait(10)
    postgres.sql("postgres", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                 "WHERE datname = %s AND application_name = 'npc-runtime-listener'",
                 (database,))
    seq = publishing.fleet.publish_world(_world("v7"))
    found = heard.wait_for(seq)
    assert found is not None
    assert found.version == "v7"
