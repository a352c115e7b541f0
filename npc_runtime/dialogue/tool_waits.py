"""
Engine tool calls waiting for the game's answer, wherever the answer arrives.

A turn whose NPC calls an engine tool waits (``wait``) until the game answers with
``SubmitToolResult`` (``answer``), the player speaks again (``interrupt``) or the
timeout passes. The wait is an asyncio future on this server's event loop. With one
server (SQLite) that is all: the answer resolves the future in-process and nothing is
written. With replicas on a shared store (``StateStore.fleet``), the answer may reach
any of them, so the call also waits in the store: an answer through this server is
written there too (so exactly one answer counts, wherever it came from), and one through
another server comes back as a callback on the store's listener thread, handed to the
event loop with ``call_soon_threadsafe`` (futures are not thread-safe).
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from npc_runtime.errors import ConfigError, NotFoundError
from npc_runtime.store.base import CallAnswer, StateStore

log = structlog.get_logger(__name__)

Answer = tuple[str, str]  # (result JSON, error)


class ToolWaits:
    """The engine tool calls turns on this server wait for, and their answers."""

    def __init__(self, store: StateStore, timeout_s: float) -> None:
        """
        Args:
            store: The state store; its ``fleet`` (if any) carries calls across replicas.
            timeout_s: How long a turn waits for the game (``Settings.tool_timeout_s``).
        """
        self._fleet = store.fleet
        self._timeout_s = timeout_s
        # call id -> (session id, the waiting turn's future), on the event loop's thread
        self._waiting: dict[str, tuple[str, asyncio.Future[Answer]]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        if self._fleet is not None:
            self._fleet.on_answer(self._answered_elsewhere)

    def open(self, call_id: str, session_id: str) -> None:
        """
        A turn of ``session_id`` will wait for ``call_id``: from now on an answer counts
        (call before the game hears of the call, so no answer can come first).

        Raises:
            ConfigError: The shared store cannot record the call.
        """
        self._loop = asyncio.get_running_loop()
        self._waiting[call_id] = (session_id, self._loop.create_future())
        if self._fleet is not None:
            try:
                self._fleet.wait_for_call(call_id, session_id, self._timeout_s)
            except BaseException:
                self._waiting.pop(call_id, None)
                raise

    async def wait(self, call_id: str) -> Answer:
        """
        The answer to an ``open`` call; the call is closed however this ends (a later
        answer is refused).

        Raises:
            TimeoutError: No answer within the timeout.
        """
        future = self._waiting[call_id][1]
        answer: Answer | None = None
        try:
            answer = await asyncio.wait_for(future, self._timeout_s)
        except TimeoutError:
            pass
        finally:  # also when the caller went away: the row must not linger
            self._waiting.pop(call_id, None)
            landed = self._end(call_id)
        if answer is not None:
            return answer
        if landed is None:
            raise TimeoutError
        # Answered on another server just as the time ran out: the answer counts (the
        # store decided: it landed before this turn stopped waiting).
        return landed.result, landed.error

    def _end(self, call_id: str) -> CallAnswer | None:
        """Close the call in the shared store; its answer if one landed. A store that
        fails here costs no turn: the row is left to the stale-row sweep."""
        if self._fleet is None:
            return None
        try:
            return self._fleet.end_call(call_id)
        except ConfigError as exc:
            log.warning("tool_call_not_closed", call_id=call_id, error=str(exc))
            return None

    def answer(self, session_id: str, call_id: str, result: str, error: str) -> None:
        """
        The game's answer to a call of ``session_id``, received by this server.

        Raises:
            NotFoundError: No such call waits (never made, answered already, timed out,
                or its turn ended).
            ConfigError: The shared store cannot be written.
        """
        local = self._waiting.get(call_id)
        if local is not None and (local[0] != session_id or local[1].done()):
            raise self._not_found(call_id, session_id)
        if self._fleet is not None:
            if not self._fleet.answer_call(call_id, session_id, result, error):
                raise self._not_found(call_id, session_id)
        elif local is None:
            raise self._not_found(call_id, session_id)
        if local is not None:  # waiting here: at once (the notification finds it done)
            local[1].set_result((result, error))

    def interrupt(self, session_id: str, reason: str) -> None:
        """The player spoke again: the session's waits end now, with ``reason`` as error."""
        for owner, future in self._waiting.values():
            if owner == session_id and not future.done():
                future.set_result(("", reason))

    def _answered_elsewhere(self, answer: CallAnswer) -> None:
        """On the store's listener thread: an answer another server received."""
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed: no turn waits
                loop.call_soon_threadsafe(self._wake, answer)

    def _wake(self, answer: CallAnswer) -> None:
        """On the event loop: resolve the waiting turn's future (once)."""
        waiting = self._waiting.get(answer.call_id)
        if waiting is not None and not waiting[1].done():
            log.info("tool_answer_from_fleet", call_id=answer.call_id)
            waiting[1].set_result((answer.result, answer.error))

    def _not_found(self, call_id: str, session_id: str) -> NotFoundError:
        return NotFoundError(
            f"no call {call_id!r} is waiting in session {session_id!r}: it was never "
            f"made, was answered already, or timed out after {self._timeout_s} s")
