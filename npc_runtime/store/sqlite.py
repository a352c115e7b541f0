"""
What must survive a restart, in SQLite: each player's quest state and each open session.

Quest state belongs to a player (every NPC they talk to sees the same stages, revealed
facts and items), keyed by world name so it survives lore edits that change the world's
version. Sessions are kept with their history so a client can go on talking after the
server restarts. Reads are served from memory; every change is written through at once
(WAL journal: a commit is a small append, cheap enough for the generation thread).
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import threading
import time
from pathlib import Path

from npc_runtime.errors import ConfigError
from npc_runtime.lore.model import WorldState
from npc_runtime.model.tokenizer import Message

_SCHEMA = """
CREATE TABLE IF NOT EXISTS player_state (
    world TEXT NOT NULL,
    player TEXT NOT NULL,
    state TEXT NOT NULL,      -- JSON: {"stages": {quest: stage}, "revealed": [...], "items": [...]}
    updated REAL NOT NULL,
    PRIMARY KEY (world, player)
);
CREATE TABLE IF NOT EXISTS session (
    id TEXT PRIMARY KEY,
    npc TEXT NOT NULL,
    player TEXT NOT NULL,
    player_name TEXT NOT NULL,
    history TEXT NOT NULL,    -- JSON: [[role, text], ...]
    updated REAL NOT NULL,
    owner TEXT NOT NULL DEFAULT ''  -- a digest of the token that opened it ('' without auth)
);
"""


@dataclasses.dataclass(frozen=True)
class SessionRecord:
    """A session as stored: enough to resume the conversation."""

    id: str
    npc_id: str
    player_id: str
    player_name: str
    history: tuple[Message, ...] = ()
    owner: str = ""  # who may use it: a digest of the opening token ("" without auth)


class StateStore:
    """Quest states and sessions in one SQLite file (or in memory when ``path`` is None)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        try:
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path) if path else ":memory:",
                                       check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(session)")}
            if "owner" not in columns:  # a file from before sessions had owners
                self._db.execute("ALTER TABLE session ADD COLUMN owner TEXT NOT NULL DEFAULT ''")
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"cannot open the state database {path}: {exc}; "
                              "set NPC_STATE_DB to a writable file") from exc
        self._lock = threading.Lock()  # the event loop and the generation thread both write
        self._states: dict[tuple[str, str], WorldState] = {}

    def state(self, world: str, player: str) -> WorldState:
        """The player's quest state in ``world`` (nothing started if never saved)."""
        key = (world, player)
        with self._lock:
            if key not in self._states:
                row = self._db.execute(
                    "SELECT state FROM player_state WHERE world = ? AND player = ?",
                    key).fetchone()
                self._states[key] = _state_from_json(row[0]) if row else WorldState()
            return self._states[key]

    def set_state(self, world: str, player: str, state: WorldState) -> None:
        """Replace the player's quest state (validate it against the world first)."""
        with self._lock:
            self._db.execute(
                "INSERT INTO player_state (world, player, state, updated) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (world, player) DO UPDATE SET state = excluded.state, "
                "updated = excluded.updated",
                (world, player, _state_to_json(state), time.time()))
            self._states[(world, player)] = state

    def forget(self, world: str, player: str) -> None:
        """Drop a player's quest state (e.g. the scratch players of tree generation)."""
        with self._lock:
            self._db.execute("DELETE FROM player_state WHERE world = ? AND player = ?",
                             (world, player))
            self._states.pop((world, player), None)

    def save_session(self, record: SessionRecord) -> None:
        """Create or update a session (after it opens and after each turn)."""
        with self._lock:
            self._db.execute(
                "INSERT INTO session (id, npc, player, player_name, history, updated, owner) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                "history = excluded.history, updated = excluded.updated",
                (record.id, record.npc_id, record.player_id, record.player_name,
                 json.dumps([list(m) for m in record.history]), time.time(), record.owner))

    def session(self, session_id: str) -> SessionRecord | None:
        """A stored session, or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT id, npc, player, player_name, history, owner FROM session WHERE id = ?",
                (session_id,)).fetchone()
        if row is None:
            return None
        history = tuple((str(role), str(text)) for role, text in json.loads(row[4]))
        return SessionRecord(row[0], row[1], row[2], row[3], history, row[5])

    def delete_session(self, session_id: str) -> None:
        """Forget a session (its player's quest state stays)."""
        with self._lock:
            self._db.execute("DELETE FROM session WHERE id = ?", (session_id,))

    def close(self) -> None:
        """Close the database (every change is already committed)."""
        with self._lock:
            self._db.close()


def _state_to_json(state: WorldState) -> str:
    return json.dumps({"stages": dict(state.stages), "revealed": sorted(state.revealed),
                       "items": sorted(state.player_items)})


def _state_from_json(text: str) -> WorldState:
    raw = json.loads(text)
    return WorldState(stages=dict(raw.get("stages", {})),
                      revealed=frozenset(raw.get("revealed", [])),
                      player_items=frozenset(raw.get("items", [])))
