"""The Unity client (unity_client/): generated C# fresh, the core compiled with Roslyn
(C# 8, netstandard2.1, warnings as errors), then its end-to-end program run on the
.NET Core 3.1 runtime against a live server with the real default model: with tokens
and TLS on (https, the client trusting the server's self-signed certificate as its CA,
a client token for the dialogue, an admin token for quest setup, one turn at a time so
that capacity refusals can be seen), and once more plain (no tokens, http), where the
server's log lines show every call of a conversation carrying its affinity key
(x-npc-session). Then the Unity sample's game logic (plain C#) played on .NET against a
server with tokens, TLS and one turn place.

Needs the C# toolchain (`bash scripts/clients/csharp/toolchain.sh`); skipped without
it, unless NPC_REQUIRE_CLIENT_TOOLCHAIN=1 (CI), which makes its absence a failure.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.clients.conftest import (
    ROOT,
    TOOLCHAIN,
    Secured,
    assert_conversations_keyed,
    require_toolchain,
    run,
    secured,
    serving,
    web_server,
)

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
    "x-npc-session on every call of two conversations, keys printed for the logs",
]
# Only against a server with tokens, TLS and one turn at a time.
SECURED_CHECKS = [
    "https: a certificate the client was not given is refused",
    "https: a CA that did not issue the server's certificate is refused",
    "http:// to the https-only port is Unavailable",
    "no token -> Unauthenticated",
    "an unknown token -> Unauthenticated",
    "client token -> dialogue works",
    "client token -> SetQuestState is PermissionDenied",
    "over capacity -> ResourceExhausted with a retry-after hint",
]
# Offline: the token header, the error kinds, the certificate checks.
OFFLINE_CHECKS = [
    "the access token goes as authorization: Bearer on every call",
    "a malformed access token is refused without echoing it",
    "x-npc-session: every call of a conversation carries its affinity key",
    "Unauthenticated, PermissionDenied, ResourceExhausted: distinct, with hints",
    "retry-after-ms in trailers-only headers and in the trailer frame",
    "a server certificate issued by the given CA is trusted",
    "a self-signed server certificate given as the CA is trusted",
    "another CA, a wrong host, an expired or a client-only certificate is refused",
    "CA PEM: bundles parse; no certificate or a broken one is an ArgumentException",
    "sample rules: an item is handed over only when asked for and affordable",
    "sample rules: running and undoing a call; give_item's arguments read leniently",
    "sample texts: each error says what to do, in its own words",
]
# One line per step of scripts/clients/csharp/e2e/SamplePlay.cs: the sample's game, played.
PLAY_CHECKS = [
    "sample: no server says what to do; Retry connects and shows the stage",
    "sample: a typed line streams in as her line",
    "sample: the room key's tool call, accepted, moves the stage asked -> trusted",
    "sample: the option's button finishes the quest, trusted -> done",
    "sample: the stew the player cannot pay for is refused, the reason sent back",
    "sample: hold until checked shows only whole lines; the plan panel",
    "sample: a busy server's retry hint, then the line goes through",
    "sample: the server gone mid-conversation, then Retry says the line again",
    "sample: an unknown token, a client token starting the quest: their own messages",
    "sample: never a speaker line without words; the log never lags the inventory",
]
NO_SECRETS = {"NPC_E2E_TOKEN": "", "NPC_E2E_ADMIN_TOKEN": "", "NPC_E2E_CA_FILE": "",
              "NPC_E2E_CAPACITY": ""}


@pytest.fixture(scope="module")
def toolchain() -> Path:
    """The C# toolchain's env.sh; skip (or fail, in CI) when it was never set up."""
    env = TOOLCHAIN / "csharp" / "env.sh"
    # OpenSSL 1.1: the .NET Core 3.1 runtime's TLS (a toolchain from before it lacks it).
    libssl = TOOLCHAIN / "csharp" / "libssl1.1" / "libssl.so.1.1"
    require_toolchain([str(p) for p in (env, libssl) if not p.exists()], "C#",
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
def security(tmp_path_factory: pytest.TempPathFactory) -> Secured:
    """A self-signed certificate for localhost, a client and an admin token."""
    return secured(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def web_url(default_model_dir: Path, tmp_path_factory: pytest.TempPathFactory,
            security: Secured) -> Iterator[str]:
    """A real `npc-runtime serve` with gRPC-Web, tokens and TLS on, admitting one turn at
    a time (one more may wait); yields its https URL."""
    with web_server(default_model_dir, tmp_path_factory.mktemp("state"),
                    "--max-active-turns", "1", "--max-queued-turns", "1",
                    security=security) as web_port:
        yield f"https://localhost:{web_port}/"


def passed_checks(stdout: str) -> set[str]:
    return {line.split(" (")[0].removeprefix("PASS ")
            for line in stdout.splitlines() if line.startswith("PASS ")}


def test_generated_csharp_is_fresh(toolchain: Path) -> None:
    """Runtime/*/Generated match what protoc 3.21.12 and grpc_csharp_plugin make now."""
    result = run("bash", SCRIPTS / "codegen.sh", "--check", timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_core_compiles_and_package_checks(build: Path) -> None:
    """Roslyn C# 8 / netstandard2.1 / -warnaserror; glue, sample and layout checks pass."""
    assert (build / "NpcRuntime.Core.dll").stat().st_size > 0
    assert (build / "UnityGlue.StubCheck.dll").exists()


def test_e2e_program_passes_against_a_secured_server(build: Path, web_url: str,
                                                     security: Secured) -> None:
    """Tokens and TLS: refusals (untrusted certificate, wrong CA, plain http, no or an
    unknown token, a client token setting quest state, over capacity), then streaming, a
    tool call round trip, options, quest state, errors and cancellation with the client
    token over https."""
    result = run("bash", SCRIPTS / "e2e.sh", web_url, build, timeout=600, env={
        "NPC_E2E_TOKEN": security.client_token, "NPC_E2E_ADMIN_TOKEN": security.admin_token,
        "NPC_E2E_CA_FILE": str(security.cert), "NPC_E2E_CAPACITY": "1"})
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.rstrip().endswith(" passed, 0 failed")
    expected = set(OFFLINE_CHECKS + SECURED_CHECKS + LIVE_CHECKS)
    assert expected <= passed_checks(result.stdout), expected - passed_checks(result.stdout)
    assert security.client_token not in result.stdout + result.stderr
    assert security.admin_token not in result.stdout + result.stderr


def test_sample_game_played_against_a_live_server(build: Path, default_model_dir: Path,
                                                  tmp_path_factory: pytest.TempPathFactory
                                                  ) -> None:
    """The Unity sample's game logic (Samples~/NpcChat: ChatGame, ChatRules, ChatText, all
    plain C#) played on .NET as a player would, against a server with tokens, TLS and one
    turn place, through a port the program closes and opens: no server, then Retry
    connects and shows the stage; a typed line; the room key's tool call accepted
    (asked -> trusted, shown with its status); the option finishes the quest (done); the
    stew refused with the reason; hold mode shows only whole lines; the plan panel; a
    busy server's retry hint, then the line goes through; the server gone and back; an
    unknown token and a client token starting the quest, each with its own message. No
    speaker line is ever empty, and the log never lags the inventory."""
    security = secured(tmp_path_factory.mktemp("play-pki"))
    with serving(default_model_dir, tmp_path_factory.mktemp("play-state"),
                 "--max-active-turns", "1", "--max-queued-turns", "0",
                 security=security) as served:
        result = run("bash", SCRIPTS / "e2e.sh", f"https://localhost:{served.web_port}/", build,
                     "--play", timeout=600, env={
                         "NPC_E2E_TOKEN": security.client_token,
                         "NPC_E2E_ADMIN_TOKEN": security.admin_token,
                         "NPC_E2E_CA_FILE": str(security.cert), "NPC_E2E_CAPACITY": ""})
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.rstrip().endswith(f"{len(PLAY_CHECKS)} passed, 0 failed")
    assert set(PLAY_CHECKS) == passed_checks(result.stdout)
    assert security.client_token not in result.stdout + result.stderr


def test_e2e_program_passes_against_a_plain_server(build: Path, default_model_dir: Path,
                                                   tmp_path: Path) -> None:
    """No tokens, http: the path a local development server takes still works. Every call
    of a conversation reaches the server with its affinity key (x-npc-session, in the
    server's log lines of the call): the player id, or a random key without one."""
    with serving(default_model_dir, tmp_path, "--log-level", "debug") as served:
        result = run("bash", SCRIPTS / "e2e.sh", f"http://127.0.0.1:{served.web_port}/", build,
                     timeout=600, env=NO_SECRETS)
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.rstrip().endswith(" passed, 0 failed")
    assert set(LIVE_CHECKS) <= passed_checks(result.stdout)
    assert not set(SECURED_CHECKS) & passed_checks(result.stdout)
    assert_conversations_keyed(result.stdout, served.log)
