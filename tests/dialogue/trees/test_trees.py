"""
Dialogue trees: generated with the real pipeline (tiny model), verified, exported; the
Ink export compiles and plays to an end on every path with inkjs; the Yarn export
parses with tests/dialogue/trees/yarn_syntax.py (no Yarn compiler runs here).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from npc_runtime.config import EXAMPLE_WORLD, Settings
from npc_runtime.dialogue.engine import DialogueEngine
from npc_runtime.dialogue.trees.export import to_ink, to_json, to_yarn
from npc_runtime.dialogue.trees.generate import explain, generate_tree, opening_of
from npc_runtime.dialogue.trees.model import Node, Option, Tree
from npc_runtime.dialogue.trees.verify import verify
from npc_runtime.lore.loader import load_world
from npc_runtime.lore.model import World
from npc_runtime.lore.voice import says
from npc_runtime.model.loader import LoadedModel
from tests.conftest import default_embed
from tests.dialogue.trees.yarn_syntax import parse

ROOT = Path(__file__).parents[3]
SALTMERE = ROOT / "examples" / "worlds" / "saltmere"
INKJS = ROOT / ".tools" / "node_modules" / "inkjs"


def _generate(model: LoadedModel, world: World, spec: str, seed: int = 0,
              progress: list[str] | None = None) -> Tree:
    engine = DialogueEngine(world, model, Settings(max_new_tokens=16), embed=default_embed())
    try:
        report = progress.append if progress is not None else (lambda _: None)
        return asyncio.run(generate_tree(engine, spec, seed=seed, progress=report))
    finally:
        engine.shutdown()


@pytest.fixture(scope="module")
def saltmere() -> World:
    return load_world(SALTMERE)


@pytest.fixture(scope="module")
def trees(tiny_model: LoadedModel, saltmere: World) -> dict[str, Tree]:
    harbor = load_world(EXAMPLE_WORLD)
    found = {spec: _generate(tiny_model, saltmere, spec) for spec in saltmere.dialogues}
    found.update({f"harbor:{s}": _generate(tiny_model, harbor, s) for s in harbor.dialogues})
    return found


def test_generated_trees_are_sound_and_reveal_every_fact(trees: dict[str, Tree],
                                                         saltmere: World) -> None:
    assert len(trees) >= 3
    for name, tree in trees.items():
        world = load_world(EXAMPLE_WORLD) if name.startswith("harbor:") else saltmere
        assert verify(tree, world) == [], name
        told = {f for n in tree.nodes.values() for f in n.reveals}
        assert set(tree.reveal) <= told  # by construction
        assert set(tree.required) <= told


def test_the_main_path_carries_the_unlock(trees: dict[str, Tree]) -> None:
    tree = trees["courier_first_talk"]
    assert tree.required == ("courier_rumour",)
    last = tree.nodes["tell_courier_rumour"]
    assert [(a.kind, a.name, a.args) for a in last.actions] == [
        ("set_stage", "the_hidden_courier", {"stage": "ask_around"})]
    assert last.options[0].to == "goodbye"


def test_a_seed_reproduces_the_tree(tiny_model: LoadedModel, saltmere: World) -> None:
    progress: list[str] = []
    first = _generate(tiny_model, saltmere, "bell_and_clapper", seed=7, progress=progress)
    again = _generate(tiny_model, saltmere, "bell_and_clapper", seed=7)
    assert to_json(first) == to_json(again)
    assert progress[0].startswith("node 1/")
    assert Tree.from_json(json.loads(to_json(first))) == first


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node (npm installs inkjs)")
def test_ink_exports_compile_and_every_path_ends(trees: dict[str, Tree], tmp_path: Path) -> None:
    assert INKJS.is_dir(), "inkjs is missing: run `make test` (it installs .tools/)"
    for name, tree in trees.items():
        ink = tmp_path / f"{name.replace(':', '_')}.ink"
        ink.write_text(to_ink(tree))
        run = subprocess.run(["node", str(Path(__file__).with_name("ink_play.js")),
                              str(INKJS), str(ink)], capture_output=True, text=True,
                             timeout=120, check=True)
        result = json.loads(run.stdout)
        assert result["errors"] == [], (name, result["errors"])
        assert result["paths"] >= 2
        assert result["ended"] == result["paths"]
        assert result["unfinished"] == 0


def test_yarn_exports_parse_and_every_jump_resolves(trees: dict[str, Tree]) -> None:
    for tree in trees.values():
        nodes = parse(to_yarn(tree))
        assert set(nodes) == set(tree.nodes)
        assert nodes[tree.start][2] == [tree.start]  # the line id


def test_verify_names_each_structural_problem() -> None:
    def node(nid: str, *to: str, end: bool = False, reveals: tuple[str, ...] = ()) -> Node:
        return Node(nid, "maren", "Hm.", [Option("Go.", t) for t in to], reveals, end=end)

    tree = Tree("w", "s", "maren", "Maren", "a", {
        "a": node("a", "b", "ghost"), "b": node("b"), "c": node("c", "a"),
        "d": node("d", end=True, reveals=("x",)), "e": Node("e", "maren", "Hm.",
                                                           [Option("Go.", "d")], end=True),
    }, required=("x",), reveal=("x", "y"))
    problems = "\n".join(verify(tree))
    for expected in ["a: option 'Go.' leads to missing node 'ghost'",
                     "b: a dead end", "c: unreachable from a", "e: an end node has options",
                     "fact 'y' is revealed on no path",
                     "required fact 'x' is not on the main path", "a: no path from here ends"]:
        assert expected in problems


def test_the_cli_generates_then_checks_a_tree(tiny_model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "bell.json"
    cli = [sys.executable, "-m", "npc_runtime", "tree"]
    generated = subprocess.run(
        [*cli, "generate", "--world", str(SALTMERE), "--spec", "bell_and_clapper",
         "--model", str(tiny_model_dir), "--format", "json", "--out", str(out), "--explain"],
        capture_output=True, text=True, timeout=300, check=False)
    assert generated.returncode == 0, generated.stderr
    assert "node 1/" in generated.stderr  # progress while it works
    answers = [n for n in json.loads(out.read_text())["nodes"].values() if n["reveals"]]
    assert answers
    for node in answers:  # --explain: where each answer's words came from
        assert f"{node['id']}: tells " in generated.stderr
    checked = subprocess.run([*cli, "check", str(out), "--world", str(SALTMERE)],
                             capture_output=True, text=True, timeout=120, check=False)
    assert checked.returncode == 0, checked.stdout
    assert checked.stdout.strip().endswith("ok")
    broken = json.loads(out.read_text())
    broken["nodes"]["start"]["options"][0]["to"] = "nowhere"
    out.write_text(json.dumps(broken))
    failed = subprocess.run([*cli, "check", str(out)], capture_output=True, text=True,
                            timeout=120, check=False)
    assert failed.returncode == 1
    assert "leads to missing node 'nowhere'" in failed.stdout


def test_answers_open_with_their_facts_first_words_and_say_so(trees: dict[str, Tree],
                                                             saltmere: World) -> None:
    """A drafted answer starts with the first words of its fact as the NPC says it; one
    that none of its drafts told is the lore's own line; explain() says which is which."""
    tree = trees["courier_first_talk"]
    npc = saltmere.characters[tree.npc]
    lines = explain(tree, saltmere)
    answers = [n for n in tree.nodes.values() if n.reveals]
    assert len(lines) == len(answers)
    for node, line in zip(answers, lines, strict=True):
        fact = saltmere.facts[node.reveals[0]]
        if node.check == "fallback":
            assert node.text == says(fact, npc)
            assert "as the lore puts it" in line
        else:
            assert node.text.startswith(opening_of(fact, npc)), node.text
            assert f"opened with {opening_of(fact, npc)!r}" in line


