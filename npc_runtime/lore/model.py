"""
The compiled world: typed, immutable, every reference resolved.

Built only from a world that validated without errors (see ``loader.py``), so code that
uses it never re-checks references.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping

from npc_runtime.errors import UnknownNpcError
from npc_runtime.lore.diagnostics import Location


@dataclasses.dataclass(frozen=True)
class Entity:
    """Anything with a name: a character, faction, location, item, creature or thing."""

    id: str
    kind: str  # "characters" | "factions" | "locations" | "items" | "creatures" | "things"
    name: str
    aliases: tuple[str, ...] = ()
    description: str = ""
    price: int | None = None  # items only


@dataclasses.dataclass(frozen=True)
class Persona:
    """How a character comes across."""

    traits: tuple[str, ...] = ()
    backstory: str = ""
    speech_style: str = ""
    habits: tuple[str, ...] = ()
    sample_lines: tuple[str, ...] = ()
    goals: tuple[str, ...] = ()
    examples: tuple[tuple[str, str], ...] = ()  # (player line, the NPC's answer), at most 6


@dataclasses.dataclass(frozen=True)
class Relationship:
    """A typed link from a character to another entity."""

    to: str
    kind: str
    note: str = ""


@dataclasses.dataclass(frozen=True)
class Character:
    """An NPC (or any character the lore mentions)."""

    id: str
    name: str
    aliases: tuple[str, ...]
    role: str
    faction: str | None
    location: str | None
    persona: Persona
    relationships: tuple[Relationship, ...]
    inventory: Mapping[str, int]  # item id -> count
    knows: tuple[str, ...]  # fact and entity ids, always known
    tools: tuple[str, ...]
    fallback_lines: tuple[str, ...]
    description: str = ""
    never_say: tuple[str, ...] = ()  # hard rules: phrases a line must not contain
    acting_at: int | None = None  # percent sure a line acts before its tools give (None: world)


@dataclasses.dataclass(frozen=True)
class StageRef:
    """A stage of a quest."""

    quest: str
    stage: str


@dataclasses.dataclass(frozen=True)
class Condition:
    """Exactly one of: a stage reached, facts revealed, an item the player carries."""

    stage: StageRef | None = None
    revealed: tuple[str, ...] = ()
    player_has: str | None = None


@dataclasses.dataclass(frozen=True)
class Fact:
    """One true statement, with who knows it and from when."""

    id: str
    text: str
    about: tuple[str, ...] = ()
    known_by: tuple[str, ...] = ()
    since: StageRef | None = None  # YAML `from`
    secret: bool = False
    tell_when: Condition | None = None
    available: bool = True  # False: the source did not give the text (imports)
    says: str = ""  # the fact in its knowers' words ("My Tobin never came back."); "": none


@dataclasses.dataclass(frozen=True)
class Transition:
    """A way out of a stage and what triggers it (one of tool, option, revealed)."""

    to: str
    tool: str | None = None
    args: Mapping[str, object] = dataclasses.field(default_factory=dict)
    option: str | None = None
    revealed: str | None = None


@dataclasses.dataclass(frozen=True)
class Stage:
    """One step of a quest."""

    id: str
    objective: str
    reveals: tuple[tuple[str, str], ...]  # (fact id, character id)
    unlocks: Mapping[str, tuple[str, ...]]  # character id -> fact/entity ids
    next: tuple[Transition, ...]
    end: str | None  # "complete" | "fail" | None


@dataclasses.dataclass(frozen=True)
class Quest:
    """An ordered set of stages; the first is the start."""

    id: str
    name: str
    description: str
    giver: str | None
    stages: tuple[Stage, ...]
    # stage id -> every stage reachable from it (itself included)
    reachable: Mapping[str, frozenset[str]]

    def stage(self, stage_id: str) -> Stage:
        """The stage with this id (KeyError if none)."""
        return next(s for s in self.stages if s.id == stage_id)


@dataclasses.dataclass(frozen=True)
class ToolParam:
    """One parameter of a tool, a JSON Schema subset whose values may come from the lore."""

    name: str
    type: str
    description: str = ""
    source: str | None = None  # YAML `from`: "npc.inventory", "items", ...
    enum: tuple[object, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    optional: bool = False


@dataclasses.dataclass(frozen=True)
class Tool:
    """Something an NPC can do to the game."""

    id: str
    description: str
    params: tuple[ToolParam, ...]
    executes: str  # "engine" | "server"
    requires_stage: StageRef | None = None
    requires_has_item: str | None = None  # parameter naming an item the NPC must hold
    sets_stage: tuple[StageRef, ...] = ()
    gives_player: str | None = None  # parameter naming the item handed over
    examples: tuple[str, ...] = ()  # player lines that ask for it
    confirm_with: str | None = None  # a tool that asks the player first; "yes" runs this
    on_mention: bool = False  # called when the player brings up a thing it takes
    acting_at: int | None = None  # percent sure a line acts before it may give (None: 50)
    follows: str | None = None  # a tool after which the player's yes calls this one


@dataclasses.dataclass(frozen=True)
class DialogueSpec:
    """What a generated dialogue tree must achieve."""

    id: str
    participants: tuple[str, ...]
    quest: str | None = None
    entry_stage: str | None = None
    unlock_stage: str | None = None
    reveal: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    max_nodes: int = 40
    max_depth: int = 10


@dataclasses.dataclass(frozen=True)
class WorldState:
    """Where one player stands: stage per started quest, facts heard, items carried."""

    stages: Mapping[str, str] = dataclasses.field(default_factory=dict)  # quest -> stage
    revealed: frozenset[str] = frozenset()
    player_items: frozenset[str] = frozenset()


@dataclasses.dataclass(frozen=True)
class ToolCall:
    """A tool and its arguments, as a conversation test writes one."""

    tool: str
    args: Mapping[str, object] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Exchange:
    """One earlier exchange of a conversation test: the player's line (absent when the NPC
    spoke first), the NPC's answer, a call it made and a call it offered but did not make."""

    npc: str
    player: str = ""
    called: ToolCall | None = None
    proposed: ToolCall | None = None  # pending: only in the last exchange


