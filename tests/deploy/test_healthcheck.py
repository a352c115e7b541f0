"""
deploy/healthcheck.py, the image's HEALTHCHECK, run as docker runs it (a subprocess)
against a real gRPC server with the standard health service: healthy only while SERVING.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from concurrent import futures

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from tests.deploy import files

SCRIPT = files.DEPLOY / "healthcheck.py"


@pytest.fixture
def health_server() -> Iterator[tuple[health.HealthServicer, int]]:
    """A gRPC server on a free loopback port with only the health service."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield servicer, port
    finally:
        server.stop(None)


def _check(*args: str, port: int | None = None) -> subprocess.CompletedProcess[str]:
    env = {"PYTHONPATH": str(files.ROOT)}
    if port is not None:
        env["NPC_PORT"] = str(port)
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True,
                          text=True, timeout=30, check=False, env=env)


def test_serving_server_is_healthy(health_server: tuple[health.HealthServicer, int]) -> None:
    """SERVING on the whole server exits 0; the port comes from NPC_PORT, as in the image."""
    servicer, port = health_server
    servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    result = _check(port=port)
    assert (0, f"127.0.0.1:{port}: SERVING") == (result.returncode, result.stdout.strip())


def test_draining_server_is_unhealthy(health_server: tuple[health.HealthServicer, int]) -> None:
    """After enter_graceful_shutdown (what serve does on SIGTERM) the check fails."""
    servicer, port = health_server
    servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    servicer.enter_graceful_shutdown()
    result = _check("--address", f"127.0.0.1:{port}")
    assert (1, f"127.0.0.1:{port}: NOT_SERVING") == (result.returncode, result.stdout.strip())


def test_no_server_is_unhealthy(health_server: tuple[health.HealthServicer, int]) -> None:
    """Nothing listening (or an unknown service) fails with the gRPC status said."""
    _, port = health_server
    unknown = _check("--address", f"127.0.0.1:{port}", "--service", "npc.v1.Nope")
    assert unknown.returncode == 1
    assert "NOT_FOUND" in unknown.stderr
    refused = _check("--address", f"127.0.0.1:{_free_port()}", "--timeout", "2")
    assert refused.returncode == 1
    assert "UNAVAILABLE" in refused.stderr


def _free_port() -> int:
    """A loopback port that was free a moment ago: nothing listens on it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
