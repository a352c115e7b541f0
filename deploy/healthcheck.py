"""
Exit 0 if the npc-runtime server here answers ``grpc.health.v1.Health/Check`` with
SERVING, else 1: the image's HEALTHCHECK (docker, compose).

Kubernetes does not run this: its ``grpc:`` probes ask the same service themselves. The
server says SERVING once every port listens and NOT_SERVING from the moment a SIGTERM
starts its drain, so a draining replica reads unhealthy at once. Plaintext only: a server
with ``NPC_TLS_*`` set needs another check.

    python deploy/healthcheck.py [--address HOST:PORT] [--service NAME] [--timeout S]

The default address is 127.0.0.1 at ``NPC_PORT`` (50051), read through the server's own
``Settings`` so the check and ``serve`` agree on the port.
"""

from __future__ import annotations

import argparse
import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from npc_runtime.config import Settings


def main(argv: list[str] | None = None) -> int:
    """Check once; print what was found; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].strip())
    parser.add_argument("--address", help="HOST:PORT (default: 127.0.0.1 at NPC_PORT)")
    parser.add_argument("--service", default="", help="service name ('' = the whole server)")
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds (default 3)")
    args = parser.parse_args(argv)
    address = args.address or f"127.0.0.1:{Settings.load().port}"
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = stub.Check(health_pb2.HealthCheckRequest(service=args.service),
                               timeout=args.timeout)
        except grpc.RpcError as exc:
            print(f"{address}: {exc.code().name}: {exc.details()}", file=sys.stderr)
            return 1
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    print(f"{address}: {status}")
    return 0 if reply.status == health_pb2.HealthCheckResponse.SERVING else 1


if __name__ == "__main__":
    sys.exit(main())