@dataclasses.dataclass(frozen=True)
class WorldTest:
    """A designer's conversation test: after ``history``, at ``state``, ``line`` said to
    ``npc`` makes the ``expect``ed call (its arguments a subset), or none when None."""

    where: Location  # the test in its file, for reports
    npc: str
    line: str
    state: WorldState
    history: tuple[Exchange, ...]
    expect: ToolCall | None
    note: str = ""


@dataclasses.dataclass(frozen=True)
class World:
    """A whole compiled world. ``version`` is a hash of the source files' content."""

    name: str
    setting: str
    version: str
    characters: Mapping[str, Character]
    entities: Mapping[str, Entity]  # every named thing, characters included
    facts: Mapping[str, Fact]
    quests: Mapping[str, Quest]
    tools: Mapping[str, Tool]
    dialogues: Mapping[str, DialogueSpec]
    gazetteer: Mapping[str, str]  # lower-cased name, alias or id -> entity id
    tests: tuple[WorldTest, ...] = ()  # run by `lore validate`, never while serving
    acting_at: int | None = None  # percent sure a line acts before a tool gives (None: 50)

    def character(self, npc_id: str) -> Character:
        """
        The character with this id.

        Raises:
            UnknownNpcError: No such character; the message lists the ones that exist.
        """
        try:
            return self.characters[npc_id]
        except KeyError:
            close = difflib.get_close_matches(npc_id, list(self.characters), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            known = ", ".join(sorted(self.characters)) or "none"
            raise UnknownNpcError(
                f"no NPC {npc_id!r} in world {self.name!r} ({hint}known: {known})"
            ) from None
