"""
What replicas on one PostgreSQL database tell one another (``Fleet``): engine tool calls
waiting for the game's answer, and the world they serve.

A turn that waits for the game writes a row (``tool_call``) before the game hears of the
call; the game's answer may reach any replica, which writes it into that row, once (an
UPDATE of a row not yet answered and not expired: answering twice, or late, changes no
row and is refused) and NOTIFYs the call's id in the same transaction. The waiting
replica's listener (``listener.py``) hears the id, reads the answer from the row (a
result of up to 4000 characters would not fit a notification's 8000 bytes as UTF-8 in
every case, and a row survives a dropped listener) and hands it to the engine.

The row is deleted when the turn stops waiting (``end_call``), whatever ended it; a
DELETE ... RETURNING decides a race between an answer and the timeout in the database:
an answer that landed first is used, one that comes after finds no row. A replica killed
with its turn waiting leaves its rows behind: every new wait deletes rows expired more
than ``STALE_S`` ago, so they never pile up. Expiry is on the database's clock, so the
replicas' clocks need not agree.

A world a replica serves (loaded by a client, reloaded from its folder, or its own at
startup) is published as a row of ``world_release``: its files' text, so a replica that
lacks the folder can still serve it, its name and version, and a sequence number one
above the last (taken under an advisory lock, so two replicas publishing at once get two
numbers); then NOTIFYed. The highest number is the fleet's world: numbers, not versions,
order publications (a version is a hash, and a rollback to older lore is a new
publication). The newest ``KEEP_FILES`` keep their files; older rows keep only their
version, for ``was_published``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager

import structlog

from npc_runtime.errors import ConfigError
from npc_runtime.store.base import CallAnswer, PublishedWorld
from npc_runtime.store.listener import Listener
from npc_runtime.store.sql import Executor

log = structlog.get_logger(__name__)

CALLS = "npc_tool_call"  # the channel an answer is announced on; payload: the call id
STALE_S = 60.0  # a waiting row this long past its expiry belongs to a replica that died
NOW = "extract(epoch from clock_timestamp())"  # the database's clock, in epoch seconds

DELETE_STALE = f"DELETE FROM tool_call WHERE expires < {NOW} - ?"
INSERT_CALL = f"INSERT INTO tool_call (id, session, expires) VALUES (?, ?, {NOW} + ?)"
ANSWER_CALL = (
    "UPDATE tool_call SET answered = 1, result = ?, error = ? "
    f"WHERE id = ? AND session = ? AND answered = 0 AND expires > {NOW}")
NOTIFY = "SELECT pg_notify(?, ?)"
END_CALL = "DELETE FROM tool_call WHERE id = ? RETURNING answered, result, error"
ANSWER_OF = "SELECT id, result, error FROM tool_call WHERE answered = 1 AND id = ANY(?)"

WORLDS = "npc_world"  # the channel a publication is announced on; payload: its number
PUBLISH_LOCK = 0x6E70_635F_776F  # the advisory lock publications take ("npc_wo")
KEEP_FILES = 10  # publications that keep their files (older ones: their version only)
LATEST_HEAD = "SELECT seq, version FROM world_release ORDER BY seq DESC LIMIT 1"
LATEST_WORLD = ("SELECT seq, name, version, files FROM world_release "
                "ORDER BY seq DESC LIMIT 1")
INSERT_WORLD = ("INSERT INTO world_release (seq, name, version, files, published) "
                "VALUES (?, ?, ?, ?, ?)")
DROP_OLD_FILES = "UPDATE world_release SET files = '' WHERE seq <= ? AND files <> ''"
WAS_PUBLISHED = "SELECT 1 FROM world_release WHERE version = ? LIMIT 1"

Transaction = Callable[[str], AbstractContextManager[Executor]]


class PostgresFleet:
    """``Fleet`` over the store's tables and one listening connection."""

    def __init__(self, transaction: Transaction, conninfo: str,
                 redact: Callable[[str], str]) -> None:
        """
        Args:
            transaction: The store's timed transaction (``SQLStore._timed``): pooled,
                its failures ``ConfigError``.
            conninfo: The store's connection parameters, for the listener's own connection.
            redact: Hides the password in text that is logged.
        """
        self._transaction = transaction
        self._lock = threading.Lock()  # the event loop and the listener thread share:
        self._mine: set[str] = set()  # calls turns on this replica wait for
        self._on_answer: list[Callable[[CallAnswer], None]] = []
        self._on_world: list[Callable[[PublishedWorld], None]] = []
        self._listener = Listener(conninfo, [CALLS, WORLDS], on_notify=self._notified,
                                  on_connect=self._reread, redact=redact)
        self._listening = False

    @property
    def listener(self) -> Listener:
        """The listening connection (tests watch it reconnect)."""
        return self._listener

    def close(self) -> None:
        """Stop listening (rows of calls still waiting go when their turns end)."""
        self._listener.close()

    # ---- engine tool calls

    def wait_for_call(self, call_id: str, session_id: str, timeout_s: float) -> None:
        """Record the call as waiting (any replica may answer it within ``timeout_s``),
        clearing out rows that replicas which died left behind."""
        with self._lock:
            self._mine.add(call_id)
        with self._transaction("wait_for_call") as db:
            db.execute(DELETE_STALE, (STALE_S,))
            db.execute(INSERT_CALL, (call_id, session_id, timeout_s))

    def answer_call(self, call_id: str, session_id: str, result: str, error: str) -> bool:
        """Answer the call once and announce it; False: no call of that session waits."""
        with self._transaction("answer_call") as db:
            if db.execute(ANSWER_CALL, (result, error, call_id, session_id)).rowcount != 1:
                return False
            db.execute(NOTIFY, (CALLS, call_id))  # delivered when this commits
            return True

    def end_call(self, call_id: str) -> CallAnswer | None:
        """Forget the call; its answer if one landed before this."""
        with self._lock:
            self._mine.discard(call_id)
        with self._transaction("end_call") as db:
            row = db.execute(END_CALL, (call_id,)).fetchone()
        return CallAnswer(call_id, row[1], row[2]) if row is not None and row[0] else None

    def on_answer(self, callback: Callable[[CallAnswer], None]) -> None:
        """Hear each answer to a call this replica waits for (starts listening)."""
        self._on_answer.append(callback)
        self._listen()

    # ---- the served world

    def publish_world(self, world: PublishedWorld) -> int:
        """Publish ``world`` under the next number (unless the latest already is of its
        version: that number) and announce it; returns the number."""
        with self._transaction("publish_world") as db:
            db.execute("SELECT pg_advisory_xact_lock(?)", (PUBLISH_LOCK,))
            head = db.execute(LATEST_HEAD).fetchone()
            if head is not None and head[1] == world.version:
                return int(head[0])  # e.g. every replica's watcher on one shared volume
            seq = (int(head[0]) if head else 0) + 1
            db.execute(INSERT_WORLD, (seq, world.name, world.version,
                                      json.dumps(dict(world.files)), time.time()))
            db.execute(DROP_OLD_FILES, (seq - KEEP_FILES,))
            db.execute(NOTIFY, (WORLDS, str(seq)))
            return seq

    def latest_world(self) -> PublishedWorld | None:
        """The newest publication, files included."""
        with self._transaction("latest_world") as db:
            row = db.execute(LATEST_WORLD).fetchone()
            if row is None:
                return None
            files = json.loads(row[3])  # a damaged row: ValueError, a ConfigError here
            if not isinstance(files, dict):
                raise ValueError(f"world publication {row[0]} holds no files")
            return PublishedWorld(int(row[0]), row[1], row[2],
                                  {str(k): str(v) for k, v in files.items()})

    def was_published(self, version: str) -> bool:
        """Whether this version was ever published."""
        with self._transaction("was_published") as db:
            return db.execute(WAS_PUBLISHED, (version,)).fetchone() is not None

    def on_world(self, callback: Callable[[PublishedWorld], None]) -> None:
        """Hear of each publication announced from now on, and of the latest after every
        (re)connect of the listener (starts listening)."""
        self._on_world.append(callback)
        self._listen()

    # ---- the listener thread

    def _listen(self) -> None:
        """Start the listener once, when the first callback arrives."""
        with self._lock:
            start, self._listening = not self._listening, True
        if start:
            self._listener.start()

    def _notified(self, channel: str, payload: str) -> None:
        """A notification: an answer to a call waiting here, or a new publication."""
        if channel == CALLS:
            with self._lock:
                mine = payload in self._mine
            if mine:
                self._answers([payload])
        elif channel == WORLDS:
            self._worlds()

    def _reread(self) -> None:
        """After a (re)connect: answers and publications that came while no one listened."""
        with self._lock:
            waiting = sorted(self._mine)
        if waiting:
            self._answers(waiting)
        if self._on_world:
            self._worlds()

    def _worlds(self) -> None:
        """Read the latest publication and pass it on (the callbacks skip what they have)."""
        try:
            latest = self.latest_world()
        except ConfigError as exc:  # the next notification or reconnect reads it again
            log.warning("world_publication_unread", error=str(exc))
            return
        if latest is not None:
            for callback in self._on_world:
                callback(latest)

    def _answers(self, call_ids: list[str]) -> None:
        """Read the answered calls among ``call_ids`` and pass each on."""
        try:
            with self._transaction("call_answers") as db:
                rows = db.execute(ANSWER_OF, (call_ids,)).fetchall()
        except ConfigError as exc:  # the turn's own timeout still reads the row
            log.warning("tool_answer_unread", calls=len(call_ids), error=str(exc))
            return
        for call_id, result, error in rows:
            answer = CallAnswer(call_id, result, error)
            for callback in self._on_answer:
                callback(answer)
