"""
Prompt assembly: the NPC's gated knowledge as a system message, then the conversation.

An NPC that knows more than fits the card keeps the rest for recall: facts the player's
latest line calls for are put right before it.
"""

from __future__ import annotations

from collections.abc import Sequence

from npc_runtime.lore.knowledge import KnowledgeView
from npc_runtime.lore.mentions import content_words, find_mentions
from npc_runtime.lore.model import Fact, World
from npc_runtime.model.tokenizer import ChatTokenizer, Message

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
CARD_FACT_CHARS = 3000  # facts in the shared card (~750 tokens); the rest are recalled
RECALLED = 3  # facts recalled for one line at most


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
    in_card, _ = card_facts(known)
    if in_card:
        lines.append("What you know:")
        lines += [f"- {fact.text}" for fact in in_card]
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


def card_facts(known: KnowledgeView) -> tuple[list[Fact], list[Fact]]:
    """
    The facts that go in the shared card (what must be told first, then in the order
    the view gives: always known, unlocked by stages, learnt), up to CARD_FACT_CHARS;
    and the rest, recalled turn by turn when the player's words call for them.
    """
    ordered = list(dict.fromkeys([*known.must_reveal, *known.facts]))
    in_card: list[Fact] = []
    used = 0
    for fact in ordered:
        if used + len(fact.text) > CARD_FACT_CHARS and in_card:
            break
        in_card.append(fact)
        used += len(fact.text)
    return in_card, ordered[len(in_card):]


def recall(world: World, facts: Sequence[Fact], text: str) -> list[Fact]:
    """
    The facts among ``facts`` that ``text`` calls for: about an entity it names, or
    sharing two meaningful words with it; at most RECALLED, best first.
    """
    named = {m.entity_id for m in find_mentions(world, text)}
    words = content_words(text)
    scored = [(2 * len(named & set(f.about)) + len(words & content_words(f.text)), i, f)
              for i, f in enumerate(facts)]
    return [f for score, _, f in sorted(scored, key=lambda x: (-x[0], x[1]))
            if score >= 2][:RECALLED]


def notes(world: World, known: KnowledgeView, overflow: Sequence[Fact], line: str,
          tell: Sequence[Fact] = ()) -> tuple[tuple[Fact, ...], list[Fact]]:
    """
    What goes right before the player's line: the fact to tell (``tell`` if the caller
    chose, else the known fact the line asks about best, as "tell the player:", since a
    small model follows what is nearest; DESIGN.md section 4 measured 3/32 -> 12/32 good
    answers) and the card's overflow facts the line recalls. Until issue 17's planner,
    the choice is the lexical ``recall``: a paraphrase that shares no word finds nothing.
    """
    told = tuple(tell) or tuple(recall(world, known.facts, line)[:1])
    return told, [f for f in recall(world, overflow, line) if f not in told]


def introduce(player_name: str) -> str:
    """The message telling the NPC who it is talking to (right after the shared card)."""
    return f"You are talking to {player_name}."


def shared_head(tokenizer: ChatTokenizer, system: str) -> list[int]:
    """
    The prompt tokens every player's conversation with this card starts with: the card,
    and the introduction up to the player's name. Their KV is computed once and shared,
    so a new session prefills only the name and its line.
    """
    marker = "\x00"
    text = tokenizer.render([("system", system), ("system", introduce(marker))],
                            add_generation_prompt=False)
    return tokenizer.encode(text[:text.index(marker)].rstrip(" "))


def build_messages(system: str, player_name: str, conversation: Sequence[Message],
                   recalled: Sequence[Fact] = (), tell: Sequence[Fact] = ()) -> list[Message]:
    """
    The chat to render: the shared card, who is talking, then the conversation; facts
    recalled for the player's latest line (and those to ``tell`` in this answer) go
    right before it, so everything earlier (and its KV) stays the same turn to turn.
    """
    head: list[Message] = [("system", system), ("system", introduce(player_name))]
    users = [i for i, (role, _) in enumerate(conversation) if role == "user"]
    if not (recalled or tell) or not users:
        return [*head, *conversation]
    parts = []
    if recalled:
        parts.append("You also know: " + " ".join(f.text for f in recalled))
    if tell:
        parts.append("In your answer, tell the player: " + " ".join(f.text for f in tell))
    note: Message = ("system", " ".join(parts))
    return [*head, *conversation[:users[-1]], note, *conversation[users[-1]:]]
