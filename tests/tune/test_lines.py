"""The player lines `model tune` asks: made from the lore and the built-in generic lines,
never from a benchmark file."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from npc_runtime.lore.loader import load_world
from npc_runtime.lore.model import World
from npc_runtime.tune.lines import GENERIC_KINDS, player_lines, speakers, story_points

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def world() -> World:
    """Saltmere: NPCs with secrets, quest stages and tools."""
    return load_world(ROOT / "examples/worlds/saltmere")


def test_fact_lines_name_a_thing_their_facts_are_about(world: World) -> None:
    """Every fact question names (by name) a thing one of its expected facts is about."""
    lines = [line for line in player_lines(world) if line.kind == "fact"]
    assert lines
    for line in lines:
        things = {t for f in line.expect for t in world.facts[f].about}
        names = {world.entities[t].name.lower() for t in things if t in world.entities}
        assert any(name in line.text.lower() for name in names), line


def test_every_speaking_npc_gets_each_generic_kind_once(world: World) -> None:
    """Greetings, farewells, small talk, identity, AI bait, unknowns and rude lines come
    from generic_lines.yaml, asked once per NPC (at its first story point)."""
    lines = list(player_lines(world))
    for npc in speakers(world):
        kinds = {line.kind for line in lines if line.npc == npc.id}
        assert set(GENERIC_KINDS) <= kinds
        greetings = [line for line in lines if line.npc == npc.id and line.kind == "greeting"]
        stages = {str(line.state.stages) for line in greetings}
        assert stages == {"{}"}


def test_a_secret_is_asked_about_while_withheld(world: World) -> None:
    """Maren keeps the courier's identity until the player shows the heron: before that a
    line asks about it (a refusal to learn); with the heron, it is a fact line."""
    lines = [line for line in player_lines(world) if line.npc == "maren"]
    assert any(line.kind == "withheld" and "courier_identity" in line.source
               and not line.state.player_items for line in lines)
    assert any(line.kind == "fact" and "courier_identity" in line.expect
               and line.state.player_items == frozenset({"silver_heron"}) for line in lines)


def test_story_points_differ_in_what_the_npc_knows(world: World) -> None:
    """No two story points of an NPC give it the same knowledge, secrets and tools."""
    for npc in speakers(world):
        views = [(tuple(k.facts), tuple(k.withheld), tuple(k.tools))
                 for _, k in story_points(world, npc.id, 10)]
        assert len(views) == len(set(views))


def test_no_line_is_a_benchmark_line(world: World) -> None:
    """None of the generated lines is a line of the persona benchmark's development sets."""
    benchmark: set[str] = set()
    for name in ("dev.yaml", "heldout.yaml", "dev_conversations.yaml"):
        data = yaml.safe_load((ROOT / "benchmarks/data/persona" / name).read_text())
        benchmark |= {line["text"].lower() for line in data.get("lines", [])}
        benchmark |= {t["text"].lower() for c in data.get("conversations", [])
                      for t in c["turns"]}
    made = {line.text.lower() for line in player_lines(world)}
    assert set() == made & benchmark
