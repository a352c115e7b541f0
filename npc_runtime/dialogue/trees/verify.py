"""
Structural and lore checks of a tree: what ``npc-runtime tree check`` reports.

Every option leads to a node that exists; every node is reachable from the start; every
node can reach an end and every end has no options; every fact the spec wants revealed
is revealed on some path (the required ones on the main path: the first option of each
node from the start); every stage guard names a stage of the tree's quest; every line
passes the line checker for its NPC at the entry stage (behind a stage guard: at that
stage).
"""

from __future__ import annotations

from collections import deque

from npc_runtime.constraints.checker import LineChecker
from npc_runtime.dialogue.prompt import persona_card
from npc_runtime.dialogue.trees.model import Tree
from npc_runtime.lore.knowledge import view
from npc_runtime.lore.model import World, WorldState


def verify(tree: Tree, world: World | None = None) -> list[str]:
    """Every problem found, each naming its node (empty: the tree is sound)."""
    problems: list[str] = []
    nodes = tree.nodes
    if tree.start not in nodes:
        return [f"the start node {tree.start!r} does not exist"]
    for node in nodes.values():
        problems += [f"{node.id}: option {o.text!r} leads to missing node {o.to!r}"
                     for o in node.options if o.to not in nodes]
        if node.end and node.options:
            problems.append(f"{node.id}: an end node has options")
        if not node.end and not node.options:
            problems.append(f"{node.id}: a dead end (no options and not an end)")
    reachable = _reach(tree, [tree.start], forward=True)
    problems += [f"{n}: unreachable from {tree.start}" for n in nodes if n not in reachable]
    ends = [n.id for n in nodes.values() if n.end]
    can_end = _reach(tree, ends, forward=False)
    problems += [f"{n}: no path from here ends" for n in reachable if n not in can_end]
    told = {f for n in reachable for f in nodes[n].reveals}
    problems += [f"fact {f!r} is revealed on no path" for f in tree.reveal if f not in told]
    main = set()
    for f in _main_path(tree):
        main |= set(nodes[f].reveals)
    problems += [f"required fact {f!r} is not on the main path" for f in tree.required
                 if f not in main]
    if world is not None:
        problems += _lore_problems(tree, world)
    return problems


def _lore_problems(tree: Tree, world: World) -> list[str]:
    problems = []
    quest = world.quests.get(tree.quest or "")
    stages = {st.id for st in quest.stages} if quest else set()
    guarded: dict[str, str] = {}  # node -> the stage its options wait for
    for node in tree.nodes.values():
        for option in node.options:
            bad = [s for s in option.stages if s not in stages]
            if bad:
                problems.append(f"{node.id}: option {option.text!r} waits for "
                                f"{', '.join(bad)}, not a stage of quest {tree.quest!r}")
            elif option.stages:
                guarded[option.to] = option.stages[0]
    checkers: dict[str | None, LineChecker] = {}
    for node in tree.nodes.values():
        stage = guarded.get(node.id, tree.entry_stage)
        if stage not in checkers:
            state = WorldState(stages={tree.quest: stage} if tree.quest and stage else {})
            known = view(world, tree.npc, state)
            checkers[stage] = LineChecker(world, known, persona_card(world, known))
        found = checkers[stage].check(node.text)
        # A line telling a fact the tree reveals there is no secret slipping out.
        found = tuple(v for v in found if not (v.kind in {"secret", "spoiler", "unknown_fact"}
                                              and node.reveals))
        problems += [f"{node.id}: {v.kind} {v.text!r} ({v.detail})" for v in found]
    return problems


def _main_path(tree: Tree) -> list[str]:
    path, node, seen = [], tree.start, set()
    while node in tree.nodes and node not in seen:
        seen.add(node)
        path.append(node)
        options = tree.nodes[node].options
        if not options:
            break
        node = options[0].to
    return path


def _reach(tree: Tree, starts: list[str], *, forward: bool) -> set[str]:
    edges: dict[str, list[str]] = {n: [] for n in tree.nodes}
    for node in tree.nodes.values():
        for option in node.options:
            if option.to in edges:
                if forward:
                    edges[node.id].append(option.to)
                else:
                    edges[option.to].append(node.id)
    seen, queue = set(starts), deque(starts)
    while queue:
        for nxt in edges[queue.popleft()]:
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen
