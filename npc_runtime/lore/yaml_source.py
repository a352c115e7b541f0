"""
Reading world YAML safely, remembering where every value came from.

PyYAML's composer gives nodes with positions; we build plain Python data from them and a
map from each value's path (``("characters", 0, "knows", 2)``) to its ``Location``. Guards:
file size, node budget (alias "billion laughs" expansion), nesting depth, duplicate keys.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import yaml

from npc_runtime.lore.diagnostics import Diagnostic, Location

MAX_FILE_BYTES = 1 << 20  # 1 MiB per file: generous for text, fatal for accidents
MAX_NODES = 200_000  # values built per file, counting each alias expansion again
MAX_DEPTH = 48

Path_ = tuple[str | int, ...]


@dataclasses.dataclass
class SourceMap:
    """Where each value (and each mapping key) was written."""

    values: dict[Path_, Location] = dataclasses.field(default_factory=dict)
    keys: dict[Path_, Location] = dataclasses.field(default_factory=dict)

    def at(self, path: Path_, *, key: bool = False) -> Location:
        """The location of ``path`` (its key when ``key``), or of its nearest ancestor."""
        table = self.keys if key else self.values
        while path:
            if path in table:
                return table[path]
            if path in self.values:
                return self.values[path]
            path = path[:-1]
        return self.values.get((), Location("?", 1, 1))


class _TooBigError(Exception):
    pass


def read_yaml(file: Path, display: str) -> tuple[Any, SourceMap, list[Diagnostic]]:
    """
    Parse one file into plain data, its source map, and any errors (then data is None).

    Args:
        file: The file to read.
        display: How diagnostics name it (usually relative to the world folder).
    """
    start = Location(display, 1, 1)

    def fail(code: str, message: str, where: Location = start, hint: str = ""
             ) -> tuple[Any, SourceMap, list[Diagnostic]]:
        return None, SourceMap(), [Diagnostic(where, "error", code, message, hint)]

    size = file.stat().st_size
    if size > MAX_FILE_BYTES:
        return fail("file-too-large", f"file is {size} bytes; the limit is {MAX_FILE_BYTES}",
                    hint="split the world into several files")
    try:
        text = file.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        return fail("not-utf8", f"file is not UTF-8 text (byte {exc.start})",
                    hint="save it as UTF-8")
    loader: yaml.SafeLoader | None = None
    try:
        loader = yaml.SafeLoader(text)  # checks for unprintable characters right away
        node = loader.get_single_node()
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - text.rfind("\n", 0, exc.position)
        return fail("yaml-syntax", f"character #x{exc.character:04x} is not allowed in YAML",
                    Location(display, line, column), "remove control characters")
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Location(display, mark.line + 1, mark.column + 1) if mark else start
        return fail("yaml-syntax", f"invalid YAML: {exc.problem or exc.context}", where)
    except yaml.YAMLError as exc:
        return fail("yaml-syntax", f"invalid YAML: {exc}")
    except RecursionError:
        return fail("too-deep", "nesting is too deep to read")
    finally:
        if loader is not None:
            loader.dispose()
    if node is None:
        return {}, SourceMap({(): start}), []
    builder = _Builder(loader, display)
    try:
        data = builder.build(node, (), 0)
    except _TooBigError as exc:
        return fail("too-large", str(exc), hint="avoid anchors/aliases that expand hugely")
    return data, builder.sources, builder.diagnostics


class _Builder:
    def __init__(self, loader: yaml.SafeLoader, display: str) -> None:
        self._loader = loader
        self._display = display
        self._count = 0
        self.sources = SourceMap()
        self.diagnostics: list[Diagnostic] = []

    def _loc(self, node: yaml.Node) -> Location:
        return Location(self._display, node.start_mark.line + 1, node.start_mark.column + 1)

    def build(self, node: yaml.Node, path: Path_, depth: int) -> Any:
        self._count += 1
        if self._count > MAX_NODES:
            raise _TooBigError(f"more than {MAX_NODES} values (alias expansion?)")
        if depth > MAX_DEPTH:
            raise _TooBigError(f"nesting deeper than {MAX_DEPTH} levels")
        self.sources.values[path] = self._loc(node)
        if isinstance(node, yaml.ScalarNode):
            try:
                return self._loader.construct_object(node, deep=True)
            except yaml.YAMLError as exc:
                self.diagnostics.append(Diagnostic(self._loc(node), "error", "yaml-value",
                                                   f"cannot read value: {exc}"))
                return None
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        if isinstance(node, yaml.MappingNode):
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = self.build(key_node, (*path, "<key>"), depth + 1)
                if not isinstance(key, str):
                    self.diagnostics.append(Diagnostic(
                        self._loc(key_node), "error", "bad-key",
                        f"mapping keys must be text, not {type(key).__name__} {key!r}"))
                    continue
                if key in result:
                    self.diagnostics.append(Diagnostic(
                        self._loc(key_node), "error", "duplicate-key",
                        f"key {key!r} appears twice in this mapping",
                        "YAML would silently keep only the last one"))
                self.sources.keys[(*path, key)] = self._loc(key_node)
                result[key] = self.build(value_node, (*path, key), depth + 1)
            self.sources.values.pop((*path, "<key>"), None)
            return result
        raise _TooBigError(f"unsupported YAML node {node.tag}")
