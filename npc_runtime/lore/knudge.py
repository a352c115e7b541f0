"""
``npc-runtime import knudge``: KNUDGE-format quests to npc-runtime worlds.

KNUDGE (Weir et al.) publishes side quests as: ``entities.json`` (entity -> bio facts),
``sidequests.json``, and per quest ``conversations.json`` (dialogue specs),
``release_facts.tsv`` (objective facts, many redacted as ``offset:length``) and gold trees
``<quest>_NN.json``. Each quest becomes one world folder: participants become characters
knowing their bio facts, objectives become stages (redacted text is marked unavailable,
never invented), conversations become dialogue specs, and the gold trees are copied to
``gold/`` for benchmarks.
"""

from __future__ import annotations

import csv
import dataclasses
import itertools
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from npc_runtime.errors import LoreError
from npc_runtime.lore.loader import check_world_files

REDACTED = re.compile(r"^\d+:\d+$")
UNAVAILABLE = "(text not available in the source data)"


@dataclasses.dataclass
class _Quest:
    name: str
    location: str
    objectives: dict[str, list[tuple[str, str | None]]]  # "O0" -> [(fact id, text or None)]
    entity_facts: dict[str, dict[str, str]]  # entity -> {fact id: text}
    conversations: list[dict[str, Any]]
    gold: list[Path]


def import_knudge(root: Path, out: Path, progress: Callable[[str], None] = print
                  ) -> dict[str, Any]:
    """
    Convert every quest under ``root`` into ``out/<quest>/``; validate each result.

    ``root`` is a folder with ``entities.json`` (``quest_files``, ``writer_quests``) or a
    folder of such folders.

    Returns:
        A report: counts of quests, converted, invalid, facts, redacted facts, and per-quest
        error messages.

    Raises:
        LoreError: ``root`` holds no KNUDGE data.
    """
    roots = [root] if (root / "entities.json").is_file() else sorted(
        d for d in root.iterdir() if (d / "entities.json").is_file()) if root.is_dir() else []
    if not roots:
        raise LoreError(f"{root}: no entities.json here or one level down; pass KNUDGE's "
                        "quest_files folder")
    report: dict[str, Any] = {"quests": 0, "converted": 0, "invalid": 0, "facts": 0,
                              "redacted": 0, "errors": {}}
    for base in roots:
        entities = _read_json(base / "entities.json")
        meta = {q["name"]: q for q in _read_json(base / "sidequests.json").get("quests", [])}
        for quest_dir in sorted(d for d in base.iterdir() if (d / "conversations.json").is_file()):
            report["quests"] += 1
            quest = _read_quest(quest_dir, entities, meta.get(quest_dir.name, {}))
            document = _world(quest)
            target = out / _slug(quest.name)
            _write(target, document, quest.gold)
            facts = document["facts"]
            report["facts"] += len(facts)
            report["redacted"] += sum(not f.get("available", True) for f in facts)
            world, diagnostics = check_world_files(target)
            if world is None:
                report["invalid"] += 1
                report["errors"][quest.name] = [str(d) for d in diagnostics
                                                if d.severity == "error"]
            else:
                report["converted"] += 1
            progress(f"{quest.name}: {len(facts)} facts, "
                     f"{'valid' if world else 'INVALID'} ({report['quests']})")
    return report


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise LoreError(f"{path}: cannot read KNUDGE JSON ({exc})") from exc


def _read_quest(folder: Path, entities: dict[str, dict[str, str]],
                meta: dict[str, Any]) -> _Quest:
    objectives: dict[str, list[tuple[str, str | None]]] = {}
    entity_facts: dict[str, dict[str, str]] = {}
    tsv = folder / "release_facts.tsv"
    if tsv.is_file():
        section: tuple[str, str] | None = None
        with tsv.open(encoding="utf-8", newline="") as fh:
            for row in csv.reader(fh, delimiter="\t"):
                if not row or row[0] == "ID":
                    continue
                key, text = row[0].strip(), (row[1].strip() if len(row) > 1 else "")
                if key.startswith("OBJECTIVE "):
                    section = ("objective", key.split()[1])
                    objectives.setdefault(section[1], [])
                elif not text and not re.match(r"^O\d+_[SB]\d+$", key):
                    section = ("entity", key)
                    entity_facts.setdefault(key, {})
                elif section and section[0] == "objective":
                    objectives[section[1]].append((key, None if REDACTED.match(text) else text))
                elif section:
                    entity_facts[section[1]][key] = text
    for stage, parts in meta.get("objectives", {}).items():  # writer quests: full text
        for group, prefix in (("description", "S"), ("blurb", "B")):
            for n, text in parts.get(group, {}).items():
                objectives.setdefault(stage, []).append((f"{stage}_{prefix}{n[1:]}", text))
    conversations = _read_json(folder / "conversations.json")
    for conv in conversations:
        for person in conv.get("participants", []):
            if person not in entity_facts and person in entities:
                entity_facts[person] = dict(entities[person])
    gold = sorted(p for p in folder.glob(f"{folder.name}_*.json"))
    return _Quest(folder.name, meta.get("location", ""), objectives, entity_facts,
                  conversations, gold)


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    return slug if slug[:1].isalpha() else f"x_{slug}"


