"""
One PostgreSQL connection that LISTENs for what other replicas NOTIFY, on a thread of
its own.

A dedicated connection, not one of the pool's: a listening connection must stay open
between statements (notifications reach only the session that ran LISTEN), while a
pooled one is lent to a transaction and handed back. It runs in autocommit, so a
notification is delivered as soon as it arrives rather than at the end of a transaction.

A connection can drop (a database restart, ``pg_terminate_backend``, a network cut).
Notifications sent while it is down are lost: PostgreSQL keeps none for a session that
is gone. So after every (re)connect, once LISTEN runs again, ``on_connect`` lets the
owner re-read what it waits for from the tables; a notification only says "look now",
the rows hold the truth. A silent network cut is found by a ping when nothing has
arrived for ``PING_S``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

import psycopg
import structlog
from psycopg import sql

log = structlog.get_logger(__name__)

PING_S = 5.0  # a ping when nothing arrived for this long finds a silently dead link
POLL_S = 0.5  # how long one wait for notifications blocks (how fast ``close`` is heard)
RETRY_S = (0.2, 0.5, 1.0, 2.0, 5.0)  # waits between reconnects: quick, then every 5 s
APPLICATION = "npc-runtime-listener"  # its application_name in pg_stat_activity


class Listener:
    """LISTENs on ``channels`` and hands each notification to ``on_notify``."""

    def __init__(self, conninfo: str, channels: Sequence[str], *,
                 on_notify: Callable[[str, str], None], on_connect: Callable[[], None],
                 redact: Callable[[str], str]) -> None:
        """
        Args:
            conninfo: libpq connection parameters (the store's, with its timeouts).
            channels: The channels to LISTEN on.
            on_notify: Called as ``on_notify(channel, payload)`` on the listener thread.
            on_connect: Called on the listener thread after every (re)connect, once
                LISTEN runs: re-read what a lost notification may have said.
            redact: Hides the password in an error's text before it is logged.
        """
        self._conninfo = conninfo
        self._channels = tuple(channels)
        self._on_notify, self._on_connect, self._redact = on_notify, on_connect, redact
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="npc-state-listener",
                                        daemon=True)
        self.connected = threading.Event()  # set while LISTEN runs (tests wait on it)
        self.connects = 0  # how many times it connected (the first included)

    def start(self) -> None:
        """Connect and listen on a thread of its own (returns at once)."""
        self._thread.start()

    def close(self) -> None:
        """Stop listening and close the connection (within ``POLL_S``)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(POLL_S * 4)

    def _run(self) -> None:
        """Connect, listen until the link fails, wait, connect again; until ``close``."""
        failures = 0
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True,
                                     application_name=APPLICATION) as conn:
                    self._listen(conn)
                    failures = 0
                    self._receive(conn)
            except psycopg.Error as exc:
                self.connected.clear()
                if self._stop.is_set():
                    break
                wait = RETRY_S[min(failures, len(RETRY_S) - 1)]
                failures += 1
                log.warning("state_listener_lost", error=self._redact(_line(exc)),
                            retry_in_s=wait, failures=failures)
                self._stop.wait(wait)
            except Exception:  # a callback's bug must not end listening for good
                self.connected.clear()
                log.exception("state_listener_failed")
                self._stop.wait(RETRY_S[-1])
        self.connected.clear()

    def _listen(self, conn: psycopg.Connection[object]) -> None:
        """LISTEN on every channel, then let the owner re-read what it may have missed."""
        for channel in self._channels:
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        self.connects += 1
        log.info("state_listener_connected", channels=list(self._channels),
                 reconnect=self.connects > 1)
        self._on_connect()
        self.connected.set()

    def _receive(self, conn: psycopg.Connection[object]) -> None:
        """Hand notifications over as they come; ping when quiet; return on ``close``."""
        quiet_since = time.monotonic()
        while not self._stop.is_set():
            for notify in conn.notifies(timeout=POLL_S):
                quiet_since = time.monotonic()
                self._on_notify(notify.channel, notify.payload)
            if time.monotonic() - quiet_since > PING_S:
                conn.execute("SELECT 1")  # raises if the link died without a word
                quiet_since = time.monotonic()


def _line(exc: Exception) -> str:
    """An error's message on one line (libpq's span several)."""
    return "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
