"""
Trees as files writers already use: our JSON, Yarn (``.yarn``) and Ink (``.ink``).

Yarn: a node per NPC line (``title:``), ``Name: line #line:id``, options as ``->`` with a
``<<jump>>``; once-only questions are guarded with ``<<if !visited("node")>>`` (and by
the item or quest stage they wait for); tool
calls are ``<<tool args>>`` commands and quest moves ``<<set $quest_x to "stage">>``.
Ink: a knot per node, ``*`` choices for questions (once-only) and ``+`` for sticky ones,
tool calls as ``EXTERNAL`` functions, quest stages as ``VAR``s, reveals as ``# reveal:``
tags, ``-> END`` at the ends.
"""

from __future__ import annotations

import json

from npc_runtime.dialogue.trees.model import Action, Node, Tree


def to_json(tree: Tree) -> str:
    """Our JSON."""
    return json.dumps(tree.to_json(), indent=2, ensure_ascii=False) + "\n"


def to_yarn(tree: Tree) -> str:
    """Yarn Spinner 2 script."""
    blocks = []
    for i, node in enumerate(_ordered(tree)):
        lines = [f"title: {node.id}", "---"]
        if i == 0 and tree.quest:
            lines.append(f'<<declare ${_var(tree.quest)} = "{tree.entry_stage or ""}">>')
        if i == 0:
            lines += [f"<<declare $has_{_var(g)} = false>>" for g in _guards(tree)]
        lines.append(f"{tree.npc_name}: {_yarn_text(node.text)} #line:{node.id}")
        lines += [_yarn_action(a) for a in node.actions]
        for option in node.options:
            conditions = []
            if option.once:
                conditions.append(f'!visited("{option.to}")')
            if option.guard:
                conditions.append(f'$has_{_var(option.guard)}')
            if option.stages and tree.quest:
                at = " or ".join(f'${_var(tree.quest)} == "{s}"' for s in option.stages)
                conditions.append(f"({at})")
            guard = f" <<if {' and '.join(conditions)}>>" if conditions else ""
            lines.append(f"-> {_yarn_text(option.text)}{guard}")
            lines.append(f"    <<jump {option.to}>>")
        if node.end:
            lines.append("<<stop>>")
        lines.append("===")
        blocks.append("\n".join(lines))
    return "\n".join(blocks) + "\n"


def to_ink(tree: Tree) -> str:
    """Ink script (compiles with inklecate or inkjs)."""
    out = []
    if tree.quest:
        out.append(f'VAR {_var(tree.quest)} = "{tree.entry_stage or ""}"')
    out += [f"VAR has_{_var(g)} = false" for g in _guards(tree)]
    calls = {a.name: a for n in tree.nodes.values() for a in n.actions if a.kind == "call"}
    out += [f"EXTERNAL {name}({', '.join(_var(k) for k in action.args)})"
            for name, action in sorted(calls.items())]
    out.append(f"-> {tree.start}")
    for node in _ordered(tree):
        out += ["", f"=== {node.id} ===", f"{tree.npc_name}: {_ink_text(node.text)}"
                + "".join(f" # reveal: {f}" for f in node.reveals)]
        out += [_ink_action(a) for a in node.actions]
        if node.end:
            out.append("-> END")
            continue
        for option in node.options:
            bullet = "*" if option.once else "+"
            guard = f" {{has_{_var(option.guard)}}}" if option.guard else ""
            if option.stages and tree.quest:
                at = " || ".join(f'{_var(tree.quest)} == "{s}"' for s in option.stages)
                guard += f" {{{at}}}"
            out.append(f"{bullet}{guard} [{_ink_text(option.text)}] -> {option.to}")
    return "\n".join(out) + "\n"


def _guards(tree: Tree) -> list[str]:
    """The items options wait for (each a boolean the game sets)."""
    return sorted({o.guard for n in tree.nodes.values() for o in n.options if o.guard})


def _ordered(tree: Tree) -> list[Node]:
    return [tree.nodes[tree.start], *(n for k, n in tree.nodes.items() if k != tree.start)]


def _var(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name)


def _yarn_text(text: str) -> str:
    # Yarn reserves # (tags), < > (commands) and { } (inline expressions).
    return " ".join(text.replace("#", "").replace("<<", "").replace(">>", "")
                    .replace("{", "(").replace("}", ")").split())


def _ink_text(text: str) -> str:
    # Ink reserves [ ] (choice text), { } | (logic), # (tags), // and -> (diverts), ~ * +.
    cleaned = " ".join(text.split())
    for bad, good in (("[", "("), ("]", ")"), ("{", "("), ("}", ")"), ("|", "/"),
                      ("#", ""), ("//", "/"), ("->", "to"), ("~", "-")):
        cleaned = cleaned.replace(bad, good)
    return cleaned.lstrip("*+-= ") or "..."


def _yarn_action(action: Action) -> str:
    if action.kind == "set_stage":
        return f'<<set ${_var(action.name)} to "{action.args.get("stage", "")}">>'
    args = " ".join(json.dumps(v) if isinstance(v, str) else str(v)
                    for v in action.args.values())
    return f"<<{action.name}{' ' + args if args else ''}>>"


def _ink_action(action: Action) -> str:
    if action.kind == "set_stage":
        return f'~ {_var(action.name)} = "{action.args.get("stage", "")}"'
    args = ", ".join(json.dumps(v) if isinstance(v, str) else str(v).lower()
                     for v in action.args.values())
    return f"~ {action.name}({args})"
