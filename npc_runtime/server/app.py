"""Server lifecycle: build, serve, drain on SIGTERM."""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import time
from typing import TYPE_CHECKING

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from npc_runtime.config import Settings
from npc_runtime.dialogue.engine import DialogueEngine
from npc_runtime.dialogue.worlds import WorldHost
from npc_runtime.server._proto.npc.v1 import (
    dialogue_pb2,
    dialogue_pb2_grpc,
    quest_pb2,
    quest_pb2_grpc,
    tree_pb2,
    tree_pb2_grpc,
    world_pb2,
    world_pb2_grpc,
)
from npc_runtime.server.dialogue_servicer import DialogueServicer
from npc_runtime.server.interceptors import RequestContextInterceptor
from npc_runtime.server.quest_servicer import QuestServicer
from npc_runtime.server.tree_servicer import TreeServicer
from npc_runtime.server.world_servicer import WorldServicer

if TYPE_CHECKING:  # imported when a web port is asked for: aiohttp costs ~14 MB resident
    from npc_runtime.server.grpc_web import GrpcWebGateway

log = structlog.get_logger(__name__)

SERVICE_NAMES = (
    dialogue_pb2.DESCRIPTOR.services_by_name["DialogueService"].full_name,
    world_pb2.DESCRIPTOR.services_by_name["WorldService"].full_name,
    quest_pb2.DESCRIPTOR.services_by_name["QuestService"].full_name,
    tree_pb2.DESCRIPTOR.services_by_name["TreeService"].full_name,
    health.SERVICE_NAME,
    reflection.SERVICE_NAME,
)


@dataclasses.dataclass
class RunningServer:
    """A started server: native gRPC, and gRPC-Web in front of it when asked for."""

    server: grpc.aio.Server
    port: int  # the one bound (useful with port=0)
    health: health.aio.HealthServicer
    gateway: GrpcWebGateway | None = None
    web_port: int | None = None

    async def stop(self, grace_s: float) -> None:
        """Say NOT_SERVING, then let calls in flight finish within ``grace_s``."""
        await self.health.enter_graceful_shutdown()
        # Both drain together: gRPC-Web calls in flight are native calls underneath.
        await asyncio.gather(self.server.stop(grace_s),
                             self.gateway.stop() if self.gateway else asyncio.sleep(0))


async def build_server(settings: Settings, engine: DialogueEngine, worlds: WorldHost
                       ) -> RunningServer:
    """
    A started server with the dialogue, world, quest, tree, health and reflection
    services, and gRPC-Web on ``settings.web_port`` if set. Health says SERVING once every
    port listens.
    """
    server = grpc.aio.server(interceptors=[RequestContextInterceptor()])
    dialogue_pb2_grpc.add_DialogueServiceServicer_to_server(DialogueServicer(engine), server)
    world_pb2_grpc.add_WorldServiceServicer_to_server(WorldServicer(worlds), server)
    quest_pb2_grpc.add_QuestServiceServicer_to_server(QuestServicer(engine), server)
    tree_pb2_grpc.add_TreeServiceServicer_to_server(TreeServicer(engine), server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(SERVICE_NAMES, server)
    port = server.add_insecure_port(f"{settings.host}:{settings.port}")
    await server.start()
    running = RunningServer(server, port, health_servicer)
    if settings.web_port is not None:
        running.gateway, running.web_port = await _start_web_gateway(settings, port)
    for name in ("", *SERVICE_NAMES[:2]):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return running


async def _start_web_gateway(settings: Settings, native_port: int
                             ) -> tuple[GrpcWebGateway, int]:
    """gRPC-Web on ``settings.web_port`` in front of the native server at ``native_port``;
    returns the gateway and the port it bound."""
    from npc_runtime.server.grpc_web import GrpcWebGateway, methods_of

    files = (dialogue_pb2.DESCRIPTOR, world_pb2.DESCRIPTOR, quest_pb2.DESCRIPTOR,
             tree_pb2.DESCRIPTOR, health_pb2.DESCRIPTOR)
    methods = methods_of(files, SERVICE_NAMES)
    host = settings.host if settings.host not in ("", "0.0.0.0", "::", "[::]") else "127.0.0.1"
    target = f"[{host}]:{native_port}" if ":" in host else f"{host}:{native_port}"
    gateway = GrpcWebGateway(target, methods, settings.web_cors_origins)
    port = await gateway.start(settings.host, settings.web_port or 0, settings.shutdown_grace_s)
    return gateway, port


async def serve(settings: Settings, engine: DialogueEngine) -> None:
    """Serve until SIGTERM or SIGINT, then drain in-flight streams and exit."""
    worlds = WorldHost(engine, settings.world)
    if settings.warm:
        started = time.perf_counter()
        count = await asyncio.to_thread(engine.warm)
        log.info("warmed", npcs=count, ms=round((time.perf_counter() - started) * 1000))
    running = await build_server(settings, engine, worlds)
    if running.gateway is not None:
        log.info("serving_grpc_web", host=settings.host, port=running.web_port,
                 cors_origins=list(settings.web_cors_origins))
    if settings.watch:
        worlds.start_watching(settings.watch_interval_s)
    log.info("serving", host=settings.host, port=running.port, world=engine.world.name,
             npcs=sorted(engine.world.characters), model=str(engine.model.path),
             providers=engine.model.runner.providers)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("draining", grace_s=settings.shutdown_grace_s)
    await worlds.stop_watching()
    await running.stop(settings.shutdown_grace_s)
    engine.shutdown()
    log.info("stopped")
