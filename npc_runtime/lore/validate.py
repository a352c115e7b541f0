"""
Meaning checks across a whole world: ids unique, references resolve, quest stage graphs
well formed, tools coherent. Runs after each file passed the structural checks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from npc_runtime.lore.diagnostics import Diagnostic, Location
from npc_runtime.lore.schema import ENTITY_KINDS, FILE, Checker, Ref, suggest
from npc_runtime.lore.world_tests import check_tests
from npc_runtime.lore.yaml_source import Path_, SourceMap

ID_KINDS = (*ENTITY_KINDS, "facts", "quests", "tools", "dialogues")
_SINGULAR = {"characters": "character", "factions": "faction", "locations": "location",
             "items": "item", "creatures": "creature", "things": "thing", "facts": "fact",
             "quests": "quest", "tools": "tool", "dialogues": "dialogue"}


@dataclasses.dataclass
class Merged:
    """All files' data as one document, with one source map over it."""

    data: dict[str, Any] = dataclasses.field(default_factory=dict)
    sources: SourceMap = dataclasses.field(default_factory=SourceMap)


def merge(files: Iterable[tuple[str, Any, SourceMap]], checker: Checker) -> Merged:
    """Concatenate the top-level lists of every file, re-keying source positions."""
    merged = Merged()
    for display, data, sources in files:
        if not isinstance(data, dict):
            continue
        for key, value in data.items():
            offset = 0
            if isinstance(value, list):
                offset = len(merged.data.setdefault(key, []))
                merged.data[key].extend(value)
            elif key in merged.data:
                checker.diagnostics.append(Diagnostic(
                    sources.at((key,), key=True), "error", "duplicate-section",
                    f"{key!r} is defined in more than one file",
                    f"first at {merged.sources.at((key,), key=True)}"))
                continue
            else:
                merged.data[key] = value
            for table, target in ((sources.values, merged.sources.values),
                                  (sources.keys, merged.sources.keys)):
                for path, loc in table.items():
                    if path and path[0] == key:
                        index = path[1] if len(path) > 1 else None
                        moved = (key, index + offset, *path[2:]) if (
                            isinstance(index, int)) else path
                        target[moved] = loc
        merged.sources.values.setdefault((), Location(display, 1, 1))
    return merged


def check_world(files: list[tuple[str, Any, SourceMap]]) -> tuple[Merged, list[Diagnostic]]:
    """Structural checks per file, then meaning checks on the merged world."""
    diagnostics: list[Diagnostic] = []
    for _, data, sources in files:
        checker = Checker(sources)
        if data is not None:  # None: unreadable, already reported by read_yaml
            checker.check(FILE, data, ())
        diagnostics += checker.diagnostics
    checker = Checker(SourceMap())
    merged = merge(files, checker)
    diagnostics += checker.diagnostics
    unreadable = any(data is None for _, data, _ in files)
    if unreadable or any(d.severity == "error" for d in diagnostics):
        return merged, diagnostics  # meaning checks on broken structure only add noise
    semantic = _Semantic(merged)
    semantic.run()
    return merged, diagnostics + semantic.diagnostics


