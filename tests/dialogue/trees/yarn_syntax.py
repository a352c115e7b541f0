"""
A parser of the Yarn Spinner 2 syntax our export uses (no Yarn compiler runs here).

Nodes are ``title: X`` headers, ``---``, a body, ``===``. Body lines: ``Speaker: text
#line:id``, commands ``<<name args>>``, options ``-> text`` with an optional trailing
``<<if expr>>``, each followed by an indented block. Raises ValueError, with the line
number, on anything else; returns node title -> (jump targets, commands, line ids).
"""

from __future__ import annotations

import re

LINE = re.compile(r"^[^\s:#<>{}][^:#<>{}]*: [^#<>{}]+ #line:[\w-]+$")
COMMAND = re.compile(r"^<<(\w+)(?: [^<>]*)?>>$")
OPTION = re.compile(r"^-> [^#<>{}]+?(?: <<if [^<>]+>>)?$")
JUMP = re.compile(r"^<<jump ([\w-]+)>>$")


def parse(text: str) -> dict[str, tuple[list[str], list[str], list[str]]]:
    nodes: dict[str, tuple[list[str], list[str], list[str]]] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        header = re.fullmatch(r"title: ([\w-]+)", lines[i])
        if not header or i + 1 >= len(lines) or lines[i + 1] != "---":
            raise ValueError(f"line {i + 1}: expected 'title: NAME' then '---'")
        title = header.group(1)
        if title in nodes:
            raise ValueError(f"line {i + 1}: node {title} defined twice")
        jumps: list[str] = []
        commands: list[str] = []
        ids: list[str] = []
        i += 2
        while i < len(lines) and lines[i] != "===":
            line = lines[i]
            if line.startswith("    "):  # an option's block
                jump = JUMP.match(line.strip())
                if not jump:
                    raise ValueError(f"line {i + 1}: an option's block holds a <<jump>>")
                jumps.append(jump.group(1))
            elif LINE.match(line):
                ids.append(line.rsplit("#line:", 1)[1])
            elif OPTION.match(line):
                if i + 1 >= len(lines) or not lines[i + 1].startswith("    "):
                    raise ValueError(f"line {i + 1}: an option without a block")
            elif COMMAND.match(line):
                commands.append(COMMAND.match(line).group(1))  # type: ignore[union-attr]
            else:
                raise ValueError(f"line {i + 1}: not Yarn: {line!r}")
            i += 1
        if i >= len(lines):
            raise ValueError(f"node {title}: no closing ===")
        nodes[title] = (jumps, commands, ids)
        i += 1
    for title, (jumps, _, _) in nodes.items():
        for target in jumps:
            if target not in nodes:
                raise ValueError(f"node {title}: <<jump {target}>> leads nowhere")
    return nodes
