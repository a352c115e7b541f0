"""Conversations in memory: who is talking to whom, and what was said."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets

from npc_runtime.errors import InvalidInputError, UnknownSessionError
from npc_runtime.lore.model import WorldState
from npc_runtime.model.tokenizer import Message


@dataclasses.dataclass
class Session:
    """One player's conversation with one NPC."""

    id: str
    npc_id: str
    player_name: str
    state: WorldState = dataclasses.field(default_factory=WorldState)
    history: list[Message] = dataclasses.field(default_factory=list)
    # One turn at a time per session, so history stays in order.
    turn_lock: asyncio.Lock = dataclasses.field(default_factory=asyncio.Lock, repr=False)

    def __repr__(self) -> str:  # never player text in logs
        return f"Session(id={self.id!r}, npc_id={self.npc_id!r}, turns={len(self.history) // 2})"


class SessionRegistry:
    """Open sessions by id, with a cap so a misbehaving client cannot exhaust memory."""

    def __init__(self, max_sessions: int) -> None:
        self._sessions: dict[str, Session] = {}
        self._max = max_sessions

    def open(self, npc_id: str, player_name: str) -> Session:
        """Create a session; raises InvalidInputError when the server is full."""
        if len(self._sessions) >= self._max:
            raise InvalidInputError(
                f"too many open sessions ({self._max}); close finished ones with CloseSession"
            )
        session = Session(secrets.token_urlsafe(12), npc_id, player_name)
        self._sessions[session.id] = session
        return session

    def get(self, session_id: str) -> Session:
        """The open session with this id; raises UnknownSessionError."""
        try:
            return self._sessions[session_id]
        except KeyError:
            raise UnknownSessionError(
                f"no open session {session_id!r}; open one with OpenSession"
            ) from None

    def close(self, session_id: str) -> None:
        """Forget a session; raises UnknownSessionError."""
        self.get(session_id)
        del self._sessions[session_id]

    def __len__(self) -> int:
        return len(self._sessions)

    def __contains__(self, session_id: str) -> bool:
        return session_id in self._sessions
