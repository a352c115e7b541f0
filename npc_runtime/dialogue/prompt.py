"""
Prompt assembly: the NPC's gated knowledge as a system message, its voice examples, then
the conversation, with the reply plan's note right after the player's latest line.

An NPC that knows more than fits the card still tells the rest: the plan picks facts from
everything the NPC may tell, and its note carries them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from npc_runtime.errors import InvalidInputError
from npc_runtime.lore.knowledge import KnowledgeView
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
NOTE = "note"  # a history message's role: the plan's note the model read before a reply
CARD_FACT_CHARS = 3000  # facts in the shared card (~750 tokens); the plan tells the rest


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
    and the rest, which reach the model only when a reply's plan tells them.
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


def introduce(player_name: str) -> str:
    """The message telling the NPC who it is talking to (right after the shared card)."""
    return f"You are talking to {player_name}."


def head(system: str, examples: Sequence[tuple[str, str]], player_name: str
         ) -> list[Message]:
    """
    What every conversation with this card starts with: the card, the NPC's voice
    examples as exchanges (a small model imitates turns it has "said" more than a
    description of its voice), and who it is talking to now.
    """
    shown: list[Message] = [("system", system)]
    for player, npc in examples:
        shown += [("user", player), ("assistant", npc)]
    return [*shown, ("system", introduce(player_name))]


def shared_head(tokenizer: ChatTokenizer, system: str,
                examples: Sequence[tuple[str, str]] = ()) -> list[int]:
    """
    The prompt tokens every player's conversation with this card starts with: the card,
    the voice examples, and the introduction up to the player's name. Their KV is
    computed once and shared, so a new session prefills only the name and its line.
    """
    marker = "\x00"
    text = tokenizer.render(head(system, examples, marker), add_generation_prompt=False)
    return tokenizer.encode(text[:text.index(marker)].rstrip(" "))


def build_messages(system: str, player_name: str, conversation: Sequence[Message],
                   note: str = "", examples: Sequence[tuple[str, str]] = ()
                   ) -> list[Message]:
    """
    The chat to render: the shared head, then the conversation; the reply plan's
    ``note`` goes right after the player's latest line, the last thing the model reads
    before it speaks (a 135M model followed it there in 31 of 43 fact questions, against
    15 right before the line and 24 inside it: DESIGN.md section 4). Everything before
    the line (and its KV) stays the same turn to turn: earlier turns' notes stay where
    they were (``NOTE`` messages in the history), so the session's KV, which holds them,
    is reused up to the latest line instead of prefilled again from the last note on.
    """
    start = head(system, examples, player_name)
    said = [("system", text) if role == NOTE else (role, text) for role, text in conversation]
    users = [i for i, (role, _) in enumerate(said) if role == "user"]
    if not note or not users:
        return [*start, *said]
    after = users[-1] + 1
    return [*start, *said[:after], ("system", note), *said[after:]]


def spoken(history: Sequence[Message]) -> list[Message]:
    """The conversation as the player and the NPC had it: no plan notes."""
    return [m for m in history if m[0] != NOTE]


def fit_prompt(tokenizer: ChatTokenizer, history: list[Message],
               messages: Callable[[list[Message]], list[Message]], budget: int) -> list[int]:
    """
    Token ids of a turn's prompt (``messages`` of the history) in at most ``budget``
    tokens. When they overflow, the oldest exchanges leave ``history`` until it fills half
    the room it may use: each drop changes every token after the card, so the session's
    cached KV no longer matches and the whole history is prefilled again; dropping to half
    (not just enough) lets the next turns extend one cached prefix again instead of paying
    that on every turn.

    Raises:
        InvalidInputError: Even with no history the prompt does not fit.
    """
    def encode(kept: list[Message]) -> list[int]:
        return tokenizer.encode_chat(messages(kept))

    prompt = encode(history)
    if len(prompt) > budget and history:
        floor = len(encode([]))  # the card and this turn's messages alone
        target = floor + max(0, budget - floor) // 2
        while len(prompt) > target and history:
            # The oldest exchange goes (the line, its note, calls, the reply); the shared
            # prefix stays.
            end = next((i for i, (role, _) in enumerate(history) if i and role == "user"),
                       len(history))
            del history[:end]
            prompt = encode(history)
    if len(prompt) > budget:
        raise InvalidInputError(
            f"the persona and line take {len(prompt)} tokens; a turn may use {budget} "
            "(shorten the line or the persona, lower --max-new-tokens, or give turns more "
            "room: raise NPC_KV_CACHE_MB or lower NPC_MAX_ACTIVE_TURNS)"
        )
    return prompt
