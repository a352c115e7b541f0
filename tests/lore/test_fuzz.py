"""Property tests: whatever the YAML, the loader gives a world or located errors, never a crash."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from npc_runtime.lore.loader import check_world_files
from npc_runtime.lore.model import World

HARBOR = Path(__file__).parents[2] / "examples" / "worlds" / "harbor" / "world.yaml"
SECTIONS = ["world", "characters", "factions", "locations", "items", "creatures", "things",
            "facts", "quests", "tools", "dialogues", "nonsense"]
FUZZ = settings(max_examples=120, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                    st.floats(allow_nan=False), st.text(max_size=20),
                    st.sampled_from(["maren", "eel_stew", "noises_below", "asked", "string",
                                     "npc.inventory", "engine", "complete"]))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.sampled_from(["id", "name", "text", "stages", "next", "to", "when",
                                     "knows", "params", "type", "from", "persona", "x"]),
                    inner, max_size=5)), max_leaves=30)


def _check_outcome(text: str | bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / "world.yaml"
        file.write_bytes(text.encode() if isinstance(text, str) else text)
        world, diagnostics = check_world_files(Path(tmp))
    if world is None:
        errors = [d for d in diagnostics if d.severity == "error"]
        assert errors, "an invalid world must say why"
        assert all(d.location.line >= 1 and d.location.column >= 1 for d in errors)
        assert all(d.location.file == "world.yaml" for d in errors)
    else:
        assert isinstance(world, World)


@FUZZ
@given(st.text(max_size=300))
def test_arbitrary_text_never_crashes(text: str) -> None:
    """Any text at all: a world or located errors."""
    _check_outcome(text)


@FUZZ
@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_crash(data: bytes) -> None:
    """Any bytes at all, including invalid UTF-8: a world or located errors."""
    _check_outcome(data)


@FUZZ
@given(st.dictionaries(st.sampled_from(SECTIONS), values, max_size=6))
def test_random_structures_never_crash(document: dict[str, Any]) -> None:
    """Structured garbage under real section names: a world or located errors."""
    _check_outcome(yaml.safe_dump(document))


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _paths(value, (*prefix, i))
    return out


BASE = yaml.safe_load(HARBOR.read_text())
BASE_PATHS = [p for p in _paths(BASE) if p]


@FUZZ
@given(st.sampled_from(BASE_PATHS), st.one_of(st.just("<delete>"), values))
def test_mutated_valid_world_never_crashes(path: tuple[Any, ...], replacement: Any) -> None:
    """One value of a valid world deleted or replaced: still a world or located errors."""
    document = yaml.safe_load(HARBOR.read_text())
    parent = document
    for part in path[:-1]:
        parent = parent[part]
    if replacement == "<delete>":
        del parent[path[-1]]
    else:
        parent[path[-1]] = replacement
    _check_outcome(yaml.safe_dump(document))
