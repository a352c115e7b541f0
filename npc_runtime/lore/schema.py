"""
The world file format, declared once.

From this one declaration come the structural checks (types, required keys, unknown keys,
lengths, ranges) and the published JSON Schema (``npc-runtime lore schema``). Cross-file
meaning (references resolve, stage graphs) lives in ``validate.py``.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from typing import Any

from npc_runtime.lore.diagnostics import Diagnostic
from npc_runtime.lore.yaml_source import Path_, SourceMap

ID_PATTERN = r"^[a-z][a-z0-9_]*$"
ENTITY_KINDS = ("characters", "factions", "locations", "items", "creatures", "things")
REF_SOURCES = ("npc.inventory", "npc.knows", *ENTITY_KINDS, "quests", "facts")


@dataclasses.dataclass(frozen=True)
class Str:
    """Text. ``ref`` names the kinds of id it must refer to (checked in validate.py)."""

    description: str = ""
    max_len: int = 200
    ref: tuple[str, ...] = ()
    is_id: bool = False
    choices: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Int:
    """A whole number in ``[minimum, maximum]``."""

    description: str = ""
    minimum: int | None = None
    maximum: int | None = None


@dataclasses.dataclass(frozen=True)
class Bool:
    """true or false."""

    description: str = ""


@dataclasses.dataclass(frozen=True)
class Anything:
    """Any YAML value (tool argument values, free properties)."""

    description: str = ""


@dataclasses.dataclass(frozen=True)
class ListOf:
    """A list of ``item``; ``max_items`` keeps sizes sane."""

    item: Spec
    description: str = ""
    max_items: int = 1000


@dataclasses.dataclass(frozen=True)
class MapOf:
    """A mapping with author-chosen keys (ids or names) to ``value``."""

    value: Spec
    description: str = ""
    key_ref: tuple[str, ...] = ()  # kinds the keys must refer to, if any


@dataclasses.dataclass(frozen=True)
class Obj:
    """A mapping with fixed keys; ``one_of`` keys are mutually exclusive and one is needed."""

    fields: dict[str, Spec]
    required: tuple[str, ...] = ()
    description: str = ""
    one_of: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Either:
    """
    Text or a mapping, told apart by the value's type (``expect: none`` or a tool call).
    A general union would need every branch checked silently and the closest one
    reported; the only union the format has is this one, so the type decides.
    """

    text: Str
    mapping: Obj
    description: str = ""


Spec = Str | Int | Bool | Anything | ListOf | MapOf | Obj | Either


def _id(kind: str) -> Str:
    return Str(f"Unique snake_case id of this {kind}.", max_len=64, is_id=True)


def _named(kind: str, **extra: Spec) -> Obj:
    return Obj({
        "id": _id(kind),
        "name": Str("Display name.", max_len=80),
        "aliases": ListOf(Str(max_len=80), "Other names the gazetteer recognises."),
        "description": Str("What it is, in a sentence or two.", max_len=1000),
        **extra,
    }, required=("id", "name"), description=f"A named {kind}.")


STAGE_REF = Obj({"quest": Str(ref=("quests",)), "stage": Str(max_len=64)},
                required=("quest", "stage"), description="A quest stage.")

CONDITION = Obj({
    "stage": Obj({"quest": Str(ref=("quests",)), "stage": Str(max_len=64)},
                 required=("quest", "stage"),
                 description="True from this stage of the quest on."),
    "revealed": ListOf(Str(ref=("facts",)), "True once the player has heard all these facts."),
    "player_has": Str("True while the player carries this item.", ref=("items",)),
}, description="When a secret may be told or a tool used.", one_of=("stage", "revealed",
                                                                    "player_has"))

EXCHANGE = Obj({
    "player": Str("What the player says.", max_len=300),
    "npc": Str("How this character answers, in their own voice.", max_len=300),
}, required=("player", "npc"),
    description="One example exchange: a player line and the character's answer.")

CHARACTER = _named(
    "character",
    role=Str("Their job or place in the world, e.g. 'keeper of the inn'.", max_len=120),
    faction=Str("The faction they belong to.", ref=("factions",)),
    location=Str("Where they are usually found.", ref=("locations",)),
    persona=Obj({
        "traits": ListOf(Str(max_len=60), "Adjectives.", max_items=20),
        "backstory": Str("Their history, in a short paragraph.", max_len=2000),
        "speech": Obj({
            "style": Str("How they talk.", max_len=300),
            "habits": ListOf(Str(max_len=120), "Verbal tics and favourite phrases."),
            "sample_lines": ListOf(Str(max_len=300), "Lines in their voice."),
            "examples": ListOf(EXCHANGE, (
                "Short example exchanges in their voice: a player line and how this "
                "character answers it. The NPC is shown them as examples of how to talk, "
                "so write answers they would really give."), max_items=6),
        }),
        "goals": ListOf(Str(max_len=200), "What they want."),
    }, description="Who they are and how they speak."),
    relationships=ListOf(Obj({
        "to": Str(ref=ENTITY_KINDS),
        "kind": Str("e.g. spouse, rival, employer.", max_len=40),
        "note": Str(max_len=300),
    }, required=("to", "kind"))),
    inventory=ListOf(Obj({"item": Str(ref=("items",)),
                          "count": Int(minimum=1, maximum=1_000_000)}, required=("item",))),
    knows=ListOf(Str(ref=("facts", *ENTITY_KINDS, "quests")),
                 "Facts and entities they always know (stage-gated ones go in quests)."),
    tools=ListOf(Str(ref=("tools",)), "Tools they may call."),
    fallback_lines=ListOf(Str(max_len=300),
                          "Safe lines used when a generated line is rejected."),
    never_say=ListOf(Str(max_len=200),
                     "Hard rules: words or phrases this character must never say "
                     "(case-insensitive, whole words); a line containing one is rejected."),
    acting_at=Int("For this character's tools that give or move a quest: how sure, in "
                  "percent, a line must read as a request or a yes (default: the world's, "
                  "else 50; a tool's own `acting_at` wins).", minimum=1, maximum=99),
)

FACT = Obj({
    "id": _id("fact"),
    "text": Str("The fact, as one plain sentence.", max_len=500),
    "says": Str("The fact as the characters who know it would put it, in their words, "
                "first person where natural (text 'Maren's husband Tobin was lost at sea.' "
                "-> says 'My Tobin went out with the fleet and never came back.'). If "
                "several characters know the fact, this one line serves them all.",
                max_len=500),
    "about": ListOf(Str(ref=("facts", *ENTITY_KINDS, "quests")), "What it concerns."),
    "known_by": ListOf(Str(ref=("characters",)), "Who knows it (from `from` on, if set)."),
    "from": STAGE_REF,
    "secret": Bool("Only told when `tell_when` holds."),
    "tell_when": CONDITION,
    "available": Bool("false when the text is missing in the source (imports)."),
}, required=("id", "text"), description="One true statement about the world.")

TRANSITION = Obj({
    "to": Str("The stage this leads to.", max_len=64),
    "when": Obj({
        "tool": Str(ref=("tools",)),
        "args": MapOf(Anything(), "Arguments the call must have (a subset)."),
        "option": Str("A player option text that triggers it.", max_len=200),
        "revealed": Str("A fact whose telling triggers it.", ref=("facts",)),
    }, one_of=("tool", "option", "revealed"), description="What triggers the move."),
}, required=("to", "when"))

STAGE = Obj({
    "id": Str("Stage id, unique within the quest.", max_len=64, is_id=True),
    "objective": Str("The quest-log line.", max_len=500),
    "reveals": ListOf(Obj({"fact": Str(ref=("facts",)), "by": Str(ref=("characters",))},
                          required=("fact", "by")), "Facts that must be told at this stage."),
    "unlocks": MapOf(ListOf(Str(ref=("facts", *ENTITY_KINDS, "quests"))),
                     "What each NPC knows from this stage on.", key_ref=("characters",)),
    "next": ListOf(TRANSITION, "Ways out of this stage."),
    "end": Str("Marks a final stage.", choices=("complete", "fail")),
}, required=("id",), description="One step of a quest.")

QUEST = Obj({
    "id": _id("quest"),
    "name": Str(max_len=80),
    "description": Str(max_len=1000),
    "giver": Str(ref=("characters",)),
    "stages": ListOf(STAGE, "In order; the first is where the quest starts.", max_items=200),
}, required=("id", "name", "stages"))

PARAM = Obj({
    "type": Str(choices=("string", "integer", "number", "boolean")),
    "description": Str(max_len=300),
    "from": Str("Values come from the lore.", choices=REF_SOURCES),
    "enum": ListOf(Anything(), "Fixed allowed values."),
    "minimum": Int(),
    "maximum": Int(),
    "optional": Bool(),
}, required=("type",), description="One tool parameter (JSON Schema subset).")

TOOL = Obj({
    "id": _id("tool"),
    "description": Str("What it does, for the model.", max_len=500),
    "params": MapOf(PARAM),
    "requires": Obj({
        "stage": STAGE_REF,
        "has_item": Str("The parameter whose value must be in the NPC's inventory.",
                        max_len=64),
    }, description=("Preconditions. stage: the tool may be called once the player's quest is "
                    "at that stage or any later one (a tool that sets a stage is also never "
                    "called once every stage it sets is reached).")),
    "executes": Str("Who runs it.", choices=("engine", "server")),
    "effects": ListOf(Obj({
        "set_stage": STAGE_REF,
        "give_player": Str("Parameter holding the item handed over.", max_len=64),
    }, one_of=("set_stage", "give_player"))),
    "examples": ListOf(Str("A player line asking for it.", max_len=200), (
        "What players say to ask for it, in a few different ways: the NPC calls the tool "
        "whose examples a line matches (names of things need not be in them)."),
        max_items=200),
    "confirm_with": Str("A tool (same parameters) the NPC calls first to ask the player; "
                        "the player's yes then runs this one.", ref=("tools",)),
    "on_mention": Bool("The overview of a thing: called when the player brings one up "
                       "(names it for the first time) and asks for nothing else, or asks "
                       "several things about it in one sentence."),
    "follows": Str("A tool after whose call the NPC offers this one (\"equip it now?\" "
                   "after a sale): the player's yes then runs it.", ref=("tools",)),
    "acting_at": Int("For a tool that gives or moves a quest: how sure, in percent, the "
                     "runtime must be that a line asks for something or says yes before "
                     "calling it (default 50; lower calls it more readily, higher more "
                     "rarely; `npc-runtime tools explain` shows each line's reading).",
                     minimum=1, maximum=99),
}, required=("id", "description", "executes"))

DIALOGUE = Obj({
    "id": _id("dialogue"),
    "participants": ListOf(Str(ref=("characters",)), max_items=10),
    "quest": Str(ref=("quests",)),
    "entry_stage": Str(max_len=64),
    "reveal": ListOf(Str(ref=("facts",)), "Facts the tree must reveal on some path."),
    "required": ListOf(Str(ref=("facts",)), "Facts that must be on the main path."),
    "unlock_stage": Str("The stage the conversation leads to.", max_len=64),
    "limits": Obj({"max_nodes": Int(minimum=1, maximum=500),
                   "max_depth": Int(minimum=1, maximum=50)}),
}, required=("id", "participants"), description="Input to dialogue tree generation.")

CALL = Obj({
    "tool": Str("The tool's id.", ref=("tools",)),
    "args": MapOf(Anything(), "Its arguments by parameter name."),
}, required=("tool",), description="A tool call.")

TEST_EXCHANGE = Obj({
    "player": Str("What the player said (leave out when the NPC spoke first).", max_len=500),
    "npc": Str("What the NPC said.", max_len=500),
    "called": dataclasses.replace(CALL, description="A call the NPC made in that turn; the "
                                  "game ran it."),
    "proposed": dataclasses.replace(CALL, description="A call the NPC offered in that turn "
                                    "and has not made (\"Want the key?\"): the offer waits "
                                    "for the player's answer. Only in the last exchange."),
}, required=("npc",), description="One earlier exchange of the conversation.")

WORLD_TEST = Obj({
    "npc": Str("Who the player talks to.", ref=("characters",)),
    "line": Str("What the player says.", max_len=500),
    "state": Obj({
        "stages": MapOf(Str(max_len=64), "Quest id -> the stage the player is at.",
                        key_ref=("quests",)),
        "has": ListOf(Str(ref=("items",)), "Items the player carries."),
        "revealed": ListOf(Str(ref=("facts",)), "Facts the player has heard."),
    }, description="The player's quest state before the line (default: nothing started, "
       "carried or heard)."),
    "history": ListOf(TEST_EXCHANGE, "The conversation before the line, oldest first.",
                      max_items=20),
    "expect": Either(Str(choices=("none",)), dataclasses.replace(
        CALL, description="The call a designer expects: the tool and only the arguments "
        "that matter (others may be anything)."),
        "`none` (no tool may be called) or the call a designer expects: "
        "{tool: ID, args: {...}}."),
    "note": Str("Why this test matters.", max_len=500),
}, required=("npc", "line", "expect"),
    description="A conversation test, run by `npc-runtime lore validate`: a player line and "
    "the tool call it must lead to, or none.")

FILE = Obj({
    "world": Obj({"name": Str(max_len=80), "setting": Str(max_len=3000),
                  "acting_at": Int(
                      "For tools that give or move a quest, in the whole world: how sure, in "
                      "percent, a line must read as a request or a yes (default 50; a "
                      "character's or a tool's own `acting_at` wins).",
                      minimum=1, maximum=99)},
                 required=("name",), description="The world's name and setting."),
    "characters": ListOf(CHARACTER),
    "factions": ListOf(_named("faction")),
    "locations": ListOf(_named("location")),
    "items": ListOf(_named("item", price=Int("Price in the world's smallest coin.", minimum=0),
                           properties=MapOf(Anything()))),
    "creatures": ListOf(_named("creature")),
    "things": ListOf(_named("thing")),
    "facts": ListOf(FACT, max_items=20_000),
    "quests": ListOf(QUEST),
    "tools": ListOf(TOOL),
    "dialogues": ListOf(DIALOGUE),
    "tests": ListOf(WORLD_TEST, max_items=2000),
}, description="One file of an npc-runtime world; a world is a folder of these.")


@dataclasses.dataclass
class Ref:
    """A reference found while checking: resolved later against all ids."""

    path: Path_
    kinds: tuple[str, ...]
    value: str


class Checker:
    """Walks data against a spec, collecting diagnostics and references."""

    def __init__(self, sources: SourceMap) -> None:
        self._sources = sources
        self.diagnostics: list[Diagnostic] = []
        self.refs: list[Ref] = []

    def error(self, path: Path_, code: str, message: str, hint: str = "", *,
              key: bool = False) -> None:
        """Record an error at ``path``."""
        self.diagnostics.append(Diagnostic(self._sources.at(path, key=key), "error", code,
                                           message, hint))

    def check(self, spec: Spec, value: Any, path: Path_) -> bool:
        """Check ``value``; returns False when it is unusable (wrong type)."""
        where = _dotted(path)
        if isinstance(spec, Str):
            if not isinstance(value, str) or isinstance(value, bool):
                self.error(path, "type", f"{where} must be text, not {_kind(value)}")
                return False
            if not value.strip():
                self.error(path, "empty", f"{where} is empty")
            elif len(value) > spec.max_len:
                self.error(path, "too-long", f"{where} is {len(value)} characters; "
                           f"the limit is {spec.max_len}", "shorten it")
            if spec.is_id and not _is_id(value):
                self.error(path, "bad-id", f"{where}: {value!r} is not a snake_case id",
                           f"try {_snake(value)!r}")
            if spec.choices and value not in spec.choices:
                self.error(path, "bad-choice", f"{where} must be one of "
                           f"{', '.join(spec.choices)}, not {value!r}", suggest(value,
                                                                               spec.choices))
            if spec.ref:
                self.refs.append(Ref(path, spec.ref, value))
            return True
        if isinstance(spec, Int):
            if not isinstance(value, int) or isinstance(value, bool):
                self.error(path, "type", f"{where} must be a whole number, not {_kind(value)}")
                return False
            if spec.minimum is not None and value < spec.minimum:
                self.error(path, "range", f"{where} is {value}; the minimum is {spec.minimum}")
            if spec.maximum is not None and value > spec.maximum:
                self.error(path, "range", f"{where} is {value}; the maximum is {spec.maximum}")
            return True
        if isinstance(spec, Bool):
            if not isinstance(value, bool):
                self.error(path, "type", f"{where} must be true or false, not {_kind(value)}")
                return False
            return True
        if isinstance(spec, Anything):
            return True
        if isinstance(spec, ListOf):
            if not isinstance(value, list):
                self.error(path, "type", f"{where} must be a list, not {_kind(value)}",
                           "write each entry on its own line starting with '- '")
                return False
            if len(value) > spec.max_items:
                self.error(path, "too-many", f"{where} has {len(value)} entries; "
                           f"the limit is {spec.max_items}")
            for i, item in enumerate(value):
                self.check(spec.item, item, (*path, i))
            return True
        if isinstance(spec, MapOf):
            if not isinstance(value, dict):
                self.error(path, "type", f"{where} must be a mapping, not {_kind(value)}")
                return False
            for key, item in value.items():
                if spec.key_ref:
                    self.refs.append(Ref((*path, key), spec.key_ref, key))
                self.check(spec.value, item, (*path, key))
            return True
        if isinstance(spec, Either):
            if isinstance(value, str):
                return self.check(spec.text, value, path)
            if isinstance(value, dict):
                return self.check(spec.mapping, value, path)
            self.error(path, "type", f"{where} must be text or a mapping, not {_kind(value)}",
                       spec.description)
            return False
        return self._check_obj(spec, value, path)

    def _check_obj(self, spec: Obj, value: Any, path: Path_) -> bool:
        where = _dotted(path) or "the file"
        if not isinstance(value, dict):
            self.error(path, "type", f"{where} must be a mapping of keys, not {_kind(value)}")
            return False
        for key, item in value.items():
            if key not in spec.fields:
                self.error((*path, key), "unknown-key", f"unknown key {key!r} in {where}",
                           suggest(key, spec.fields) or
                           f"allowed: {', '.join(spec.fields)}", key=True)
                continue
            self.check(spec.fields[key], item, (*path, key))
        for key in spec.required:
            if key not in value:
                self.error(path, "missing-key", f"{where} needs {key!r}")
        if spec.one_of:
            present = [k for k in spec.one_of if k in value]
            if len(present) != 1:
                self.error(path, "one-of", f"{where} needs exactly one of "
                           f"{', '.join(spec.one_of)} (has {len(present)})")
        return True


def _kind(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    return {dict: "a mapping", list: "a list", str: "text", bool: "true/false",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)


def _is_id(value: str) -> bool:
    return re.fullmatch(ID_PATTERN, value) is not None


def _snake(value: str) -> str:
    snake = re.sub(r"[^a-z0-9]+", "_", value.lower()).strip("_")
    return snake if snake and snake[0].isalpha() else f"x_{snake}"


def _dotted(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def suggest(value: str, options: Any) -> str:
    """A "did you mean ...?" hint, or empty."""
    close = difflib.get_close_matches(value, list(options), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else ""


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one world file, for editors."""
    schema = _to_json(FILE)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "https://npc-runtime.dev/schema/world.schema.json",
            "title": "npc-runtime world file", **schema}


