"""The Unity client (unity_client/): generated C# fresh, the core compiled with Roslyn
(C# 8, netstandard2.1, warnings as errors), then its end-to-end program run on the
.NET Core 3.1 runtime against a live server with the real default model.

Needs the C# toolchain (`bash scripts/clients/csharp/toolchain.sh`); skipped without
it, unless NPC_REQUIRE_CLIENT_TOOLCHAIN=1 (CI), which makes its absence a failure.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.clients.conftest import ROOT, TOOLCHAIN, require_toolchain, run, web_server

pytestmark = pytest.mark.e2e
SCRIPTS = ROOT / "scripts" / "clients" / "csharp"
# One line per check of scripts/clients/csharp/e2e/LiveChecks.cs.
LIVE_CHECKS = [
    "OpenSession with maren",
    "Say streams tokens, then one line_done",
    "a give_item tool call round trip through SubmitToolResult",
    "GetQuestState after the call",
    "saying a player option moves the quest",
    "server errors map to status codes with messages",
    "cancelling a Say mid-stream; the session goes on",
    "CloseSession, then the session is NotFound",
]


@pytest.fixture(scope="module")
def toolchain() -> Path:
    """The C# toolchain's env.sh; skip (or fail, in CI) when it was never set up."""
    env = TOOLCHAIN / "csharp" / "env.sh"
    require_toolchain([] if env.exists() else [str(env)], "C#",
                      "scripts/clients/csharp/toolchain.sh")
    return env


@pytest.fixture(scope="module")
def build(toolchain: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """compile.sh's output: the core, the E2E program, the glue's stub compile."""
    out = tmp_path_factory.mktemp("csharp")
    result = run("bash", SCRIPTS / "compile.sh", out, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return out


@pytest.fixture(scope="module")
def web_url(default_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `npc-runtime serve` with gRPC-Web on; yields its URL."""
    with web_server(default_model_dir, tmp_path_factory.mktemp("state")) as web_port:
        yield f"http://127.0.0.1:{web_port}/"


def test_generated_csharp_is_fresh(toolchain: Path) -> None:
    """Runtime/*/Generated match what protoc 3.21.12 and grpc_csharp_plugin make now."""
    result = run("bash", SCRIPTS / "codegen.sh", "--check", timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_core_compiles_and_package_checks(build: Path) -> None:
    """Roslyn C# 8 / netstandard2.1 / -warnaserror; glue, sample and layout checks pass."""
    assert (build / "NpcRuntime.Core.dll").stat().st_size > 0
    assert (build / "UnityGlue.StubCheck.dll").exists()


def test_e2e_program_passes_against_a_live_server(build: Path, web_url: str) -> None:
    """Streaming, a tool call round trip, options, quest state, errors, cancellation."""
    result = run("bash", SCRIPTS / "e2e.sh", web_url, build, timeout=600)
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.rstrip().endswith(" passed, 0 failed")
    passed = {line.split(" (")[0].removeprefix("PASS ")
              for line in result.stdout.splitlines() if line.startswith("PASS ")}
    assert set(LIVE_CHECKS) <= passed, set(LIVE_CHECKS) - passed
