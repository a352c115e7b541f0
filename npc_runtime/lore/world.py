"""
A world v0: one YAML file of characters and facts.

Deliberately small; the full lore schema (quests, stages, tools, validation) replaces it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import yaml

from npc_runtime.errors import LoreError, UnknownNpcError

MAX_WORLD_BYTES = 2 * 1024 * 1024


@dataclasses.dataclass(frozen=True)
class Fact:
    """One true statement about the world."""

    id: str
    text: str


@dataclasses.dataclass(frozen=True)
class Character:
    """An NPC: who they are, how they talk, what they know."""

    id: str
    name: str
    role: str
    traits: tuple[str, ...]
    speech: str
    backstory: str
    knows: tuple[str, ...]  # fact ids


@dataclasses.dataclass(frozen=True)
class World:
    """A loaded world: setting text, characters and facts by id."""

    name: str
    setting: str
    characters: dict[str, Character]
    facts: dict[str, Fact]

    def character(self, npc_id: str) -> Character:
        """
        The NPC with this id.

        Raises:
            UnknownNpcError: No such NPC; the message lists the ones that exist.
        """
        try:
            return self.characters[npc_id]
        except KeyError:
            known = ", ".join(sorted(self.characters)) or "none"
            raise UnknownNpcError(f"no NPC {npc_id!r} in world {self.name!r} (known: {known})") \
                from None

    def facts_known_by(self, character: Character) -> list[Fact]:
        """The facts this NPC may talk about, in authored order."""
        return [self.facts[f] for f in character.knows]


def load_world(path: Path) -> World:
    """
    Load ``world.yaml`` from a folder (or the file itself).

    Raises:
        LoreError: The file is missing, not YAML, or does not match the v0 shape;
            the message starts with ``file:line:column`` where one is known.
    """
    file = path / "world.yaml" if path.is_dir() else path
    if not file.is_file():
        raise LoreError(f"{file}: world file not found (pass --world FOLDER with a world.yaml)")
    if file.stat().st_size > MAX_WORLD_BYTES:
        raise LoreError(f"{file}: larger than {MAX_WORLD_BYTES} bytes")
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise LoreError(f"{file}: not UTF-8 text ({exc})") from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark else str(file)
        raise LoreError(f"{where}: invalid YAML: {exc.problem}") from exc
    try:
        return _build(raw)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise LoreError(f"{file}: {exc}") from exc


def _build(raw: Any) -> World:
    if not isinstance(raw, dict):
        raise ValueError("top level must be a mapping with world, characters and facts")
    facts = {f["id"]: Fact(id=f["id"], text=str(f["text"]).strip()) for f in raw.get("facts", [])}
    characters: dict[str, Character] = {}
    for c in raw.get("characters", []):
        persona = c.get("persona", {})
        unknown = [f for f in c.get("knows", []) if f not in facts]
        if unknown:
            raise ValueError(f"character {c['id']!r} knows unknown facts {unknown}")
        characters[c["id"]] = Character(
            id=c["id"], name=c["name"], role=c.get("role", ""),
            traits=tuple(persona.get("traits", [])), speech=persona.get("speech", ""),
            backstory=str(persona.get("backstory", "")).strip(), knows=tuple(c.get("knows", [])),
        )
    if not characters:
        raise ValueError("a world needs at least one character")
    meta = raw.get("world", {})
    return World(name=meta.get("name", "unnamed"), setting=str(meta.get("setting", "")).strip(),
                 characters=characters, facts=facts)
