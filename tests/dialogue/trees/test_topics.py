"""
What a tree for a spec that names no facts is about (trees/topics.py), on a small world of
our own in the importer's shape: its stage, its participants, what they name, the quest's
lore; not everything the NPC knows, and not one fixed size.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from npc_runtime.dialogue.trees.generate import _plan
from npc_runtime.dialogue.trees.topics import scene_facts
from npc_runtime.lore.knowledge import view
from npc_runtime.lore.loader import load_world
from npc_runtime.lore.model import World, WorldState

KEEPER, TRADER = "hobb", "pell"
EVERYONE = [KEEPER, TRADER]


def _fact(fid: str, text: str, about: str, **more: Any) -> dict[str, Any]:
    return {"id": fid, "text": text, "about": [about], **more}


def _stage_fact(fid: str, text: str, stage: str, who: list[str]) -> dict[str, Any]:
    return {"id": fid, "text": text, "from": {"quest": "lamp", "stage": stage}, "known_by": who}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    facts = [
        _fact("hobb_01", "Hobb Tallow keeps the lighthouse on Gannet Rock.", KEEPER),
        _fact("hobb_02", "Hobb has not slept since the great lamp went dark.", KEEPER),
        _fact("pell_01", "Pell Moor trades lamp glass from a cart.", TRADER),
        # A thing the scene names: its first two facts introduce it; the third shares words
        # with the scene (lamp, dark); the fourth does not.
        _fact("rock_01", "Gannet Rock is a bare island in the bay.", "rock", known_by=EVERYONE),
        _fact("rock_02", "Thousands of gannets nest on Gannet Rock.", "rock", known_by=EVERYONE),
        _fact("rock_03", "Ships wreck on Gannet Rock when the lamp is dark.", "rock",
              known_by=EVERYONE),
        _fact("rock_04", "Gannet Rock was charted by a surveyor in spring.", "rock",
              known_by=EVERYONE),
        # Quest lore the scene does not name: what it is, no more.
        _fact("mill_01", "The tide mill grinds barley.", "mill", known_by=EVERYONE),
        _fact("mill_02", "The tide mill has a blue wheel.", "mill", known_by=EVERYONE),
        _fact("mill_03", "The tide mill's miller sings at dawn.", "mill", known_by=EVERYONE),
        _stage_fact("o0_s1", "Hobb needs new glass for the great lamp.", "o0", EVERYONE),
        _stage_fact("o1_s1", "The glass comes from the causeway market.", "o1", [TRADER]),
    ]
    document = {
        "world": {"name": "Gannet Bay", "setting": "A windy bay."},
        "characters": [{"id": KEEPER, "name": "Hobb Tallow", "knows": ["hobb_01", "hobb_02"]},
                       {"id": TRADER, "name": "Pell Moor", "knows": ["pell_01"]}],
        "things": [{"id": "rock", "name": "Gannet Rock"}, {"id": "mill", "name": "Tide Mill"}],
        "facts": facts,
        "quests": [{"id": "lamp", "name": "Lamp", "stages": [
            {"id": "o0", "objective": "Find glass for the lamp.",
             "next": [{"to": "o1", "when": {"option": "I will find glass."}}]},
            {"id": "o1", "objective": "Buy the glass.", "end": "complete"}]}],
        "dialogues": [
            {"id": "keeper_talk", "quest": "lamp", "participants": [KEEPER],
             "entry_stage": "o0", "unlock_stage": "o1"},
            {"id": "market_talk", "quest": "lamp", "participants": [TRADER, KEEPER],
             "entry_stage": "o1"},
            {"id": "written", "quest": "lamp", "participants": [KEEPER], "entry_stage": "o0",
             "reveal": ["hobb_01", "mill_03"]},
        ],
    }
    folder = tmp_path_factory.mktemp("gannet_bay")
    (folder / "world.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    return load_world(Path(folder))


def _scene(world: World, spec_id: str) -> list[str]:
    spec = world.dialogues[spec_id]
    npc = spec.participants[0]
    known = view(world, npc, WorldState(stages={"lamp": spec.entry_stage or "o0"}))
    return [f.id for f in scene_facts(world, spec, known)]


def test_a_scene_is_its_stage_its_people_what_they_name_then_the_lore(world: World) -> None:
    """Stage facts first, then the NPC's own, then the named thing's introduction and what
    touches the scene, then two facts of each other thing; the rest stays out."""
    expected = ["o0_s1", "hobb_01", "hobb_02", "rock_01", "rock_02", "rock_03",
                "mill_01", "mill_02"]
    assert _scene(world, "keeper_talk") == expected


def test_other_participants_and_their_stage_change_the_scene(world: World) -> None:
    """At the market the trader speaks: its stage fact and its own facts lead."""
    scene = _scene(world, "market_talk")
    assert scene[:2] == ["o1_s1", "pell_01"]
    assert "rock_04" not in scene


def test_tree_size_follows_the_spec_not_a_fixed_template(world: World) -> None:
    """Two imported specs plan different numbers of answers, both below max_nodes; a written
    spec reveals exactly its named facts."""
    sizes = {}
    for spec_id in ("keeper_talk", "market_talk", "written"):
        spec = world.dialogues[spec_id]
        known = view(world, spec.participants[0],
                     WorldState(stages={"lamp": spec.entry_stage or "o0"}))
        facts, _ = _plan(world, spec, known)
        sizes[spec_id] = [f.id for f in facts]
    assert len(sizes["keeper_talk"]) != len(sizes["market_talk"])
    assert max(len(s) for s in sizes.values()) < world.dialogues["keeper_talk"].max_nodes - 2
    assert sizes["written"] == ["hobb_01", "mill_03"]
