"""Conversations in memory: who is talking to whom, and what was said."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import threading
from collections.abc import Sequence

from npc_runtime.errors import InvalidInputError, UnknownSessionError
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
                             self.proposal.to_json() if self.proposal else "")


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
        self._sessions[session.id] = session
        self._store.save_session(session.record())
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
            session = Session(record.id, record.npc_id, record.player_name, record.player_id,
                              record.owner, list(record.history),
                              Proposal.from_json(record.proposal))
            self._sessions[session.id] = session
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
            self._store.commit_turn(world, session.player_id, state, record)
        elif state is not None:
            self._store.set_state(world, session.player_id, state)

    def close(self, session_id: str, owner: str | None = None) -> None:
        """Forget a session; raises UnknownSessionError (also when ``owner`` is not its)."""
        self.get(session_id, owner)
        del self._sessions[session_id]
        self._store.delete_session(session_id)

    def __len__(self) -> int:
        return len(self._sessions)

    def __contains__(self, session_id: str) -> bool:
        return session_id in self._sessions
