"""Static checks of unity_client/ for what no compiler here can check.

- Every C# file parses with tree-sitter-c-sharp (no ERROR or MISSING node); protoc's
  message files are skipped, since tree-sitter misreads their `#if` inside a base list
  (Roslyn compiles them in compile.sh).
- package.json, *.asmdef and *.asmref are valid JSON; asmdef references name asmdefs of
  the package or known Unity ones.
- Every asset Unity imports has a .meta file (a package installed from git is
  immutable, so Unity cannot add them), GUIDs are unique, and every script GUID a
  scene references belongs to a script of the package.

Usage: python check_unity_package.py unity_client   (exit 1 on a problem)
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from unity_meta import assets

PROTOC_MESSAGES = "Runtime/Core/Generated"
UNITY_ASSEMBLIES = {"Unity.TextMeshPro", "UnityEngine.UI"}


def parse_errors(path: Path) -> list[str]:
    """Line:column of each ERROR or MISSING node of a C# file."""
    import tree_sitter_c_sharp
    from tree_sitter import Language, Parser

    parser = Parser(Language(tree_sitter_c_sharp.language()))
    tree = parser.parse(path.read_bytes())
    found, stack = [], [tree.root_node]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            row, col = node.start_point
            what = f"missing {node.type}" if node.is_missing else "syntax error"
            found.append(f"{path}:{row + 1}:{col + 1}: {what}")
        stack.extend(node.children)
    return sorted(found)


def meta_problems(package: Path) -> list[str]:
    problems: list[str] = []
    guids: dict[str, Path] = {}
    for path in assets(package):
        meta = path.with_name(path.name + ".meta")
        if not meta.exists():
            problems.append(f"{path}: no .meta file (run scripts/clients/csharp/unity_meta.py)")
            continue
        match = re.search(r"^guid: ([0-9a-f]{32})$", meta.read_text(), re.M)
        if not match:
            problems.append(f"{meta}: no guid")
            continue
        if match[1] in guids:
            problems.append(f"{meta}: guid also used by {guids[match[1]]}")
        guids[match[1]] = path
    for path in package.rglob("*.meta"):
        if not path.with_suffix("").exists():
            problems.append(f"{path}: stale, its asset is gone")
    for scene in package.rglob("*.unity"):
        problems += scene_problems(scene, guids)
    return problems


def scene_problems(scene: Path, guids: dict[str, Path]) -> list[str]:
    """Each MonoBehaviour's script is a script of the package, and each field the scene
    sets is declared in that script (a renamed field would silently lose its value)."""
    problems = []
    for block in scene.read_text().split("--- !u!114 ")[1:]:
        match = re.search(r"m_Script: \{fileID: 11500000, guid: ([0-9a-f]{32})", block)
        script = guids.get(match[1]) if match else None
        if script is None or script.suffix != ".cs":
            problems.append(f"{scene}: a MonoBehaviour's script is no script of the package")
            continue
        source = script.read_text()
        for field in re.findall(r"^  ([A-Za-z_]\w*):", block, re.M):
            if not field.startswith("m_") and not re.search(rf"\b{field}\b", source):
                problems.append(f"{scene}: {script.name} has no field {field}")
    return problems


def json_problems(package: Path) -> list[str]:
    problems: list[str] = []
    asmdefs: dict[str, tuple[Path, dict[str, Any]]] = {}
    for path in [package / "package.json", *package.rglob("*.asmdef")]:
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            problems.append(f"{path}: {exc}")
            continue
        if path.suffix == ".asmdef":
            asmdefs[data["name"]] = (path, data)
    for name, (path, data) in asmdefs.items():
        for ref in data.get("references", []):
            if ref not in asmdefs and ref not in UNITY_ASSEMBLIES:
                problems.append(f"{path}: {name} references unknown assembly {ref}")
    return problems


def main(package: Path) -> int:
    sources = [p for p in sorted(package.rglob("*.cs")) if PROTOC_MESSAGES not in p.as_posix()]
    problems = [e for p in sources for e in parse_errors(p)]
    problems += json_problems(package) + meta_problems(package)
    for problem in problems:
        print(problem)
    print(f"{len(sources)} C# files parsed, package layout checked: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
