"""The v0 world loader."""

from __future__ import annotations

from pathlib import Path

import pytest

from npc_runtime.errors import LoreError, UnknownNpcError
from npc_runtime.lore.world import World, load_world


def test_example_world_loads(world: World) -> None:
    """The Quickstart world has Maren with her facts."""
    maren = world.character("maren")
    assert maren.name == "Maren Ashveil"
    assert [f.id for f in world.facts_known_by(maren)][:2] == ["silent_bell", "courier_rumour"]


def test_unknown_npc_lists_the_known_ones(world: World) -> None:
    """Asking for a missing NPC names the ones that exist."""
    with pytest.raises(UnknownNpcError, match="known: maren, oskar"):
        world.character("marn")


def test_yaml_syntax_error_names_file_line_column(tmp_path: Path) -> None:
    """Broken YAML is reported as file:line:column."""
    (tmp_path / "world.yaml").write_text("characters:\n  - id: a\n    name: [unclosed\n")
    with pytest.raises(LoreError, match=r"world\.yaml:4:1: invalid YAML"):
        load_world(tmp_path)


def test_unknown_fact_reference_is_named(tmp_path: Path) -> None:
    """A character knowing a fact that does not exist is an error naming both."""
    (tmp_path / "world.yaml").write_text(
        "characters:\n  - {id: a, name: A, knows: [ghost]}\nfacts: []\n")
    with pytest.raises(LoreError, match=r"character 'a' knows unknown facts \['ghost'\]"):
        load_world(tmp_path)


def test_missing_world_file_says_what_to_pass(tmp_path: Path) -> None:
    """A folder without world.yaml points at --world."""
    with pytest.raises(LoreError, match="--world"):
        load_world(tmp_path)
