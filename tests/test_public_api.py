"""The public surface is deliberate: a short list, pinned here."""

from __future__ import annotations

import subprocess
import sys

import npc_runtime


def test_public_names_are_pinned() -> None:
    """Adding to ``__all__`` is an API decision; this test makes it a visible one."""
    assert sorted(npc_runtime.__all__) == ["__version__"]


def test_every_command_has_help() -> None:
    """Each subcommand answers --help with a usage line and exit 0."""
    for command in (["serve"], ["say"], ["chat"], ["model"], ["model", "build"],
                    ["model", "build-encoder"], ["model", "path"], ["model", "tune"]):
        result = subprocess.run([sys.executable, "-m", "npc_runtime", *command, "--help"],
                                capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("usage: npc-runtime")
