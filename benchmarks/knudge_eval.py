"""
Generate a dialogue tree for every dialogue spec of KNUDGE quests and compare them with
the gold trees.

The quests are imported with `npc-runtime import knudge` (into a temporary folder); each
spec's tree is generated with the default model and verified. Per tree and in total:
nodes, depth (longest path without revisits from the start), branching (mean options per
non-end node), checker violations in shipped lines, structural validity, seconds, the
share of answers in the NPC's own words (``trees/wording.py``: no long run of a fact's
words, as text or in the NPC's first person, so neither a pasted fact nor the stand-in for
an answer that missed its fact, and no third-person self-reference), and coverage of
the facts the gold trees reveal. Coverage matches facts by id: the importer
keeps KNUDGE's fact ids (as snake_case) for entity and objective facts, so a gold node's
`support_knowledge` id and our node's `reveals` id name the same fact; only facts whose
text the release gives (not redacted) count. The gold trees' own statistics are printed
beside ours.

    python benchmarks/knudge_eval.py --quests ../shared/data/knudge-train/quest_files
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from npc_runtime.config import Settings
from npc_runtime.dialogue.engine import DialogueEngine
from npc_runtime.dialogue.trees.export import to_json
from npc_runtime.dialogue.trees.generate import generate_tree
from npc_runtime.dialogue.trees.model import Tree
from npc_runtime.dialogue.trees.verify import verify
from npc_runtime.dialogue.trees.wording import own_words
from npc_runtime.errors import NpcRuntimeError
from npc_runtime.logs import configure_logging
from npc_runtime.lore.knudge import import_knudge
from npc_runtime.lore.loader import load_world
from npc_runtime.model.build import build_model, default_source, model_dir_for
from npc_runtime.model.encoder_build import load_default_encoder
from npc_runtime.model.loader import load_model
from npc_runtime.tools.acts import Embed


@functools.cache
def _embed() -> Embed:
    """The default sentence encoder (the reply planner's), loaded once."""
    return load_default_encoder(Settings.load().cache_dir, progress=lambda _: None).embed


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quests", type=Path, required=True,
                        help="a KNUDGE quest_files folder")
    parser.add_argument("--limit", type=int, default=0, help="only the first N quests")
    parser.add_argument("--skip", type=int, default=0,
                        help="start after the first N quests (in name order)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--trees", type=Path, default=None,
                        help="write each generated tree here as JSON (outside the repo: "
                             "its lines carry KNUDGE text)")
    parser.add_argument("--copy-limit", type=int, default=Settings.copy_limit,
                        help="words in a row an answer may copy from its fact "
                             "(constraints/copying.py; 0: no ban)")
    args = parser.parse_args()
    configure_logging("console", "warning")
    model_dir = model_dir_for(Settings.load().cache_dir, default_source(), "int4")
    build_model(default_source(), model_dir, precision="int4", progress=lambda _: None)
    model = load_model(model_dir, threads=2)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        import_knudge(args.quests, Path(tmp), progress=lambda _: None)
        worlds = sorted(p for p in Path(tmp).iterdir() if (p / "world.yaml").is_file())
        for folder in worlds[args.skip:][: args.limit or None]:
            rows += _quest(folder, model, args.trees, args.copy_limit)
    report = _summary(rows)
    if args.json:
        print(json.dumps({"total": report, "trees": rows}, indent=2))
        return
    print(f"{'quest/spec':<48} {'nodes':>5} {'depth':>5} {'branch':>6} {'viol':>4} "
          f"{'valid':>5} {'cover':>5} {'own':>5} {'sec':>5}   gold: nodes depth branch")
    for r in rows:
        print(f"{r['tree'][:48]:<48} {r['nodes']:>5} {r['depth']:>5} {r['branching']:>6.2f} "
              f"{r['violations']:>4} {r['valid']!s:>5} {r['coverage']:>5.2f} "
              f"{r['own_words']:>5.2f} "
              f"{r['seconds']:>5.1f}   {r['gold_nodes']:>5} {r['gold_depth']:>5} "
              f"{r['gold_branching']:>6.2f}")
    print(json.dumps(report))


