"""What the store tests store: a quest state part-way through, and sessions of some turns."""

from __future__ import annotations

from npc_runtime.lore.model import WorldState
from npc_runtime.store.base import SessionRecord

STATE = WorldState(stages={"silent_bell": "asked"}, revealed=frozenset({"noises_below"}),
                   player_items=frozenset({"cellar_key"}))


def record(session_id: str, turns: int = 2, version: int = 0, **fields: str) -> SessionRecord:
    """A session of ``turns`` lines (the player's, then the NPC's), with any other fields;
    ``version``: the writes it has seen (0: new; a store reads back 1 after the first)."""
    history = tuple(("user" if i % 2 == 0 else "assistant", f"line {i} of {session_id}")
                    for i in range(turns))
    return SessionRecord(session_id, "maren", f"player-{session_id}", "Ash", history,
                         version=version, **fields)
