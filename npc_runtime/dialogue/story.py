"""
Story points: one NPC at one point of the story (world version, quest stages, facts heard,
items carried), with everything a turn there needs built once: its gated knowledge, its
persona card, voice examples, the tokens of the shared prompt head, and its line checker.
Every session at that point shares them (and the KV cache of the head).
"""

from __future__ import annotations

import dataclasses
import threading

from npc_runtime.constraints.checker import LineChecker
from npc_runtime.dialogue.prompt import persona_card, shared_head
from npc_runtime.dialogue.realise import voice_examples
from npc_runtime.lore.knowledge import KnowledgeView, view
from npc_runtime.lore.model import World, WorldState
from npc_runtime.model.tokenizer import ChatTokenizer

STORY_POINTS = 256  # (NPC, stage) views with their cards kept for the next turns


@dataclasses.dataclass(frozen=True)
class StoryPoint:
    """An NPC at one point of the story: its knowledge, card (text, voice examples, and
    the tokens of both), checker."""

    known: KnowledgeView
    card: str
    examples: list[tuple[str, str]]
    card_ids: list[int]
    checker: LineChecker


class StoryPoints:
    """The most recently used story points, built on first use (thread-safe: turns are
    planned off the event loop and run on the scheduler's thread)."""

    def __init__(self, tokenizer: ChatTokenizer, size: int = STORY_POINTS) -> None:
        self._tokenizer = tokenizer
        self._size = size
        self._points: dict[tuple[object, ...], StoryPoint] = {}  # least recently used first
        self._lock = threading.Lock()

    def get(self, world: World, npc_id: str, state: WorldState) -> StoryPoint:
        """What ``npc_id`` knows at ``state`` in ``world``, with its card.

        Raises:
            UnknownNpcError: No such character.
        """
        key = (world.version, npc_id, tuple(sorted(state.stages.items())),
               state.revealed, state.player_items)
        with self._lock:
            point = self._points.pop(key, None)
        if point is None:
            known = view(world, npc_id, state)
            card = persona_card(world, known)
            examples = voice_examples(world, known.npc)
            point = StoryPoint(known, card, examples,
                               shared_head(self._tokenizer, card, examples),
                               LineChecker(world, known, card))
        with self._lock:
            self._points[key] = point
            while len(self._points) > self._size:
                self._points.pop(next(iter(self._points)))
        return point
