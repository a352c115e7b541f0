"""Prompt assembly: the NPC's gated knowledge as a system message, then the conversation."""

from __future__ import annotations

from collections.abc import Sequence

from npc_runtime.lore.knowledge import KnowledgeView
from npc_runtime.lore.model import World
from npc_runtime.model.tokenizer import Message

RULES = (
    "Stay in character at all times. Answer in one to three short sentences of spoken "
    "dialogue, with no narration. Only mention things from your knowledge; if asked about "
    "anything else, say you don't know. Never say you are an AI or a language model."
)
ACTIONS = (
    "You can also act, when the player asks for it: reply with the action's tag and its "
    "arguments as JSON, and the game carries it out. Your actions:"
)
MAX_SAMPLE_LINES = 3


def persona_card(world: World, known: KnowledgeView) -> str:
    """
    The system message: who the NPC is, what it knows at this point, and the rules.

    It depends only on the NPC, the world version and the quest stage, never on the
    player, so every session at that point shares its KV cache.
    """
    npc, persona = known.npc, known.npc.persona
    lines = [f"You are {npc.name}, {npc.role}, in {world.name}." if npc.role
             else f"You are {npc.name}, in {world.name}."]
    lines += [text for text in (world.setting, persona.backstory) if text]
    if persona.traits:
        lines.append("Personality: " + ", ".join(persona.traits) + ".")
    if persona.speech_style:
        lines.append("How you speak: " + persona.speech_style)
    if persona.habits:
        lines.append("Habits: " + "; ".join(persona.habits) + ".")
    if persona.sample_lines:
        lines.append("Lines in your voice: " + " ".join(
            f'"{line}"' for line in persona.sample_lines[:MAX_SAMPLE_LINES]))
    if persona.goals:
        lines.append("You want: " + "; ".join(persona.goals) + ".")
    if known.facts:
        lines.append("What you know:")
        lines += [f"- {fact.text}" for fact in known.facts]
    for quest_name, stage in known.objectives:
        if stage.objective:
            lines.append(f"The player's task in {quest_name}: {stage.objective}")
    if known.must_reveal:
        lines.append("Make sure to tell the player: " + " ".join(f.text for f in
                                                                 known.must_reveal))
    if known.tools:
        lines.append(ACTIONS)
        lines += [f"- [{tool.id}] {tool.description}" for tool in known.tools]
    lines.append(RULES)
    return "\n".join(lines)


def build_messages(system: str, player_name: str, conversation: Sequence[Message]
                   ) -> list[Message]:
    """The chat to render: the shared card, who is talking, then the conversation."""
    return [("system", system), ("system", f"You are talking to {player_name}."),
            *conversation]