def _title(key: str) -> str:
    return " ".join(part.capitalize() for part in re.split(r"[_\-]+", key) if part)[:80]


def _stages(quest: _Quest) -> list[str]:
    return sorted(quest.objectives, key=lambda o: int(o[1:]) if o[1:].isdigit() else 0)


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _world(quest: _Quest) -> dict[str, Any]:
    quest_id = _slug(quest.name)
    people = sorted({p for c in quest.conversations for p in c.get("participants", [])})
    characters = [{"id": _slug(p), "name": _title(p),
                   "knows": [_slug(f) for f in quest.entity_facts.get(p, {})]} for p in people]
    for character in characters:
        if not character["knows"]:
            del character["knows"]
    things = [{"id": _slug(e), "name": _title(e)} for e in sorted(quest.entity_facts)
              if e not in people]
    facts: list[dict[str, Any]] = []
    everyone = sorted(_slug(p) for p in people)
    for entity, entries in sorted(quest.entity_facts.items()):
        for fid, text in entries.items():
            fact: dict[str, Any] = {"id": _slug(fid), "text": text or UNAVAILABLE,
                                    "about": [_slug(entity)]}
            if entity not in people and everyone:  # lore of the quest: common knowledge
                fact["known_by"] = everyone
            if not text:
                fact["available"] = False
            facts.append(fact)
    stages = _stages(quest)
    speakers: dict[str, set[str]] = {s: set() for s in stages}
    for conv in quest.conversations:
        for stage in _as_list(conv.get("in_objective")):
            speakers.setdefault(stage, set()).update(conv.get("participants", []))
    for stage in stages:
        for fid, line in quest.objectives[stage]:
            fact = {"id": _slug(fid), "text": line or UNAVAILABLE,
                    "from": {"quest": quest_id, "stage": _slug(stage)}}
            if speakers.get(stage):
                fact["known_by"] = sorted(_slug(p) for p in speakers[stage])
            if line is None:
                fact["available"] = False
            facts.append(fact)
    return {
        "world": {"name": _title(quest.name), "setting": f"Imported from KNUDGE "
                  f"({quest.location or 'unknown location'})."},
        "characters": characters,
        "things": things,
        "facts": facts,
        "quests": [{"id": quest_id, "name": _title(quest.name),
                    "stages": _quest_stages(quest, stages)}],
        "dialogues": [_dialogue(c, quest_id, stages) for c in quest.conversations],
    }


def _quest_stages(quest: _Quest, stages: list[str]) -> list[dict[str, Any]]:
    moves: dict[str, dict[str, str]] = {s: {} for s in stages}  # stage -> {target: option}
    for conv in quest.conversations:
        for src in _as_list(conv.get("in_objective")):
            for dst in _as_list(conv.get("out_objective")):
                if src in moves and dst in moves and src != dst:
                    moves[src].setdefault(dst, f"Finish the conversation {conv['id']}.")
    for here, there in itertools.pairwise(stages):
        moves[here].setdefault(there, f"Complete objective {here}.")
    out = []
    for stage in stages:
        first = next((t for _, t in quest.objectives[stage] if t), None)
        entry: dict[str, Any] = {"id": _slug(stage), "objective": (first or UNAVAILABLE)[:500]}
        if stage == stages[-1]:
            entry["end"] = "complete"
        else:
            entry["next"] = [{"to": _slug(t), "when": {"option": o}}
                             for t, o in moves[stage].items()]
        out.append(entry)
    return out


def _dialogue(conv: dict[str, Any], quest_id: str, stages: list[str]) -> dict[str, Any]:
    spec: dict[str, Any] = {"id": _slug(conv["id"]), "quest": quest_id,
                            "participants": [_slug(p) for p in conv.get("participants", [])]}
    entry = [s for s in _as_list(conv.get("in_objective")) if s in stages]
    unlock = [s for s in _as_list(conv.get("out_objective")) if s in stages]
    if entry:
        spec["entry_stage"] = _slug(entry[0])
    if unlock:
        spec["unlock_stage"] = _slug(unlock[0])
    return spec


def _write(target: Path, document: dict[str, Any], gold: list[Path]) -> None:
    if target.exists():
        shutil.rmtree(target)
    (target / "gold").mkdir(parents=True)
    header = ("# Generated by `npc-runtime import knudge`. Text belongs to the source data's "
              "owners:\n# use it to measure, do not ship it.\n")
    (target / "world.yaml").write_text(
        header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100),
        encoding="utf-8")
    for tree in gold:
        shutil.copy(tree, target / "gold" / tree.name)
