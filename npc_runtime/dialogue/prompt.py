"""Prompt assembly: the persona card as a system message, then the conversation."""

from __future__ import annotations

from collections.abc import Sequence

from npc_runtime.lore.world import Character, World
from npc_runtime.model.tokenizer import Message

RULES = (
    "Stay in character at all times. Answer in one to three short sentences of spoken "
    "dialogue, with no narration. Only mention things from your knowledge; if asked about "
    "anything else, say you don't know. Never say you are an AI or a language model."
)


def persona_card(world: World, npc: Character, player_name: str) -> str:
    """The system message: who the NPC is, where, what it knows, and the rules."""
    lines = [f"You are {npc.name}, {npc.role}, in {world.name}." if npc.role
             else f"You are {npc.name}, in {world.name}."]
    if world.setting:
        lines.append(world.setting)
    if npc.backstory:
        lines.append(npc.backstory)
    if npc.traits:
        lines.append("Personality: " + ", ".join(npc.traits) + ".")
    if npc.speech:
        lines.append("How you speak: " + npc.speech)
    facts = world.facts_known_by(npc)
    if facts:
        lines.append("What you know:")
        lines.extend(f"- {fact.text}" for fact in facts)
    lines.append(f"You are talking to {player_name}.")
    lines.append(RULES)
    return "\n".join(lines)


def build_messages(system: str, history: Sequence[Message], player_line: str) -> list[Message]:
    """The chat to render: system, earlier turns, the player's new line."""
    return [("system", system), *history, ("user", player_line)]
