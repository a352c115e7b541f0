"""The Godot client (godot_client/): the generated GDScript codec is fresh, gdtoolkit's
parser, linter and formatter accept every script, and the addon's tests pass in the real
engine (Godot 4.6's web build under headless Chromium) against a live server with the
real default model, the browser calling it cross-origin as a web export would.

Needs the toolchain (`bash scripts/clients/godot/setup_toolchain.sh`, Debian 12, root);
skipped without it, unless NPC_REQUIRE_CLIENT_TOOLCHAIN=1 (CI), which makes its absence
a failure. The codec freshness check needs nothing but .venv and always runs.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_serve import _free_port, _start, _wait_serving

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts" / "clients" / "godot"
TOOLCHAIN = Path(os.environ.get("NPC_TOOLCHAIN_CACHE",
                                Path.home() / ".cache" / "npc-runtime" / "toolchain"))
# The live tests (godot_client/tests/test_npc_dialogue.gd, test_demo.gd): all must pass.
LIVE_TESTS = [
    "test_open_session_names_the_npc",
    "test_say_streams_tokens_then_one_line",
    "test_tool_call_round_trip_advances_the_quest",
    "test_errors_map_to_status_codes",
    "test_cancel_stops_the_reply_and_the_session_goes_on",
    "test_close_session_forgets_it",
    "test_demo_hands_over_the_key_and_offers_the_option",
]


def _run(*args: str | Path, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NPC_TOOLCHAIN_CACHE": str(TOOLCHAIN), "PYTHON": sys.executable}
    return subprocess.run([str(a) for a in args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, check=False, env=env)


@pytest.fixture(scope="module")
def toolchain() -> Path:
    """The toolchain cache; skip (or fail, in CI) when something in it is missing."""
    missing = [str(p) for p in (TOOLCHAIN / "gdtoolkit-4.5.0" / "bin" / "gdlint",
                                TOOLCHAIN / "godot-web-4.6" / "index.wasm") if not p.exists()]
    if not shutil.which("chromium"):
        missing.append("chromium")
    if missing:
        reason = (f"Godot client toolchain not set up ({', '.join(missing)} missing): "
                  "run `bash scripts/clients/godot/setup_toolchain.sh` (Debian 12, root)")
        if os.environ.get("NPC_REQUIRE_CLIENT_TOOLCHAIN") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return TOOLCHAIN


@pytest.fixture(scope="module")
def live_server(default_model_dir: Path,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """A real `npc-runtime serve` with gRPC-Web on, allowing the test page's origin (on
    another port, so the browser does real CORS); yields (gRPC-Web URL, page port)."""
    port, web_port, page_port = _free_port(), _free_port(), _free_port()
    process = _start(default_model_dir, port, "--web-port", str(web_port), "--warm",
                     "--web-cors-origin", f"http://127.0.0.1:{page_port}",
                     state_db=tmp_path_factory.mktemp("state") / "state.sqlite3")
    _wait_serving(port, process)
    deadline = time.monotonic() + 30
    while True:  # the web port comes up with the gRPC one; don't race it
        try:
            socket.create_connection(("127.0.0.1", web_port), timeout=1).close()
            break
        except OSError:
            assert time.monotonic() < deadline, "gRPC-Web port did not open"
            time.sleep(0.2)
    yield f"http://127.0.0.1:{web_port}", page_port
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0


def test_generated_codec_is_fresh() -> None:
    """addons/npc_dialogue/proto/*_pb.gd are what gen_codec.py makes from protos/ now."""
    result = _run(sys.executable, SCRIPTS / "gen_codec.py", "--check", timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_gdscript_parses_lints_and_is_formatted(toolchain: Path) -> None:
    """gdparse, gdlint and gdformat --check (gdtoolkit 4.5.0) on every .gd file."""
    result = _run("bash", SCRIPTS / "static_checks.sh", timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no problems found" in result.stdout


def test_engine_reports_script_errors(toolchain: Path, tmp_path: Path) -> None:
    """Negative control: a call to a method that does not exist passes gdtoolkit but not
    the engine, and the harness fails the run on the engine's SCRIPT ERROR."""
    client = tmp_path / "godot_client"
    shutil.copytree(ROOT / "godot_client", client)
    frames = client / "addons" / "npc_dialogue" / "grpc_web_frames.gd"
    frames.write_text(frames.read_text().replace("_pending.slice(", "_pending.slice_typo(", 1))
    result = _run(sys.executable, SCRIPTS / "web_test.py", "--suite", "codec", "--client", client,
                  "--timeout", "60", timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "SCRIPT ERROR" in result.stdout, result.stdout


def test_addon_tests_pass_in_godot_web_against_a_live_server(
        toolchain: Path, live_server: tuple[str, int]) -> None:
    """Codec round trips, then NpcDialogue live: streaming, a tool call round trip that
    advances the quest, options, quest_update, error codes, cancel, close."""
    url, page_port = live_server
    result = _run(sys.executable, SCRIPTS / "web_test.py", "--grpc-web", url,
                  "--page-port", str(page_port), "--timeout", "400", timeout=500)
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"RESULT \d+ passed, 0 failed", result.stdout)
    passed = set(re.findall(r"OUT PASS test_\w+\.(\w+)", result.stdout))
    assert set(LIVE_TESTS) <= passed, set(LIVE_TESTS) - passed
