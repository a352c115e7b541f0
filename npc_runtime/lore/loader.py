"""
Load a world folder: read every YAML file, check it like a compiler, build the World.

``load_world`` returns a World or raises with every diagnostic; it never returns a
partial world.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from npc_runtime.errors import LoreError, PermissionDeniedError
from npc_runtime.lore.diagnostics import Diagnostic, Location, WorldInvalidError
from npc_runtime.lore.model import (
    Character,
    Condition,
    DialogueSpec,
    Entity,
    Fact,
    Persona,
    Quest,
    Relationship,
    Stage,
    StageRef,
    Tool,
    ToolParam,
    Transition,
    World,
)
from npc_runtime.lore.schema import ENTITY_KINDS
from npc_runtime.lore.validate import check_world, reachable_sets
from npc_runtime.lore.world_tests import build_tests
from npc_runtime.lore.yaml_source import SourceMap, read_yaml

MAX_FILES = 500


def world_files(path: Path, *, within: Sequence[Path] = (), label: str | None = None
                ) -> list[Path]:
    """
    The YAML files of a world: the file itself, or ``*.yaml``/``*.yml`` under a folder.

    Args:
        path: The world folder or file.
        within: Resolved folders every file must resolve into (a symlinked file pointing
            elsewhere is refused); empty: no confinement.
        label: How messages name ``path`` (default: the path itself), so a server can
            keep its absolute paths out of what clients read.

    Raises:
        LoreError: No such folder or file, no YAML files, or too many.
        PermissionDeniedError: A file resolves outside every folder of ``within``.
    """
    name = label or str(path)
    if path.is_file():
        files = [path]
    elif not path.is_dir():
        raise LoreError(f"{name}: no such world folder or file (pass --world FOLDER)")
    else:
        files = sorted(p for p in path.rglob("*")
                       if p.suffix in {".yaml", ".yml"} and p.is_file())
    if not files:
        raise LoreError(f"{name}: no .yaml files in this folder")
    if len(files) > MAX_FILES:
        raise LoreError(f"{name}: {len(files)} YAML files; the limit is {MAX_FILES}")
    for file in files:
        real = file.resolve()
        if within and not any(real.is_relative_to(root) for root in within):
            shown = name if file == path else f"{name}/{file.relative_to(path).as_posix()}"
            raise PermissionDeniedError(f"{shown!r} leads outside the folders worlds may be "
                                        "loaded from (a symbolic link?)")
    return files


def check_world_files(path: Path, *, within: Sequence[Path] = (), label: str | None = None
                      ) -> tuple[World | None, list[Diagnostic]]:
    """
    Validate a world; returns the World (None if there are errors) and all diagnostics.

    ``within`` and ``label`` are as for :func:`world_files`; ``label`` also names a
    single-file world in diagnostics.

    Raises:
        LoreError: The path has no YAML files at all.
        PermissionDeniedError: A file resolves outside ``within``.
    """
    files = world_files(path, within=within, label=label)
    base = path if path.is_dir() else path.parent
    parsed, diagnostics = [], []
    digest = hashlib.sha256()
    for file in files:
        display = str(file.relative_to(base)) if path.is_dir() else label or str(file)
        data, sources, errors = read_yaml(file, display)
        diagnostics += errors
        parsed.append((display, data, sources))
        digest.update(display.encode() + b"\0" + file.read_bytes() + b"\0")
    merged, more = check_world(parsed)
    diagnostics += more
    if any(d.severity == "error" for d in diagnostics):
        return None, diagnostics
    try:
        return _build(merged.data, merged.sources, digest.hexdigest()[:16],
                      default_name=base.name), diagnostics
    except (KeyError, TypeError, ValueError, StopIteration) as exc:  # a checker gap: say so
        where = Location(label or str(path), 1, 1)
        return None, [*diagnostics, Diagnostic(where, "error", "internal",
                                               f"could not build the world: {exc!r}",
                                               "please report this with the file")]


def load_world(path: Path) -> World:
    """
    Load and validate a world folder (or a single YAML file).

    Raises:
        WorldInvalidError: The world has errors; ``.diagnostics`` lists them all.
        LoreError: The path is missing or has no YAML files.
    """
    world, diagnostics = check_world_files(path)
    if world is None:
        raise WorldInvalidError(diagnostics)
    return world


def _t(values: Any) -> tuple[Any, ...]:
    return tuple(values or ())


def _stage_ref(raw: dict[str, str] | None) -> StageRef | None:
    return StageRef(raw["quest"], raw["stage"]) if raw else None


def _build(data: dict[str, Any], sources: SourceMap, version: str, default_name: str
           ) -> World:
    entities: dict[str, Entity] = {}
    for kind in ENTITY_KINDS:
        for e in data.get(kind, []):
            entities[e["id"]] = Entity(e["id"], kind, e["name"], _t(e.get("aliases")),
                                       e.get("description", ""), e.get("price"))
    characters = {c["id"]: _character(c) for c in data.get("characters", [])}
    facts = {f["id"]: Fact(
        id=f["id"], text=f["text"].strip(), about=_t(f.get("about")),
        known_by=_t(f.get("known_by")), since=_stage_ref(f.get("from")),
        secret=f.get("secret", False), tell_when=_condition(f.get("tell_when")),
        available=f.get("available", True), says=f.get("says", "").strip(),
    ) for f in data.get("facts", [])}
    quests = {q["id"]: _quest(q) for q in data.get("quests", [])}
    tools = {t["id"]: _tool(t) for t in data.get("tools", [])}
    dialogues = {d["id"]: DialogueSpec(
        id=d["id"], participants=_t(d["participants"]), quest=d.get("quest"),
        entry_stage=d.get("entry_stage"), unlock_stage=d.get("unlock_stage"),
        reveal=_t(d.get("reveal")), required=_t(d.get("required")),
        max_nodes=d.get("limits", {}).get("max_nodes", 40),
        max_depth=d.get("limits", {}).get("max_depth", 10),
    ) for d in data.get("dialogues", [])}
    gazetteer: dict[str, str] = {}
    for entity in entities.values():
        for name in (entity.id, entity.name, *entity.aliases):
            gazetteer.setdefault(name.lower(), entity.id)
    meta = data.get("world", {})
    return World(name=meta.get("name", default_name), setting=meta.get("setting", "").strip(),
                 version=version, characters=characters, entities=entities, facts=facts,
                 quests=quests, tools=tools, dialogues=dialogues, gazetteer=gazetteer,
                 tests=build_tests(data.get("tests", []), sources),
                 acting_at=meta.get("acting_at"))


def _character(c: dict[str, Any]) -> Character:
    p = c.get("persona", {})
    speech = p.get("speech", {})
    return Character(
        id=c["id"], name=c["name"], aliases=_t(c.get("aliases")), role=c.get("role", ""),
        faction=c.get("faction"), location=c.get("location"),
        persona=Persona(traits=_t(p.get("traits")), backstory=p.get("backstory", "").strip(),
                        speech_style=speech.get("style", ""), habits=_t(speech.get("habits")),
                        sample_lines=_t(speech.get("sample_lines")), goals=_t(p.get("goals")),
                        examples=tuple((e["player"].strip(), e["npc"].strip())
                                       for e in speech.get("examples", []))),
        relationships=tuple(Relationship(r["to"], r["kind"], r.get("note", ""))
                            for r in c.get("relationships", [])),
        inventory={i["item"]: i.get("count", 1) for i in c.get("inventory", [])},
        knows=_t(c.get("knows")), tools=_t(c.get("tools")),
        fallback_lines=_t(c.get("fallback_lines")), description=c.get("description", ""),
        never_say=_t(c.get("never_say")), acting_at=c.get("acting_at"),
    )


def _condition(raw: dict[str, Any] | None) -> Condition | None:
    if not raw:
        return None
    return Condition(stage=_stage_ref(raw.get("stage")), revealed=_t(raw.get("revealed")),
                     player_has=raw.get("player_has"))


def _quest(q: dict[str, Any]) -> Quest:
    stages = tuple(Stage(
        id=s["id"], objective=s.get("objective", ""),
        reveals=tuple((r["fact"], r["by"]) for r in s.get("reveals", [])),
        unlocks={npc: _t(ids) for npc, ids in s.get("unlocks", {}).items()},
        next=tuple(Transition(to=n["to"], tool=n["when"].get("tool"),
                              args=n["when"].get("args", {}), option=n["when"].get("option"),
                              revealed=n["when"].get("revealed")) for n in s.get("next", [])),
        end=s.get("end"),
    ) for s in q["stages"])
    edges = {s.id: [n.to for n in s.next] for s in stages}
    return Quest(id=q["id"], name=q["name"], description=q.get("description", ""),
                 giver=q.get("giver"), stages=stages, reachable=reachable_sets(edges))


def _tool(t: dict[str, Any]) -> Tool:
    params = tuple(ToolParam(
        name=name, type=p["type"], description=p.get("description", ""), source=p.get("from"),
        enum=_t(p.get("enum")), minimum=p.get("minimum"), maximum=p.get("maximum"),
        optional=p.get("optional", False),
    ) for name, p in t.get("params", {}).items())
    effects = t.get("effects", [])
    return Tool(
        id=t["id"], description=t["description"], params=params, executes=t["executes"],
        requires_stage=_stage_ref(t.get("requires", {}).get("stage")),
        requires_has_item=t.get("requires", {}).get("has_item"),
        sets_stage=tuple(StageRef(e["set_stage"]["quest"], e["set_stage"]["stage"])
                         for e in effects if "set_stage" in e),
        gives_player=next((e["give_player"] for e in effects if "give_player" in e), None),
        examples=tuple(t.get("examples", ())),
        confirm_with=t.get("confirm_with"),
        on_mention=t.get("on_mention", False),
        acting_at=t.get("acting_at"),
        follows=t.get("follows"),
    )
