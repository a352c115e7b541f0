"""
Conversations in memory: who is talking to whom, and what was said.

A server keeps each session it serves in memory, as a copy of the stored one. Several
servers may share one store (PostgreSQL), and any of them may serve a session's next
turn, so a copy can fall behind: before a turn the registry compares the copy's version
with the stored one (``catch_up``) and reloads it when the store is ahead. Writes name
the version they were based on (``StateStore``), so two servers that take a turn of one
session at once cannot overwrite each other: the later write is refused, its copy is
reloaded, and the turn sent again goes on from what is stored.
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import threading
from collections.abc import Sequence

from npc_runtime.errors import InvalidInputError, StaleSessionError, UnknownSessionError
from npc_runtime.lore.model import WorldState
from npc_runtime.model.tokenizer import Message
from npc_runtime.store.base import SessionRecord, StateStore
from npc_runtime.tools.proposal import Proposal


@dataclasses.dataclass
class Session:
    """One player's conversation with one NPC."""

    id: str
    npc_id: str
    player_name: str
    player_id: str  # whose quest state this conversation reads and changes
    owner: str = ""  # who may use it (a digest of the token that opened it; "" = anyone)
    history: list[Message] = dataclasses.field(default_factory=list)
    # A call the NPC offered last turn ("Shall I fit them?"), for the next line only.
    proposal: Proposal | None = None
    version: int = 0  # the stored row's writes this copy has seen (0: not stored yet)
    # Read from the store since this server last said a line in it (its first use here,
    # or another server served it meanwhile): KV kept here is of an older conversation.
    from_store: bool = dataclasses.field(default=False, repr=False)
    # One turn at a time per session, so history stays in order.
    turn_lock: asyncio.Lock = dataclasses.field(default_factory=asyncio.Lock, repr=False)
    # The turn in flight: set when the player spoke again before its reply ended, and
    # the stop flag of the model pass it is in.
    interrupted: bool = dataclasses.field(default=False, repr=False)
    stop_pass: threading.Event | None = dataclasses.field(default=None, repr=False)

    def interrupt(self) -> None:
        """Cut the turn in flight short: its model pass stops at its next token."""
        self.interrupted = True
        if self.stop_pass is not None:
            self.stop_pass.set()

    def __repr__(self) -> str:  # never player text in logs
        return f"Session(id={self.id!r}, npc_id={self.npc_id!r}, turns={len(self.history) // 2})"

    def record(self) -> SessionRecord:
        """The session as stored."""
        return SessionRecord(self.id, self.npc_id, self.player_id, self.player_name,
                             tuple(self.history), self.owner,
                             self.proposal.to_json() if self.proposal else "", self.version)

    @classmethod
    def stored(cls, record: SessionRecord) -> Session:
        """A copy of a stored session (marked ``from_store``)."""
        session = cls(record.id, record.npc_id, record.player_name, record.player_id)
        session.load(record)
        return session

    def load(self, record: SessionRecord) -> None:
        """Take the stored conversation over this copy's (in place: a turn waiting on
        ``turn_lock`` keeps the same object)."""
        self.owner, self.history = record.owner, list(record.history)
        self.proposal = Proposal.from_json(record.proposal)
        self.version, self.from_store = record.version, True


class SessionRegistry:
    """
    Open sessions by id, kept in the store so they outlive a restart, with a cap so a
    misbehaving client cannot exhaust memory.
    """

    def __init__(self, max_sessions: int, store: StateStore) -> None:
        self._sessions: dict[str, Session] = {}
        self._max = max_sessions
        self._store = store

    def open(self, npc_id: str, player_name: str, player_id: str = "", owner: str = ""
             ) -> Session:
        """
        Create a session; without ``player_id`` the session id doubles as the player's.
        ``owner``: who may use it from now on (see ``get``).
        Raises InvalidInputError when the server is full.
        """
        if len(self._sessions) >= self._max:
            raise InvalidInputError(
                f"too many open sessions ({self._max}); close finished ones with CloseSession"
            )
        session_id = secrets.token_urlsafe(12)
        session = Session(session_id, npc_id, player_name, player_id or session_id, owner)
        session.version = self._store.save_session(session.record())
        self._sessions[session.id] = session
        return session

    def get(self, session_id: str, owner: str | None = None) -> Session:
        """
        The open session with this id (resumed from the store after a restart).

        ``owner``: the caller's identity; a session opened by someone else reads as
        unknown to them (no hint that the id exists). None skips the check (in-process
        callers such as tree generation).
        """
        session = self._sessions.get(session_id)
        if session is None and len(session_id) <= 64 and (
                record := self._store.session(session_id)) is not None:
            session = self._sessions[record.id] = Session.stored(record)
        if session is not None and (owner is None or secrets.compare_digest(
                session.owner.encode(), owner.encode())):
            return session
        raise UnknownSessionError(f"no open session {session_id!r}; open one with OpenSession")

    def commit(self, session: Session, world: str, state: WorldState | None,
               pending: Sequence[Message] = ()) -> None:
        """
        Store what a turn changed, in one transaction: the player's quest ``state`` (None:
        unchanged) and the session's history with ``pending`` (the turn's messages so far).
        After a crash the store never holds an effect without the turn that caused it.
        """
        if session.id in self._sessions:  # not closed meanwhile
            record = dataclasses.replace(session.record(), history=(*session.history, *pending))
            try:
                session.version = self._store.commit_turn(world, session.player_id, state,
                                                          record)
            except (StaleSessionError, UnknownSessionError):
                self._reload(session)  # so the turn sent again starts from the store's
                raise
        elif state is not None:
            self._store.set_state(world, session.player_id, state)

    def catch_up(self, session: Session) -> bool:
        """
        Before a turn (under its ``turn_lock``): reload the session when the store holds
        a newer version than this copy (another server served a turn of it since).

        One primary-key read, and only where other servers share the store: a SQLite file
        has one server, whose copies are never behind it.

        Returns:
            Whether the copy was read from the store since this server last said a line
            in it (now or earlier): then KV kept for it is of an older conversation.

        Raises:
            UnknownSessionError: The session was closed on another server.
        """
        if self._store.shared and self._store.session_version(session.id) != session.version:
            self._reload(session)
        return session.from_store

    def _reload(self, session: Session) -> None:
        """Replace the copy with the stored session; forget it if it is gone.

        Raises:
            UnknownSessionError: It is gone (closed on another server).
        """
        record = self._store.session(session.id)
        if record is None:
            self._sessions.pop(session.id, None)
            raise UnknownSessionError(f"no open session {session.id!r} (it was closed); "
                                      "open one with OpenSession")
        session.load(record)

    def close(self, session_id: str, owner: str | None = None) -> None:
        """Forget a session; raises UnknownSessionError (also when ``owner`` is not its)."""
        self.get(session_id, owner)
        del self._sessions[session_id]
        self._store.delete_session(session_id)

    def __len__(self) -> int:
        return len(self._sessions)

    def __contains__(self, session_id: str) -> bool:
        return session_id in self._sessions
