"""
What the engine asks of a state store, whichever database holds it: the ``StateStore``
protocol and the ``SessionRecord`` it keeps.

The engine sees only this seam; ``factory.open_store`` picks the backend (SQLite in a
file, or PostgreSQL shared by several replicas) from the settings.
"""

from __future__ import annotations

import dataclasses
from typing import Protocol

from npc_runtime.lore.model import WorldState
from npc_runtime.model.tokenizer import Message


@dataclasses.dataclass(frozen=True)
class SessionRecord:
    """A session as stored: enough to resume the conversation."""

    id: str
    npc_id: str
    player_id: str
    player_name: str
    history: tuple[Message, ...] = ()
    owner: str = ""  # who may use it: a digest of the opening token ("" without auth)
    proposal: str = ""  # JSON: the call the NPC offered last turn, awaiting an answer


class StateStore(Protocol):
    """
    Each player's quest state per world, and each open session with its history.

    Every method may raise ``ConfigError`` when the database fails (unreachable, damaged,
    out of disk); its message says what to do, and never holds a password. Nothing is
    ever answered with a default in place of a value that could not be read.
    """

    def state(self, world: str, player: str) -> WorldState:
        """The player's quest state in ``world`` (nothing started if never saved)."""
        ...

    def set_state(self, world: str, player: str, state: WorldState) -> None:
        """Replace the player's quest state (validate it against the world first)."""
        ...

    def commit_turn(self, world: str, player: str, state: WorldState | None,
                    session: SessionRecord) -> None:
        """
        Store what a turn changed in one transaction: the quest state (unless None: the
        turn changed none) and the session with its history; both are stored or neither.
        """
        ...

    def forget(self, world: str, player: str) -> None:
        """Drop a player's quest state (e.g. the scratch players of tree generation)."""
        ...

    def save_session(self, record: SessionRecord) -> None:
        """Create or update a session (after it opens and after each turn)."""
        ...

    def session(self, session_id: str) -> SessionRecord | None:
        """A stored session, or None."""
        ...

    def delete_session(self, session_id: str) -> None:
        """Forget a session (its player's quest state stays)."""
        ...

    def close(self) -> None:
        """Release the database (every change is already committed)."""
        ...
