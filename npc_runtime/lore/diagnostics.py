"""What the lore compiler says: errors and warnings anchored at ``file:line:column``."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence

from npc_runtime.errors import LoreError


@dataclasses.dataclass(frozen=True, order=True)
class Location:
    """A place in a source file (1-based line and column)."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclasses.dataclass(frozen=True)
class Diagnostic:
    """One finding: where, how bad, what, and what to do about it."""

    location: Location
    severity: str  # "error" | "warning"
    code: str  # stable identifier, e.g. "unknown-reference"
    message: str
    hint: str = ""

    def __str__(self) -> str:
        hint = f" ({self.hint})" if self.hint else ""
        return f"{self.location}: {self.severity}[{self.code}]: {self.message}{hint}"

    def to_dict(self) -> dict[str, object]:
        """Plain data for ``--format json`` and the wire."""
        return {"file": self.location.file, "line": self.location.line,
                "column": self.location.column, "severity": self.severity,
                "code": self.code, "message": self.message, "hint": self.hint}


class WorldInvalidError(LoreError):
    """Raised when a world has errors; carries every diagnostic, errors first."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        self.diagnostics = sort(diagnostics)
        errors = [d for d in self.diagnostics if d.severity == "error"]
        shown = "\n".join(str(d) for d in errors[:20])
        more = f"\n... and {len(errors) - 20} more" if len(errors) > 20 else ""
        super().__init__(f"the world has {len(errors)} error(s):\n{shown}{more}")


def sort(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Errors before warnings, then by place."""
    return sorted(diagnostics, key=lambda d: (d.severity != "error", d.location, d.code))


def render(diagnostics: Sequence[Diagnostic], fmt: str) -> str:
    """Text (one per line, then a summary) or a JSON document."""
    if fmt == "json":
        return json.dumps(document(diagnostics), indent=2)
    errors = sum(d.severity == "error" for d in diagnostics)
    warnings = len(diagnostics) - errors
    lines = [str(d) for d in sort(diagnostics)]
    lines.append(f"{errors} error(s), {warnings} warning(s)")
    return "\n".join(lines)


def document(diagnostics: Sequence[Diagnostic]) -> dict[str, object]:
    """The ``--format json`` document: validity, counts and every diagnostic."""
    errors = sum(d.severity == "error" for d in diagnostics)
    return {"valid": errors == 0, "errors": errors, "warnings": len(diagnostics) - errors,
            "diagnostics": [d.to_dict() for d in sort(diagnostics)]}