class _Semantic:
    def __init__(self, merged: Merged) -> None:
        self.data = merged.data
        self.sources = merged.sources
        self.diagnostics: list[Diagnostic] = []
        self.ids: dict[str, tuple[str, Path_]] = {}  # id -> (kind, path of its definition)

    def error(self, path: Path_, code: str, message: str, hint: str = "") -> None:
        self.diagnostics.append(Diagnostic(self.sources.at(path), "error", code, message, hint))

    def warn(self, path: Path_, code: str, message: str, hint: str = "") -> None:
        self.diagnostics.append(Diagnostic(self.sources.at(path), "warning", code, message,
                                           hint))

    def items(self, kind: str) -> list[tuple[int, dict[str, Any]]]:
        return list(enumerate(self.data.get(kind, [])))

    def run(self) -> None:
        self._check_has_characters()
        if "world" not in self.data:
            self.warn((), "no-world", "no file has a 'world:' section with the world's name",
                      "add world: {name: ..., setting: ...}")
        self._collect_ids()
        checker = Checker(self.sources)
        checker.check(FILE, self.data, ())  # again, on the merged data, to gather refs
        for ref in checker.refs:
            self._resolve(ref)
        for i, quest in self.items("quests"):
            self._check_quest(i, quest)
        self._check_stage_refs()
        for i, tool in self.items("tools"):
            self._check_tool(i, tool)
        self._check_characters()
        self._check_facts()
        self.diagnostics += check_tests(self.data, self.sources)

    def _check_has_characters(self) -> None:
        # The one place that says a world without an NPC is no world: lore validate,
        # serve's first load, LoadWorld and hot reload all go through here.
        if self.data.get("characters"):
            return
        hint = ("add a character under characters: with an id, a name and a persona, e.g. "
                "characters: [{id: maren, name: Maren, persona: {traits: [kind]}}]")
        code, what = (("empty-world", "the world is empty: no file defines anything") if not
                      self.data else ("no-characters", "the world has no characters"))
        self.diagnostics.append(Diagnostic(
            self.sources.at(("characters",), key=True), "error", code,
            f"{what}, so there is no NPC to talk to", hint))

    def _collect_ids(self) -> None:
        for kind in ID_KINDS:
            for i, entry in self.items(kind):
                ident = entry["id"]
                path: Path_ = (kind, i, "id")
                if ident in self.ids:
                    other_kind, other = self.ids[ident]
                    self.error(path, "duplicate-id",
                               f"id {ident!r} is already used by a {_SINGULAR[other_kind]}",
                               f"first defined at {self.sources.at(other)}; ids are global")
                else:
                    self.ids[ident] = (kind, path)

    def _resolve(self, ref: Ref) -> None:
        found = self.ids.get(ref.value)
        if found and found[0] in ref.kinds:
            return
        wanted = " or ".join(sorted({_SINGULAR[k] for k in ref.kinds}))
        if found:
            self.error(ref.path, "wrong-kind", f"{ref.value!r} is a {_SINGULAR[found[0]]}, "
                       "which cannot be used here", f"expected a {wanted}")
            return
        candidates = [i for i, (k, _) in self.ids.items() if k in ref.kinds]
        what = wanted if len(ref.kinds) <= 2 else "id"
        self.error(ref.path, "unknown-reference", f"unknown {what} {ref.value!r}",
                   suggest(ref.value, candidates) or f"define it under "
                   f"{' or '.join(sorted(ref.kinds))}")

    def _check_quest(self, qi: int, quest: dict[str, Any]) -> None:
        stages = quest.get("stages", [])
        if not stages:
            self.error(("quests", qi, "stages"), "no-stages", f"quest {quest['id']!r} has no "
                       "stages")
            return
        index: dict[str, int] = {}
        for si, stage in enumerate(stages):
            if stage["id"] in index:
                self.error(("quests", qi, "stages", si, "id"), "duplicate-stage",
                           f"stage {stage['id']!r} appears twice in quest {quest['id']!r}")
            index.setdefault(stage["id"], si)
        edges: dict[str, list[str]] = {s["id"]: [] for s in stages}
        for si, stage in enumerate(stages):
            for ti, move in enumerate(stage.get("next", [])):
                path: Path_ = ("quests", qi, "stages", si, "next", ti, "to")
                if move["to"] not in index:
                    self.error(path, "unknown-stage", f"quest {quest['id']!r} has no stage "
                               f"{move['to']!r}", suggest(move["to"], index))
                else:
                    edges[stage["id"]].append(move["to"])
                self._check_transition_args(("quests", qi, "stages", si, "next", ti),
                                            move["when"])
            here: Path_ = ("quests", qi, "stages", si)
            if not stage.get("next") and not stage.get("end"):
                self.error(here, "dead-end", f"stage {stage['id']!r} has no 'next' and no "
                           "'end'", "add transitions, or end: complete / end: fail")
            if stage.get("next") and stage.get("end"):
                self.warn(here, "end-with-next", f"final stage {stage['id']!r} also has "
                          "'next'; the quest ends there, so they are never used")
        reach = reachable_sets(edges)
        start = stages[0]["id"]
        ends = {s["id"] for s in stages if s.get("end")}
        if not ends:
            self.error(("quests", qi, "id"), "no-end", f"quest {quest['id']!r} has no final "
                       "stage", "mark one with end: complete (or fail)")
            return
        for sid, si in index.items():
            path = ("quests", qi, "stages", si, "id")
            if sid not in reach[start]:
                self.error(path, "unreachable-stage", f"stage {sid!r} of quest "
                           f"{quest['id']!r} cannot be reached from {start!r}",
                           "add a 'next' leading to it, or remove it")
            elif not reach[sid] & ends:
                self.error(path, "no-exit", f"stage {sid!r} of quest {quest['id']!r} can "
                           "never reach a final stage (a cycle without exit)")

    def _check_transition_args(self, path: Path_, when: dict[str, Any]) -> None:
        if "tool" not in when or when["tool"] not in self.ids:
            return
        tool = next(t for _, t in self.items("tools") if t["id"] == when["tool"])
        for name in when.get("args", {}):
            if name not in tool.get("params", {}):
                self.error((*path, "when", "args", name), "unknown-param",
                           f"tool {tool['id']!r} has no parameter {name!r}",
                           suggest(name, tool.get("params", {})))

    def _stage_exists(self, path: Path_, ref: dict[str, Any]) -> None:
        quest = next((q for _, q in self.items("quests") if q["id"] == ref["quest"]), None)
        if quest is None:
            return  # already reported as an unknown quest
        names = [s["id"] for s in quest.get("stages", [])]
        if ref["stage"] not in names:
            self.error((*path, "stage"), "unknown-stage", f"quest {ref['quest']!r} has no "
                       f"stage {ref['stage']!r}", suggest(ref["stage"], names))

    def _check_stage_refs(self) -> None:
        for i, fact in self.items("facts"):
            if "from" in fact:
                self._stage_exists(("facts", i, "from"), fact["from"])
            when = fact.get("tell_when", {})
            if "stage" in when:
                self._stage_exists(("facts", i, "tell_when", "stage"), when["stage"])
        for i, tool in self.items("tools"):
            if "stage" in tool.get("requires", {}):
                self._stage_exists(("tools", i, "requires", "stage"), tool["requires"]["stage"])
            for e, effect in enumerate(tool.get("effects", [])):
                if "set_stage" in effect:
                    self._stage_exists(("tools", i, "effects", e, "set_stage"),
                                       effect["set_stage"])
        for i, spec in self.items("dialogues"):
            for key in ("entry_stage", "unlock_stage"):
                if key in spec:
                    if "quest" not in spec:
                        self.error(("dialogues", i, key), "needs-quest",
                                   f"{key} needs the dialogue's 'quest'")
                    else:
                        self._stage_exists(("dialogues", i),
                                           {"quest": spec["quest"], "stage": spec[key]})

    def _check_tool(self, i: int, tool: dict[str, Any]) -> None:
        params = tool.get("params", {})
        for name, param in params.items():
            path: Path_ = ("tools", i, "params", name)
            if "from" in param and param["type"] != "string":
                self.error((*path, "type"), "from-needs-string", f"parameter {name!r} takes "
                           f"values from {param['from']}, so its type must be string")
            if "from" in param and "enum" in param:
                self.error(path, "from-and-enum", f"parameter {name!r} has both 'from' and "
                           "'enum'; keep one")
            low, high = param.get("minimum"), param.get("maximum")
            if low is not None and high is not None and low > high:
                self.error(path, "empty-range", f"parameter {name!r}: minimum {low} > "
                           f"maximum {high}")
        requires = tool.get("requires", {})
        named: list[tuple[str, str | None, Path_]] = [
            ("has_item", requires.get("has_item"), ("tools", i, "requires", "has_item"))]
        named += [("give_player", e.get("give_player"), ("tools", i, "effects", n))
                  for n, e in enumerate(tool.get("effects", []))]
        for key, param_name, path in named:
            if param_name is not None and param_name not in params:
                self.error(path, "unknown-param", f"{key} names {param_name!r}, which is not a "
                           f"parameter of tool {tool['id']!r}", suggest(param_name, params))
        if tool.get("on_mention") and not any("from" in p or "enum" in p
                                              for p in params.values()):
            self.error(("tools", i, "on_mention"), "mention-needs-param",
                       f"tool {tool['id']!r} is called on a mention but has no parameter "
                       "taking lore values (from: or enum:) for the thing named")
        confirm = tool.get("confirm_with")
        asker = next((t for _, t in self.items("tools") if t["id"] == confirm), None)
        if confirm == tool["id"]:
            self.error(("tools", i, "confirm_with"), "confirms-itself",
                       f"tool {tool['id']!r} cannot confirm with itself; name the tool that "
                       "asks the player first")
        elif asker is not None:
            missing = [name for name, p in asker.get("params", {}).items()
                       if not p.get("optional") and name not in params]
            if missing:
                self.error(("tools", i, "confirm_with"), "confirm-params",
                           f"{confirm!r} needs {', '.join(map(repr, missing))}, which "
                           f"{tool['id']!r} does not have: it is called with the same arguments")

    def _check_characters(self) -> None:
        tools = {t["id"]: t for _, t in self.items("tools")}
        for i, npc in self.items("characters"):
            speaks = npc.get("knows") or npc.get("tools")  # background characters need none
            if speaks and "persona" not in npc:
                self.warn(("characters", i, "id"), "no-persona", f"character {npc['id']!r} has "
                          "no persona; the model will improvise one")
            if npc.get("tools") and not npc.get("fallback_lines"):
                self.warn(("characters", i, "id"), "no-fallback", f"character {npc['id']!r} "
                          "has no fallback_lines", "rejected lines are replaced by these")
            for t, tool_id in enumerate(npc.get("tools", [])):
                params = tools.get(tool_id, {}).get("params", {})
                if any(p.get("from") == "npc.inventory" for p in params.values()) and not (
                        npc.get("inventory")):
                    self.warn(("characters", i, "tools", t), "empty-inventory",
                              f"{npc['id']!r} may use {tool_id!r}, which draws from the NPC's "
                              "inventory, but has no inventory")
            self._check_quest_items(i, npc, tools)

    def _check_quest_items(self, i: int, npc: dict[str, Any], tools: dict[str, Any]) -> None:
        """An item a quest tool hands over only from a stage on, that another tool of the
        same NPC gives from its inventory at any stage: the quest can be skipped (a
        cooper's "sell me those wedges" took the bridge gang's wedges before the quest
        reached them)."""
        mine = [tools[t] for t in npc.get("tools", []) if t in tools]
        stocked = {entry.get("item") for entry in npc.get("inventory", [])}
        guarded = {item: (tool["id"], tool["requires"]["stage"]["stage"]) for tool in mine
                   if isinstance(tool.get("requires", {}).get("stage"), dict)
                   for item in _gift_param(tool).get("enum", []) if item in stocked}
        for tool in mine:
            if (tool.get("requires", {}).get("stage")
                    or _gift_param(tool).get("from") != "npc.inventory"):
                continue
            for item in sorted(guarded):
                quest_tool, stage = guarded[item]
                self.warn(("characters", i, "tools", npc["tools"].index(tool["id"])),
                          "quest-item-sold",
                          f"{npc['id']!r} can give {item!r} through {tool['id']!r} at any "
                          f"stage, though {quest_tool!r} hands it over only from stage "
                          f"{stage!r} on", f"give {tool['id']!r} a requires stage, or let "
                          f"{quest_tool!r} alone hand it over: drop its has_item and take "
                          f"{item!r} out of the inventory")

    def _check_facts(self) -> None:
        told: set[str] = set()
        for _, npc in self.items("characters"):
            told.update(npc.get("knows", []))
        for _, quest in self.items("quests"):
            for stage in quest.get("stages", []):
                told.update(r["fact"] for r in stage.get("reveals", []))
                for ids in stage.get("unlocks", {}).values():
                    told.update(ids)
        for i, fact in self.items("facts"):
            if fact.get("tell_when") and not fact.get("secret"):
                self.warn(("facts", i, "tell_when"), "tell-when-unused", f"fact {fact['id']!r}"
                          " has tell_when but is not secret", "add secret: true")
            if not fact.get("known_by") and fact["id"] not in told:
                self.warn(("facts", i, "id"), "unknown-to-all", f"no character ever knows fact "
                          f"{fact['id']!r}", "add known_by, or list it in a character's knows")


def _gift_param(tool: dict[str, Any]) -> dict[str, Any]:
    """The parameter naming what ``tool`` hands the player ({} if it hands nothing)."""
    given = next((e.get("give_player") for e in tool.get("effects", [])
                  if isinstance(e, dict) and e.get("give_player")), None)
    param = tool.get("params", {}).get(given, {})
    return param if isinstance(param, dict) else {}


def reachable_sets(edges: dict[str, list[str]]) -> dict[str, frozenset[str]]:
    """For each node, every node reachable from it (itself included)."""
    out: dict[str, frozenset[str]] = {}
    for start in edges:
        seen, stack = {start}, [start]
        while stack:
            for nxt in edges.get(stack.pop(), []):
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        out[start] = frozenset(seen)
    return out