def _quest(folder: Path, model: Any, out: Path | None = None,
           copy_limit: int = Settings.copy_limit) -> list[dict[str, Any]]:
    try:
        world = load_world(folder)
    except NpcRuntimeError as exc:
        print(f"{folder.name}: not loaded ({exc})", file=sys.stderr)
        return []
    engine = DialogueEngine(world, model, Settings(max_new_tokens=48, max_active_turns=1,
                                                      copy_limit=copy_limit),
                            embed=_embed())
    rows = []
    try:
        for spec in world.dialogues.values():
            gold = _gold(folder / "gold", spec.id)
            started = time.perf_counter()
            try:
                tree = asyncio.run(generate_tree(engine, spec.id))
            except NpcRuntimeError as exc:
                print(f"{folder.name}/{spec.id}: skipped ({exc})", file=sys.stderr)
                continue
            seconds = time.perf_counter() - started
            if out is not None:
                out.mkdir(parents=True, exist_ok=True)
                (out / f"{spec.id}.json").write_text(to_json(tree), encoding="utf-8")
            problems = verify(tree, world)
            lore = [p for p in problems if re.search(r": (spoiler|secret|unknown_\w+|"
                                                     r"breaks_character|hard_rule|empty|"
                                                     r"garbled) ", p)]
            told = {f for n in tree.nodes.values() for f in n.reveals}
            answers = [n for n in tree.nodes.values() if n.reveals]
            # Not the NPC's own words: a line that pastes one of its facts (text or the NPC's
            # form of it, also with words changed or added around it), which includes the
            # stand-in for a line that missed its fact, or names the NPC in the third person.
            # (Comparing whole lines with the fact, as before, counted near-copies as own.)
            speaker = world.characters[tree.npc]
            verbatim = sum(not own_words(n.text, [world.facts[f] for f in n.reveals], speaker)
                           for n in answers)
            wanted = {f for f in gold["facts"] if f in world.facts
                      and world.facts[f].available}
            rows.append({
                "tree": f"{folder.name}/{spec.id}", "nodes": len(tree.nodes),
                "depth": _depth(tree), "branching": _branching(tree),
                "violations": len(lore), "valid": len(problems) == len(lore),
                "coverage": len(told & wanted) / len(wanted) if wanted else 1.0,
                "own_words": 1 - verbatim / len(answers) if answers else 1.0,
                "seconds": round(seconds, 1), "gold_nodes": gold["nodes"],
                "gold_depth": gold["depth"], "gold_branching": gold["branching"],
            })
            print(f"{rows[-1]['tree']}: {len(tree.nodes)} nodes in {seconds:.1f} s",
                  file=sys.stderr)
    finally:
        engine.shutdown()
    return rows


def _gold(folder: Path, spec_id: str) -> dict[str, Any]:
    """Statistics and revealed facts of the gold trees of one conversation spec."""
    nodes, depths, branching = [], [], []
    facts: set[str] = set()
    for path in sorted(folder.glob("*.json")):
        raw = json.loads(path.read_text())
        if _slug(str(raw.get("id", ""))) != spec_id:
            continue
        dialog = raw.get("dialog", {})
        items = dialog.values() if isinstance(dialog, dict) else dialog
        edges: dict[str, list[str]] = {}
        for src, dst in raw.get("dialog_edges", []):
            edges.setdefault(str(src), []).append(str(dst))
        for node in items:
            facts.update(_slug(f) for f in node.get("support_knowledge", []) or [])
        nodes.append(len(items))
        start = str(raw.get("conversation", {}).get("start_node", ""))
        depths.append(_longest(edges, start))
        outs = [len(v) for v in edges.values()]
        branching.append(statistics.mean(outs) if outs else 0.0)
    return {"nodes": round(statistics.mean(nodes)) if nodes else 0,
            "depth": round(statistics.mean(depths)) if depths else 0,
            "branching": statistics.mean(branching) if branching else 0.0, "facts": facts}


def _depth(tree: Tree) -> int:
    edges = {n.id: [o.to for o in n.options] for n in tree.nodes.values()}
    return _longest(edges, tree.start)


def _longest(edges: dict[str, list[str]], start: str) -> int:
    """Longest path from ``start`` without revisiting a node (small graphs)."""
    best = 0

    def walk(node: str, seen: frozenset[str], depth: int) -> None:
        nonlocal best
        best = max(best, depth)
        for nxt in edges.get(node, []):
            if nxt not in seen and depth < 60:
                walk(nxt, seen | {nxt}, depth + 1)

    walk(start, frozenset({start}), 1)
    return best


def _branching(tree: Tree) -> float:
    outs = [len(n.options) for n in tree.nodes.values() if not n.end]
    return round(statistics.mean(outs), 2) if outs else 0.0


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    if not rows:
        return {"trees": 0}
    return {
        "trees": len(rows),
        "valid_rate": sum(r["valid"] for r in rows) / len(rows),
        "violations": sum(r["violations"] for r in rows),
        "mean_nodes": round(statistics.mean(r["nodes"] for r in rows), 1),
        "mean_depth": round(statistics.mean(r["depth"] for r in rows), 1),
        "mean_branching": round(statistics.mean(r["branching"] for r in rows), 2),
        "mean_coverage": round(statistics.mean(r["coverage"] for r in rows), 3),
        "mean_own_words": round(statistics.mean(r["own_words"] for r in rows), 3),
        "seconds_per_tree": round(statistics.mean(r["seconds"] for r in rows), 1),
        "gold_mean_nodes": round(statistics.mean(r["gold_nodes"] for r in rows), 1),
        "gold_mean_depth": round(statistics.mean(r["gold_depth"] for r in rows), 1),
        "gold_mean_branching": round(statistics.mean(r["gold_branching"] for r in rows), 2),
    }


if __name__ == "__main__":
    main()
