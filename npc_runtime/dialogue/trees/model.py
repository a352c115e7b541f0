"""
A dialogue tree: NPC lines and the player's options between them.

A DAG with back-edges to hubs: a node is one NPC line, its options lead on. Options that
ask a question are ``once`` (gone after being chosen), so every walk through the hub ends;
an ``end`` node closes the conversation. Node ids are stable across exports (Yarn node
titles, Ink knot names, ``#line:`` ids).
"""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True)
class Action:
    """What a node does to the game when its line is said."""

    kind: str  # "call": a tool call; "set_stage": a quest moves on
    name: str  # tool id, or quest id
    args: dict[str, object] = dataclasses.field(default_factory=dict)  # call arguments, or
    # {"stage": id} for set_stage


@dataclasses.dataclass(frozen=True)
class Option:
    """A line the player may choose, and where it leads."""

    text: str
    to: str
    once: bool = True  # a question disappears once asked; "goodbye" stays
    guard: str | None = None  # an item the player must carry for it to show
    # Shows only while the tree's quest is at one of these stages (what opens once the
    # conversation's unlock has happened, or the game moved the quest on elsewhere).
    stages: tuple[str, ...] = ()


@dataclasses.dataclass
class Node:
    """One NPC line."""

    id: str
    speaker: str  # character id
    text: str
    options: list[Option] = dataclasses.field(default_factory=list)
    reveals: tuple[str, ...] = ()  # fact ids this line tells
    actions: tuple[Action, ...] = ()
    check: str = "passed"  # what the line checker did: passed, regenerated, repaired, ...
    violations: tuple[str, ...] = ()  # found in generated drafts (none shipped)
    end: bool = False  # the conversation ends after this line


@dataclasses.dataclass
class Tree:
    """A generated conversation for one dialogue spec."""

    world: str
    spec: str
    npc: str
    npc_name: str
    start: str
    nodes: dict[str, Node]
    quest: str | None = None
    entry_stage: str | None = None
    required: tuple[str, ...] = ()  # facts on the main path
    reveal: tuple[str, ...] = ()  # facts on some path
    seed: int = 0

    def to_json(self) -> dict[str, Any]:
        """Our JSON export (schema: README, "Dialogue trees")."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Tree:
        """Read our JSON export back; raises KeyError/TypeError on a malformed file."""
        nodes = {}
        for key, n in raw["nodes"].items():
            nodes[key] = Node(
                id=n["id"], speaker=n["speaker"], text=n["text"],
                options=[Option(**{**o, "stages": tuple(o.get("stages", ()))})
                         for o in n.get("options", [])],
                reveals=tuple(n.get("reveals", ())),
                actions=tuple(Action(**a) for a in n.get("actions", ())),
                check=n.get("check", "passed"), violations=tuple(n.get("violations", ())),
                end=bool(n.get("end", False)))
        return cls(world=raw["world"], spec=raw["spec"], npc=raw["npc"],
                   npc_name=raw["npc_name"], start=raw["start"], nodes=nodes,
                   quest=raw.get("quest"), entry_stage=raw.get("entry_stage"),
                   required=tuple(raw.get("required", ())),
                   reveal=tuple(raw.get("reveal", ())), seed=int(raw.get("seed", 0)))
