"""
What the engine asks of a state store, whichever database holds it: the ``StateStore``
protocol and the ``SessionRecord`` it keeps.

The engine sees only this seam; ``factory.open_store`` picks the backend (SQLite in a
file, or PostgreSQL shared by several replicas) from the settings.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
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
    # How many writes of the stored row this copy has seen: each write counts one, and a
    # write is refused unless the stored row is still at this version (0: not stored yet).
    version: int = 0


@dataclasses.dataclass(frozen=True)
class CallAnswer:
    """The game's answer to an engine tool call, as it crosses replicas."""

    call_id: str
    result: str  # JSON ("" with an error)
    error: str


@dataclasses.dataclass(frozen=True)
class PublishedWorld:
    """A world one replica served, published for the others to serve too."""

    seq: int  # publications count up: a higher one is newer, whatever its version says
    name: str
    version: str  # ``World.version`` where it was published
    files: Mapping[str, str]  # relative file name -> its text: all a replica needs


class Fleet(Protocol):
    """
    What replicas sharing a store tell one another beyond quest states and sessions:
    engine tool calls waiting for the game (so the answer may come through any replica)
    and the world being served (so a load or reload on one reaches all).

    Callbacks (``on_answer``, ``on_world``) run on the store's listener thread, never
    the caller's event loop: hand their work over with ``call_soon_threadsafe``. They
    may repeat (a notification, then the re-read after a reconnect): act once.
    """

    def wait_for_call(self, call_id: str, session_id: str, timeout_s: float) -> None:
        """A turn here waits for ``call_id``: any replica may answer it within
        ``timeout_s`` (``answer_call``); ``on_answer`` callbacks hear of the answer."""
        ...

    def answer_call(self, call_id: str, session_id: str, result: str, error: str) -> bool:
        """
        Answer a waiting call, once: False when no call of that session waits (never
        made, answered already, timed out, or its turn ended).
        """
        ...

    def end_call(self, call_id: str) -> CallAnswer | None:
        """The turn stops waiting (answered, timed out, gone): forget the call; returns the
        answer if one landed first (an answer that beat the timeout counts)."""
        ...

    def on_answer(self, callback: Callable[[CallAnswer], None]) -> None:
        """Call ``callback`` with each answer to a call this replica waits for."""
        ...

    def publish_world(self, world: PublishedWorld) -> int:
        """
        Publish a world for every replica (``world.seq`` is ignored); returns its
        sequence number. The latest publication already of this version is not repeated:
        its number is returned.
        """
        ...

    def latest_world(self) -> PublishedWorld | None:
        """The newest publication (None: nothing was ever published)."""
        ...

    def was_published(self, version: str) -> bool:
        """Whether any replica ever published this world version."""
        ...

    def on_world(self, callback: Callable[[PublishedWorld], None]) -> None:
        """Call ``callback`` with each newer publication (possibly this replica's own)."""
        ...


class StateStore(Protocol):
    """
    Each player's quest state per world, and each open session with its history.

    Every method may raise ``ConfigError`` when the database fails (unreachable, damaged,
    out of disk); its message says what to do, and never holds a password. Nothing is
    ever answered with a default in place of a value that could not be read.

    A session is written with optimistic concurrency: a write names the version of the
    row it was based on (``SessionRecord.version``) and is refused, with nothing of it
    stored, when another server has written the row since. Servers take turns on one
    session without a lock held between turns, and none overwrites another's history.
    """

    @property
    def shared(self) -> bool:
        """
        Whether other servers may write this database (PostgreSQL). When not (a SQLite
        file has one server), a session's copy in the server's memory is never behind
        the store, and a turn need not read its version first.
        """
        ...

    @property
    def fleet(self) -> Fleet | None:
        """
        How replicas sharing this store reach one another (PostgreSQL), or None: a SQLite
        file has one server, whose tool calls and world stay in its process.
        """
        ...

    def state(self, world: str, player: str) -> WorldState:
        """The player's quest state in ``world`` (nothing started if never saved)."""
        ...

    def set_state(self, world: str, player: str, state: WorldState) -> None:
        """Replace the player's quest state (validate it against the world first)."""
        ...

    def commit_turn(self, world: str, player: str, state: WorldState | None,
                    session: SessionRecord) -> int:
        """
        Store what a turn changed in one transaction: the quest state (unless None: the
        turn changed none) and the session with its history; both are stored or neither.

        Returns:
            The session's new version.

        Raises:
            StaleSessionError: The stored session is not at ``session.version`` any more.
            UnknownSessionError: The session was closed (on another server).
        """
        ...

    def forget(self, world: str, player: str) -> None:
        """Drop a player's quest state (e.g. the scratch players of tree generation)."""
        ...

    def save_session(self, record: SessionRecord) -> int:
        """
        Create a session (``record.version`` 0) or update it (the version it was read at).

        Returns:
            The session's new version.

        Raises:
            StaleSessionError: The stored session is not at ``record.version`` (for a new
                one: its id is taken).
            UnknownSessionError: An update of a session that was closed.
        """
        ...

    def session(self, session_id: str) -> SessionRecord | None:
        """A stored session, or None."""
        ...

    def session_version(self, session_id: str) -> int | None:
        """A stored session's version (one primary-key read), or None if there is none."""
        ...

    def delete_session(self, session_id: str) -> None:
        """Forget a session (its player's quest state stays)."""
        ...

    def close(self) -> None:
        """Release the database (every change is already committed)."""
        ...

    def observe(self, on_done: Callable[[str, float], None]) -> None:
        """Report each operation's time as ``on_done(operation, seconds)`` from now on."""
        ...
