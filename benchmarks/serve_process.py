"""
A real `npc-runtime serve` process on a free port, for the benchmarks that drive one over
gRPC (soak, persona_eval): started with its log in a file, ready once a session opens,
stopped with SIGTERM.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import grpc

from npc_runtime.server._proto.npc.v1 import dialogue_pb2 as pb
from npc_runtime.server._proto.npc.v1 import dialogue_pb2_grpc as pb_grpc


def stop_process(process: subprocess.Popen[bytes], grace_s: float) -> None:
    """SIGTERM, then SIGKILL if it is still running after ``grace_s``; waits for it."""
    process.terminate()
    try:
        process.wait(grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def free_port() -> int:
    """A port nobody listens on right now (another process may still take it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServeProcess:
    """``npc-runtime serve --world WORLD ... ARGS``; its log and state database in ``work``."""

    def __init__(self, world: Path, args: list[str], work: Path, threads: int = 2,
                 env: dict[str, str] | None = None, *, prefix: Sequence[str] = ()) -> None:
        """``prefix``: a command the server runs under (``taskset -c 0``: pinned to a core);
        ``env`` may name a shared store (``NPC_STATE_URL``), else it has its own SQLite."""
        self.port = free_port()
        command = [*prefix, sys.executable, "-m", "npc_runtime", "serve", "--world", str(world),
                   "--port", str(self.port), "--threads", str(threads), "--no-watch",
                   "--log-level", "warning", *args]
        env = {**os.environ, **(env or {}),
               "NPC_STATE_DB": str(work / f"state-{self.port}.sqlite3")}
        # Its log goes to a file: a pipe nobody reads fills up and blocks the server.
        self.log = work / f"serve-{self.port}.log"
        with self.log.open("w") as log:
            self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log,
                                            text=True, env=env)
        self.target = f"127.0.0.1:{self.port}"

    async def ready(self, npc: str, timeout_s: float = 300.0) -> None:
        """Wait until a session with ``npc`` opens; SystemExit with the log if it dies."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.alive():
                raise SystemExit("server exited: " + self.log.read_text()[-2000:])
            try:
                async with grpc.aio.insecure_channel(self.target) as channel:
                    stub = pb_grpc.DialogueServiceStub(channel)
                    opened = await stub.OpenSession(pb.OpenSessionRequest(npc_id=npc), timeout=5)
                    await stub.CloseSession(pb.CloseSessionRequest(session_id=opened.session_id))
                return
            except grpc.aio.AioRpcError:
                await asyncio.sleep(0.3)
        raise SystemExit(f"server did not start in {timeout_s:.0f} s")

    def alive(self) -> bool:
        """Whether the process still runs."""
        return self.process.poll() is None

    def stop(self) -> None:
        """SIGTERM (in-flight turns drain), then kill if it takes over 30 s."""
        if self.alive():
            stop_process(self.process, 30)