def _to_json(spec: Spec) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if spec.description:
        out["description"] = spec.description
    if isinstance(spec, Str):
        out["type"] = "string"
        out["maxLength"] = spec.max_len
        if spec.is_id:
            out["pattern"] = ID_PATTERN
        if spec.choices:
            out["enum"] = list(spec.choices)
    elif isinstance(spec, Int):
        out["type"] = "integer"
        if spec.minimum is not None:
            out["minimum"] = spec.minimum
        if spec.maximum is not None:
            out["maximum"] = spec.maximum
    elif isinstance(spec, Bool):
        out["type"] = "boolean"
    elif isinstance(spec, ListOf):
        out.update(type="array", items=_to_json(spec.item), maxItems=spec.max_items)
    elif isinstance(spec, MapOf):
        out.update(type="object", additionalProperties=_to_json(spec.value))
    elif isinstance(spec, Either):
        out["anyOf"] = [_to_json(spec.text), _to_json(spec.mapping)]
    elif isinstance(spec, Obj):
        out.update(type="object", additionalProperties=False,
                   properties={k: _to_json(v) for k, v in spec.fields.items()})
        if spec.required:
            out["required"] = list(spec.required)
        if spec.one_of:
            out["oneOf"] = [{"required": [k]} for k in spec.one_of]
    return out
