"""What both engine-client suites need: the toolchain gate, subprocess runs, and a real
`npc-runtime serve` with gRPC-Web on and the default model."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_serve import _free_port, _start, _wait_serving

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


@contextlib.contextmanager
def web_server(model_dir: Path, state_dir: Path, *extra: str) -> Iterator[int]:
    """`npc-runtime serve --web-port` (warm) until the block ends; yields the web port."""
    port, web_port = _free_port(), _free_port()
    process = _start(model_dir, port, "--web-port", str(web_port), "--warm", *extra,
                     state_db=state_dir / "state.sqlite3")
    _wait_serving(port, process)  # SERVING: the gRPC-Web port listens too
    try:
        yield web_port
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
