"""`npc-runtime model tune` on the command line: errors a user can act on, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_tune_refuses_bad_settings_without_a_traceback() -> None:
    """A budget of zero minutes is an error message and exit 2, before anything loads."""
    done = subprocess.run([sys.executable, "-m", "npc_runtime", "model", "tune", "--world",
                           str(ROOT / "examples/worlds/saltmere"), "--minutes", "0"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.startswith("error: --minutes")
    assert "Traceback" not in done.stderr


def test_tune_on_a_missing_world_says_so() -> None:
    """A world folder that does not exist is one error line and exit 1."""
    done = subprocess.run([sys.executable, "-m", "npc_runtime", "model", "tune", "--world",
                           str(ROOT / "no/such/world")],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1
    assert done.stderr.startswith("error: ")
    assert "Traceback" not in done.stderr


def test_serve_warns_when_the_tuned_world_changed() -> None:
    """A model tuned on an older version of the served world, or on another world, is
    served with a warning; an untuned model or an up-to-date one without."""
    from structlog.testing import capture_logs

    from npc_runtime.cli import _warn_if_tuned_elsewhere
    from npc_runtime.lore.loader import load_world

    world = load_world(ROOT / "examples/worlds/saltmere")
    with capture_logs() as logs:
        _warn_if_tuned_elsewhere(None, world)
        _warn_if_tuned_elsewhere({"world": world.name, "world_version": world.version}, world)
        _warn_if_tuned_elsewhere({"world": world.name, "world_version": "old"}, world)
        _warn_if_tuned_elsewhere({"world": "Harbor", "world_version": "x"}, world)
    assert [e["event"] for e in logs] == ["model_tuned_on_an_older_world",
                                          "model_tuned_for_another_world"]
