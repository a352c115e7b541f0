"""
A world's conversation tests (``tests:``): read into ``WorldTest``s and checked against
the world's lore. Playing them needs the model and lives in ``dialogue/world_tests.py``.

The shape (types, keys, ids that must exist) is checked by the schema like any other
section; here go the checks that need two parts of the world at once: the NPC speaks,
the tool is its own, the arguments are the tool's and values it could take, the stage
is one of the quest's, an offer is pending only at the end of the history.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from npc_runtime.lore.diagnostics import Diagnostic
from npc_runtime.lore.model import Exchange, ToolCall, WorldState, WorldTest
from npc_runtime.lore.schema import suggest
from npc_runtime.lore.yaml_source import Path_, SourceMap

NONE = "none"  # `expect: none`: no call


def tool_call(raw: Any) -> ToolCall:
    """A ``{tool: ID, args: {...}}`` mapping as a ToolCall; ValueError if it is not one."""
    if not isinstance(raw, dict) or not isinstance(raw.get("tool"), str):
        raise ValueError("a call is {tool: ID, args: {...}}")
    args = raw.get("args") or {}
    if not isinstance(args, dict):
        raise ValueError(f"the args of {raw['tool']!r} must be a mapping")
    return ToolCall(raw["tool"], dict(args))


def expectation(raw: Any) -> ToolCall | None:
    """``expect``: None for ``none`` (or absent), else the call; ValueError otherwise."""
    if raw is None or raw == NONE:
        return None
    if isinstance(raw, dict):
        return tool_call(raw)
    raise ValueError("expect is `none` or {tool: ID, args: {...}}")


def exchanges(raw: Any) -> tuple[Exchange, ...]:
    """A ``history`` list (oldest first) as Exchanges; ValueError on a bad shape."""
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(turn, dict) for turn in raw):
        raise ValueError("history is a list of mappings (player, npc, called, proposed)")
    return tuple(Exchange(
        npc=str(turn.get("npc") or ""), player=str(turn.get("player") or ""),
        called=tool_call(turn["called"]) if turn.get("called") is not None else None,
        proposed=tool_call(turn["proposed"]) if turn.get("proposed") is not None else None,
    ) for turn in raw)


def world_state(raw: Mapping[str, Any] | None) -> WorldState:
    """A test's ``state`` ({stages, has, revealed}) as the player's quest state."""
    raw = raw or {}
    return WorldState(stages=dict(raw.get("stages") or {}),
                      revealed=frozenset(raw.get("revealed") or ()),
                      player_items=frozenset(raw.get("has") or ()))


def build_tests(raw: Sequence[dict[str, Any]], sources: SourceMap) -> tuple[WorldTest, ...]:
    """The tests of a world that passed validation (so every shape is right)."""
    return tuple(WorldTest(
        where=sources.at(("tests", i)), npc=test["npc"], line=test["line"].strip(),
        state=world_state(test.get("state")), history=exchanges(test.get("history")),
        expect=expectation(test["expect"]), note=test.get("note", ""),
    ) for i, test in enumerate(raw))


def check_tests(data: Mapping[str, Any], sources: SourceMap) -> list[Diagnostic]:
    """
    The meaning checks of every test, on a merged world whose references already
    resolved (an unknown NPC, tool or quest is reported there and skipped here).
    """
    checks = _Checks(data, sources)
    for i, test in enumerate(data.get("tests", [])):
        checks.test(("tests", i), test)
    return checks.diagnostics


class _Checks:
    """The checks of one world's tests, with its NPCs, tools and quests by id."""

    def __init__(self, data: Mapping[str, Any], sources: SourceMap) -> None:
        self._sources = sources
        self._npcs = {c["id"]: c for c in data.get("characters", [])}
        self._tools = {t["id"]: t for t in data.get("tools", [])}
        self._quests = {q["id"]: q for q in data.get("quests", [])}
        self.diagnostics: list[Diagnostic] = []

    def _error(self, path: Path_, code: str, message: str, hint: str = "") -> None:
        self.diagnostics.append(Diagnostic(self._sources.at(path), "error", code, message,
                                           hint))

    def test(self, path: Path_, test: dict[str, Any]) -> None:
        """Check the test at ``path``."""
        npc = self._npcs.get(test["npc"])
        if npc is None:
            return  # an unknown character: already reported
        if not (npc.get("knows") or npc.get("tools")):
            self._error((*path, "npc"), "silent-npc", f"{npc['id']!r} does not speak: it "
                        "knows nothing and has no tools", "give it knows: or tools:, or "
                        "test a character that has them")
        for quest_id, stage in (test.get("state") or {}).get("stages", {}).items():
            stages = [s["id"] for s in self._quests.get(quest_id, {}).get("stages", [])]
            if quest_id in self._quests and stage not in stages:
                self._error((*path, "state", "stages", quest_id), "unknown-stage",
                            f"quest {quest_id!r} has no stage {stage!r}",
                            suggest(stage, stages) or f"its stages: {', '.join(stages)}")
        history = test.get("history") or []
        for h, turn in enumerate(history):
            for key in ("called", "proposed"):
                if key in turn:
                    self._call((*path, "history", h, key), npc, turn[key])
            if "proposed" in turn and h != len(history) - 1:
                self._error((*path, "history", h, "proposed"), "proposal-not-last",
                            "only the last exchange may hold a proposal: an offer waits "
                            "for the player's next line only", "move it to the last entry")
        if isinstance(test["expect"], dict):
            self._call((*path, "expect"), npc, test["expect"], values=True)

    def _call(self, path: Path_, npc: dict[str, Any], call: dict[str, Any], *,
              values: bool = False) -> None:
        """A call in a test: the NPC's own tool, its parameters (and, for the expected
        call, ``values`` the NPC could give them)."""
        tool = self._tools.get(call["tool"])
        if tool is None:
            return  # an unknown tool: already reported
        own = npc.get("tools", [])
        if tool["id"] not in own:
            self._error((*path, "tool"), "not-npc-tool", f"{npc['id']!r} cannot call "
                        f"{tool['id']!r}", f"its tools: {', '.join(own) or 'none'}")
            return
        params = tool.get("params", {})
        for name, value in (call.get("args") or {}).items():
            if name not in params:
                self._error((*path, "args", name), "unknown-param", f"tool {tool['id']!r} "
                            f"has no parameter {name!r}", suggest(name, params)
                            or f"its parameters: {', '.join(params) or 'none'}")
            elif values and (problem := _bad_value(params[name], value, npc)):
                self._error((*path, "args", name), "bad-arg", f"{tool['id']!r} {name}: "
                            f"{problem}", "the NPC could never make this call")


def _bad_value(param: dict[str, Any], value: Any, npc: dict[str, Any]) -> str:
    """Why ``value`` is one the parameter can never take ("" if it may): the expected
    call could never be made, so the test could never pass."""
    if param.get("from") == "npc.inventory":
        held = [i["item"] for i in npc.get("inventory", [])]
        if value not in held:
            return (f"{npc['id']!r} does not hold {value!r} "
                    f"(its inventory: {', '.join(held) or 'empty'})")
    if param.get("enum") and value not in param["enum"]:
        return f"{value!r} is not one of {', '.join(map(str, param['enum']))}"
    if param.get("type") == "integer":
        if not isinstance(value, int) or isinstance(value, bool):
            return f"{value!r} is not a whole number"
        low, high = param.get("minimum"), param.get("maximum")
        if (low is not None and value < low) or (high is not None and value > high):
            return f"{value} is outside {low if low is not None else '...'}-" \
                   f"{high if high is not None else '...'}"
    return ""
