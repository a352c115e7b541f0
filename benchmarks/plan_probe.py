"""
Reply-plan probe: does the planner pick the fact a player's line asks about, and leave lines
that ask nothing without facts? Offline, no language model, seconds to run.

For each line of the data files (persona benchmark format, see
benchmarks/data/persona/README.md) it loads the line's world, sets the player's quest state,
builds the NPC's gated knowledge view as the dialogue engine does (``view``) and runs the
reply planner (``npc_runtime/dialogue/plan.py``) with the real sentence encoder. Nothing is
generated or served: this measures the plan only (persona_eval.py measures replies).

Reported per file and per kind:
- fact lines: the plan's first fact is one the line asks for (``first``), any of its facts
  is (``any``);
- other lines: lines given a fact they do not ask about (``false``; an identity line may get
  the NPC's identity, which is not counted);
- the acts chosen.

    python benchmarks/plan_probe.py                      # dev.yaml
    python benchmarks/plan_probe.py --data benchmarks/data/persona/plan_probe_extra.yaml -v
    python benchmarks/plan_probe.py --json

Never point it at the held-out set while developing (benchmarks/data/persona/README.md).
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

if not __package__:  # run as a script: import the package from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from npc_runtime.config import Settings
from npc_runtime.dialogue.plan import IDENTITY, Plan, Planner
from npc_runtime.dialogue.question_map import learn_question_map
from npc_runtime.lore.knowledge import view
from npc_runtime.lore.loader import load_world
from npc_runtime.lore.model import World, WorldState
from npc_runtime.model.encoder_build import load_default_encoder

ROOT = Path(__file__).resolve().parent.parent  # data files name worlds relative to it
DEV = ROOT / "benchmarks/data/persona/dev.yaml"


@dataclasses.dataclass(frozen=True)
class Probe:
    """One line, and what the planner made of it."""

    file: str
    world: str
    npc: str
    text: str
    kind: str
    expected: tuple[str, ...]  # fact lines: the facts that answer it
    plan: Plan

    @property
    def chosen(self) -> list[str]:
        """The facts the plan tells."""
        return [f.id for f in self.plan.facts]

    @property
    def first_right(self) -> bool:
        """A fact line whose plan tells one of its facts first."""
        return bool(self.chosen) and self.chosen[0] in self.expected

    @property
    def any_right(self) -> bool:
        """A fact line whose plan tells one of its facts at all."""
        return bool(set(self.chosen) & set(self.expected))

    @property
    def false_facts(self) -> list[str]:
        """Facts told on a line that does not ask for them (identity lines may get who the
        NPC is)."""
        if self.kind == "fact":
            return []
        return [f for f in self.chosen if not (f == IDENTITY and self.kind == "identity")]


def state_of(raw: dict[str, Any] | None) -> WorldState:
    """A data line's `state` as the engine's WorldState."""
    raw = raw or {}
    return WorldState(stages=dict(raw.get("stages") or {}),
                      revealed=frozenset(raw.get("revealed") or raw.get("revealed_facts") or ()),
                      player_items=frozenset(raw.get("has") or raw.get("player_items") or ()))


def run(paths: list[Path], planner: Planner,
        worlds: Callable[[str], World]) -> list[Probe]:
    """Plan every line of ``paths``."""
    probes = []
    for path in paths:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for item in data["lines"]:
            world = worlds(item["world"])
            known = view(world, item["npc"], state_of(item.get("state")))
            if unknown := set(item.get("facts") or ()) - {f.id for f in known.facts}:
                print(f"warning: {path.name}: {item['text']!r}: {item['npc']} may not tell "
                      f"{', '.join(sorted(unknown))} in that state", file=sys.stderr)
            plan = planner.plan(world, known, item["text"])
            probes.append(Probe(path.name, item["world"], item["npc"], item["text"],
                                item["kind"], tuple(item.get("facts") or ()), plan))
    return probes


def summary(probes: list[Probe]) -> dict[str, Any]:
    """Counts per file and kind, and totals."""
    out: dict[str, Any] = {}
    for file in dict.fromkeys(p.file for p in probes):
        mine = [p for p in probes if p.file == file]
        facts = [p for p in mine if p.kind == "fact"]
        others = [p for p in mine if p.kind != "fact"]
        kinds: dict[str, Any] = {}
        for kind in dict.fromkeys(p.kind for p in mine):
            these = [p for p in mine if p.kind == kind]
            kinds[kind] = {
                "lines": len(these),
                "first": sum(p.first_right for p in these) if kind == "fact" else None,
                "any": sum(p.any_right for p in these) if kind == "fact" else None,
                "false": sum(bool(p.false_facts) for p in these),
                "acts": dict(collections.Counter(p.plan.act.value for p in these)),
            }
        out[file] = {"fact_lines": len(facts), "first": sum(p.first_right for p in facts),
                     "any": sum(p.any_right for p in facts), "other_lines": len(others),
                     "false": sum(bool(p.false_facts) for p in others), "kinds": kinds}
    return out


def print_report(probes: list[Probe], counts: dict[str, Any], verbose: bool) -> None:
    """A table per file; with ``verbose``, every miss and false fact with its plan."""
    for file, c in counts.items():
        print(f"{file}: fact questions right first {c['first']}/{c['fact_lines']}, "
              f"any {c['any']}/{c['fact_lines']}; other lines with false facts "
              f"{c['false']}/{c['other_lines']}")
        for kind, k in c["kinds"].items():
            right = f"first {k['first']:>2} any {k['any']:>2}" if kind == "fact" else " " * 15
            acts = ", ".join(f"{a} {n}" for a, n in sorted(k["acts"].items()))
            print(f"  {kind:<13}{k['lines']:>3}  {right}  false {k['false']:>2}  {acts}")
    if not verbose:
        return
    print("\nmisses and false facts:")
    for p in probes:
        if (p.kind == "fact" and not p.first_right) or p.false_facts:
            want = ",".join(p.expected) or "-"
            print(f"- [{p.file} {p.npc} {p.kind}] {p.text!r}\n    want {want}; got "
                  f"{p.plan.act.value} {p.chosen}; why: {p.plan.why}\n"
                  f"    closest: {', '.join(f'{f} {s:.2f}' for f, s in p.plan.matches)}")


def main(argv: list[str] | None = None) -> int:
    """Run the probe; 0 on success."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].strip(),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, action="append",
                        help=f"a data file (repeatable; default {DEV.relative_to(ROOT)})")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="list the misses and false facts with their plans")
    parser.add_argument("--json", action="store_true", help="print the counts as JSON")
    args = parser.parse_args(argv)
    paths = args.data or [DEV]
    cache: dict[str, World] = {}

    def worlds(name: str) -> World:
        if name not in cache:
            folder = Path(name)
            cache[name] = load_world(folder if folder.is_absolute() else ROOT / folder)
        return cache[name]

    start = time.perf_counter()
    settings = Settings.load()  # NPC_QUESTION_MAP=0: the plan without the question map
    embed = load_default_encoder(settings.cache_dir, progress=lambda _: None).embed
    planner = Planner(embed, learn_question_map(embed, settings.cache_dir)
                      if settings.question_map else None)
    loaded = time.perf_counter()
    probes = run(paths, planner, worlds)
    done = time.perf_counter()
    counts = summary(probes)
    timing = {"load_s": round(loaded - start, 2), "plan_s": round(done - loaded, 2),
              "lines": len(probes)}
    if args.json:
        print(json.dumps({"counts": counts, "timing": timing}, indent=2))
    else:
        print_report(probes, counts, args.verbose)
        print(f"\n{timing['lines']} lines planned in {timing['plan_s']} s "
              f"(encoder and planner loaded in {timing['load_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
