"""What both engine-client suites need: the toolchain gate, subprocess runs, and a real
`npc-runtime serve` with gRPC-Web on and the default model."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import secrets
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_serve import _free_port, _start, _wait_serving
from tests.server.test_tls import self_signed

ROOT = Path(__file__).resolve().parents[2]
TOOLCHAIN = Path(os.environ.get("NPC_TOOLCHAIN_CACHE",
                                Path.home() / ".cache" / "npc-runtime" / "toolchain"))


def require_toolchain(missing: list[str], name: str, setup: str) -> None:
    """Skip when parts of a toolchain are missing; fail instead in CI
    (NPC_REQUIRE_CLIENT_TOOLCHAIN=1), where the engine-client tests must run."""
    if not missing:
        return
    reason = (f"{name} toolchain not set up ({', '.join(missing)} missing): "
              f"run `bash {setup}` (Debian 12, root)")
    if os.environ.get("NPC_REQUIRE_CLIENT_TOOLCHAIN") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def run(*args: str | Path, timeout: float, env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess[str]:
    """A command from the repository root, its output captured."""
    return subprocess.run([str(a) for a in args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, check=False, env={**os.environ, **(env or {})})


@dataclasses.dataclass(frozen=True)
class Secured:
    """What a client needs to reach a server with tokens and TLS on."""

    cert: Path  # the server's self-signed certificate (for localhost, 127.0.0.1): the CA
    key: Path
    tokens: Path  # the server's tokens file
    client_token: str
    admin_token: str


def secured(folder: Path) -> Secured:
    """A self-signed certificate and a tokens file with one client and one admin token."""
    cert, key = self_signed(folder)
    client, admin = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    tokens = folder / "tokens"
    tokens.write_text(f"client {client}\nadmin {admin}\n")
    tokens.chmod(0o600)
    return Secured(cert, key, tokens, client, admin)


@dataclasses.dataclass(frozen=True)
class Served:
    """A running `npc-runtime serve`: its ports and what it has logged so far."""

    port: int  # native gRPC
    web_port: int  # gRPC-Web
    log: list[str]  # its output lines (JSON logs), read as they come


@contextlib.contextmanager
def serving(model_dir: Path, state_dir: Path, *extra: str,
            security: Secured | None = None) -> Iterator[Served]:
    """`npc-runtime serve --web-port` (warm) until the block ends. With ``security``:
    tokens and TLS on both ports (https on the web port). Its output is read all along (a
    full pipe would stall the server) into ``Served.log``."""
    port, web_port = _free_port(), _free_port()
    if security is not None:
        extra = (*extra, "--auth-tokens", str(security.tokens), "--tls-cert",
                 str(security.cert), "--tls-key", str(security.key))
    process = _start(model_dir, port, "--web-port", str(web_port), "--warm", *extra,
                     state_db=state_dir / "state.sqlite3")
    log: list[str] = []
    assert process.stdout is not None
    reader = threading.Thread(target=lambda: log.extend(process.stdout or ()), daemon=True)
    reader.start()
    # SERVING: the gRPC-Web port listens too
    _wait_serving(port, process, cert=security.cert if security is not None else None)
    try:
        yield Served(port, web_port, log)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
        reader.join(5)


@contextlib.contextmanager
def web_server(model_dir: Path, state_dir: Path, *extra: str,
               security: Secured | None = None) -> Iterator[int]:
    """`npc-runtime serve --web-port` (warm) until the block ends; yields the web port.
    With ``security``: tokens and TLS on both ports (https on the web port)."""
    with serving(model_dir, state_dir, *extra, security=security) as served:
        yield served.web_port


def calls_by_affinity(log: list[str]) -> dict[str, set[str]]:
    """Affinity key (a call's x-npc-session) -> the RPCs whose log lines carried it, from
    the JSON lines of ``Served.log``. With ``--log-level debug`` every unary call logs
    ``rpc_done``; a Say logs its turn's lines at info."""
    calls: dict[str, set[str]] = {}
    for line in log:
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(event, dict) and "affinity" in event:
            calls.setdefault(str(event["affinity"]), set()).add(str(event.get("rpc")))
    return calls


def assert_conversations_keyed(stdout: str, log: list[str]) -> None:
    """A client test program printed ``AFFINITY player=KEY random=KEY`` (the keys its two
    conversations used: the player's id, and a random one for a conversation without):
    every call of each conversation reached the server with its key, and nothing else
    did. SetQuestState and SubmitToolResult belong to the player's conversation only."""
    keys = re.search(r"AFFINITY player=(\S+) random=([0-9a-f]{32})", stdout)
    assert keys, stdout
    calls = calls_by_affinity(log)
    expected = {"SetQuestState", "OpenSession", "Say", "SubmitToolResult", "GetQuestState",
                "CloseSession"}
    assert expected == calls.get(keys[1]), calls.get(keys[1])
    anonymous = expected - {"SetQuestState", "SubmitToolResult"}
    assert anonymous == calls.get(keys[2]), calls.get(keys[2])
