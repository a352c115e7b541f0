"""
The data of the persona-fidelity benchmark (`benchmarks/persona_eval.py`): lines, each
said in a fresh session, and conversations, whose turns are said in one. Read from YAML
and checked against their worlds before any server starts, so a bad file fails at once,
naming the line or turn. The format: benchmarks/data/persona/README.md.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import yaml

from benchmarks.persona_judge import KINDS, Line, Lore

# Knobs.
ROOT = Path(__file__).resolve().parent.parent  # data files name worlds relative to it
# A line's `state` keys -> QuestState's fields (`revealed` and `has` as `lore show` says them).
STATE_KEYS = {"stages": "stages", "revealed": "revealed_facts", "revealed_facts": "revealed_facts",
              "has": "player_items", "player_items": "player_items"}


# --- the data ------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Turn:
    """One turn of a conversation: the player's line and the turn's note."""

    line: Line  # world and npc of its conversation; only the first turn's has a `state`
    note: str = ""  # the data's `note` ("follow-up" ones get a row in the report)


@dataclasses.dataclass(frozen=True)
class Conversation:
    """Turns said one after another in one session, as a player says them."""

    id: str  # the data's `id`, else "c<its index in the file>"
    turns: tuple[Turn, ...]
    note: str = ""


def read_data(path: Path) -> tuple[list[Line], list[Conversation]]:
    """
    The lines and the conversations of a data file, in order; SystemExit naming file and
    line (or turn) on bad format. Either list may be absent, not both.
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SystemExit(f"{path}: cannot read: {exc}") from exc
    if not isinstance(data, dict) or not any(k in data for k in ("lines", "conversations")):
        raise SystemExit(f"{path}: expected a mapping with a `lines:` or `conversations:` list")
    for key in ("lines", "conversations"):
        if not isinstance(data.get(key, []), list):
            raise SystemExit(f"{path}: `{key}:` must be a list")
    lines = [_line(item, f"{path}: lines[{i}]")
             for i, item in enumerate(data.get("lines", []))]
    conversations = [_conversation(item, i, f"{path}: conversations[{i}]")
                     for i, item in enumerate(data.get("conversations", []))]
    return lines, conversations


def read_lines(path: Path) -> list[Line]:
    """The lines of a data file (none if it has only conversations)."""
    return read_data(path)[0]


def _line(item: Any, where: str) -> Line:
    """One line of the data (a turn arrives with its conversation's world, npc and state)."""
    if not isinstance(item, dict) or not all(
            isinstance(item.get(k), str) for k in ("world", "npc", "text", "kind")):
        raise SystemExit(f"{where}: needs world, npc, text and kind (strings)")
    state = item.get("state") or {}
    if not isinstance(state, dict) or set(state) - set(STATE_KEYS):
        raise SystemExit(f"{where}: state takes only {', '.join(STATE_KEYS)}")
    state = {STATE_KEYS[k]: v for k, v in state.items()}
    return Line(world=item["world"], npc=item["npc"], text=item["text"], kind=item["kind"],
                facts=tuple(item.get("facts") or ()), state=state, tool=item.get("tool"))


def _conversation(item: Any, index: int, where: str) -> Conversation:
    """One conversation: its turns as lines of its world and NPC, its state on the first."""
    if not isinstance(item, dict) or not all(
            isinstance(item.get(k), str) for k in ("world", "npc")):
        raise SystemExit(f"{where}: needs world and npc (strings)")
    if not isinstance(item.get("turns"), list) or not item["turns"]:
        raise SystemExit(f"{where}: needs a non-empty `turns:` list")
    turns = []
    for j, turn in enumerate(item["turns"]):
        here = f"{where}.turns[{j}]"
        if isinstance(turn, dict) and {"world", "npc", "state"} & set(turn):
            raise SystemExit(f"{here}: world, npc and state belong to the conversation")
        if not isinstance(turn, dict):
            raise SystemExit(f"{here}: needs text and kind (strings)")
        # The state is set once, before the first turn; later turns find what the
        # conversation made of it (a tool call may move a quest), as a player would.
        first = {"state": item.get("state")} if j == 0 else {}
        line = _line({**turn, "world": item["world"], "npc": item["npc"], **first}, here)
        turns.append(Turn(line, str(turn.get("note") or "")))
    return Conversation(str(item.get("id") or f"c{index}"), tuple(turns),
                        str(item.get("note") or ""))


def world_folder(line: Line) -> Path:
    """The line's world folder (relative names are from the repository root)."""
    folder = Path(line.world)
    return folder if folder.is_absolute() else ROOT / folder


def check_line(line: Line, lore: Lore, where: str) -> None:
    """SystemExit if the line names what its world lacks or breaks the format's rules."""
    problems = []
    if line.kind not in KINDS:
        problems.append(f"kind {line.kind!r} is not one of {', '.join(KINDS)}")
    if line.npc not in lore.selves:
        problems.append(f"no character {line.npc!r} in {line.world}")
    if line.kind == "fact" and not line.facts:
        problems.append("a fact line needs `facts`")
    problems += [f"no fact {f!r} in {line.world}" for f in line.facts if f not in lore.facts]
    if line.kind == "request" and line.tool not in lore.tools:
        problems.append(f"a request line needs `tool`, a tool of {line.world}")
    if line.kind != "request" and line.tool:
        problems.append("only request lines name a tool")
    if problems:
        raise SystemExit(f"{where}: " + "; ".join(problems))
