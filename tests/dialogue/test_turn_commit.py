"""What a turn changes is stored with the turn: a crash never leaves a quest effect whose
cause is missing from the conversation."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from npc_runtime.config import Settings
from npc_runtime.dialogue.engine import DialogueEngine
from npc_runtime.dialogue.events import LineDoneEvent, ToolCallEvent
from npc_runtime.errors import InvalidInputError
from npc_runtime.lore.loader import load_world
from npc_runtime.lore.model import WorldState
from npc_runtime.model.loader import LoadedModel
from npc_runtime.store.sqlite import SQLiteStore
from npc_runtime.tools.acts import Embed

SALTMERE = Path(__file__).parents[2] / "examples" / "worlds" / "saltmere"


def test_a_tool_effect_is_stored_with_the_call_in_the_history(tiny_model: LoadedModel,
                                                             tmp_path: Path, embed: Embed) -> None:
    """The turn dies right after the game ran the call (as in a kill -9; here the game's
    answer is too long for the next prompt): the file read anew holds both the item the
    player got and the call in the session's history."""
    db = tmp_path / "state.sqlite3"
    world = load_world(SALTMERE)
    # 12 MB of KV for 16 turns of the tiny model: 1536 tokens a turn, too few for the answer.
    settings = Settings(max_new_tokens=8, state_db=db, kv_cache_mb=12)
    engine = DialogueEngine(world, tiny_model, settings, embed=embed)
    answer = json.dumps({"sold": True, "receipt": " ".join(f"w{i}" for i in range(600))})
    engine.set_quest_state("p1", WorldState(stages={"the_hidden_courier": "ask_around"}))
    session = engine.open_session("wren", player_id="p1")

    async def turn_cut_after_the_call() -> None:
        reply = engine.say(session.id, "I'll buy the silver heron token.",
                           engine.sampling(), tool_choice="sell_item")
        async for event in reply:
            if isinstance(event, ToolCallEvent):
                engine.submit_tool_result(session.id, event.call_id, answer)
                break
        with pytest.raises(InvalidInputError, match="tokens"):  # the effect applies first
            await reply.__anext__()

    asyncio.run(turn_cut_after_the_call())
    engine.shutdown()
    store = SQLiteStore(db)  # a restart
    assert "silver_heron" in store.state(world.name, "p1").player_items
    stored = store.session(session.id)
    assert stored is not None
    assert [role for role, _ in stored.history] == ["user", "assistant", "tool"]
    assert stored.history[2][1] == answer
    store.close()


def test_a_calls_quest_move_is_in_the_turns_quest_changes(tiny_model: LoadedModel,
                                                          embed: Embed) -> None:
    """The harbour fee moves the dues quest: the game reads the move in ``quest_changes``
    (it was only in the call's outcome)."""
    world = load_world(SALTMERE)
    engine = DialogueEngine(world, tiny_model, Settings(max_new_tokens=4), embed=embed)
    engine.set_quest_state("p2", WorldState(stages={"harbour_dues": "owed"}))
    session = engine.open_session("oskar", player_id="p2")

    async def pay() -> list[object]:
        return [e async for e in engine.say(session.id, "Here's my silver.", engine.sampling(),
                                            tool_choice="collect_harbour_fee")]

    done = asyncio.run(pay())[-1]
    engine.shutdown()
    assert isinstance(done, LineDoneEvent)
    assert "harbour_dues: owed -> cleared" in done.quest_changes