def test_a_secret_waits_behind_its_condition(trees: dict[str, Tree]) -> None:
    """The courier's name needs the silver heron: its question is guarded by the item."""
    tree = trees["courier_in_the_cellar"]
    option = next(o for o in tree.nodes["start"].options if o.to == "tell_courier_identity")
    assert option.guard == "silver_heron"
    assert "courier_identity" in tree.nodes["tell_courier_identity"].reveals
    assert "VAR has_silver_heron = false" in to_ink(tree)
    assert "<<declare $has_silver_heron = false>>" in to_yarn(tree)


def test_facts_about_one_subject_are_told_as_a_thread() -> None:
    """The hub asks about a subject once; "Go on." leads through the rest of it."""
    from npc_runtime.dialogue.trees.generate import _threads
    from npc_runtime.lore.model import Fact

    a1, b1, a2, req = (Fact("a1", "A one.", about=("a",)), Fact("b1", "B one.", about=("b",)),
                       Fact("a2", "A two.", about=("a",)), Fact("r", "Req.", about=("a",)))
    facts = [req, a1, b1, a2]
    follow = _threads(facts, [req], {})
    assert follow == {"a1": "a2"}
    assert [f.id for f in facts] == ["r", "a1", "a2", "b1"]  # each thread after its head


def test_what_opens_at_the_unlock_stage_waits_behind_a_stage_guard(trees: dict[str, Tree]
                                                                    ) -> None:
    """The stowaway is Maren's to tell once she trusts the player (the unlock stage)."""
    tree = trees["harbor:first_evening"]
    hub = next(o for o in tree.nodes["start"].options if o.to == "tell_cellar_stowaway")
    assert hub.stages == ("trusted", "done")
    unlock = tree.nodes["tell_cellar_noises"]  # the main path's last answer
    assert ("set_stage", "noises_below") in [(a.kind, a.name) for a in unlock.actions]
    assert any(o.to == "tell_cellar_stowaway" for o in unlock.options)
    assert "cellar_stowaway" in tree.nodes["tell_cellar_stowaway"].reveals
    assert '{noises_below == "trusted" || noises_below == "done"}' in to_ink(tree)
    assert '($noises_below == "trusted" or $noises_below == "done")' in to_yarn(tree)
    assert Tree.from_json(json.loads(to_json(tree))).nodes["start"].options == \
        tree.nodes["start"].options


def test_verify_names_a_stage_guard_the_quest_lacks(trees: dict[str, Tree]) -> None:
    tree = Tree.from_json(json.loads(to_json(trees["harbor:first_evening"])))
    hub = tree.nodes["start"]
    hub.options = [dataclasses.replace(o, stages=("nope",)) if o.stages else o
                   for o in hub.options]
    problems = verify(tree, load_world(EXAMPLE_WORLD))
    assert any("waits for nope, not a stage of quest 'noises_below'" in p for p in problems)
