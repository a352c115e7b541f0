"""Server lifecycle: build, serve, drain on SIGTERM."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import signal
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from npc_runtime.config import Settings
from npc_runtime.dialogue.engine import DialogueEngine
from npc_runtime.dialogue.world_sync import WorldSync
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
from npc_runtime.server.auth import AuthInterceptor, Tokens, is_loopback, tokens_for
from npc_runtime.server.dialogue_servicer import DialogueServicer
from npc_runtime.server.interceptors import RequestContextInterceptor
from npc_runtime.server.quest_servicer import QuestServicer
from npc_runtime.server.tls import TlsMaterial, load_tls
from npc_runtime.server.tree_servicer import TreeServicer
from npc_runtime.server.world_servicer import WorldServicer

if TYPE_CHECKING:  # imported when a web or metrics port is asked for: aiohttp costs ~14 MB
    from aiohttp import web

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
    socket_dir: Path | None = None  # private folder of the gateway's unix socket
    metrics: web.AppRunner | None = None  # GET /metrics, when asked for
    metrics_port: int | None = None

    async def stop(self, grace_s: float) -> None:
        """Say NOT_SERVING, then let calls in flight finish within ``grace_s``."""
        await self.health.enter_graceful_shutdown()
        # Both drain together: gRPC-Web calls in flight are native calls underneath.
        await asyncio.gather(self.server.stop(grace_s),
                             self.gateway.stop() if self.gateway else asyncio.sleep(0))
        if self.metrics is not None:  # last: a scrape during the drain still answers
            await self.metrics.cleanup()
        if self.socket_dir is not None:
            shutil.rmtree(self.socket_dir, ignore_errors=True)


@dataclasses.dataclass(frozen=True)
class Security:
    """Who may call and over what: checked before anything binds."""

    tokens: Tokens | None  # None: anyone may call
    tls: TlsMaterial | None  # None: plaintext


def check_security(settings: Settings) -> Security:
    """
    Read the tokens file and the TLS files, and refuse an open non-loopback server.

    Raises:
        ConfigError: A malformed tokens file, unusable TLS files, or a non-loopback host
            with neither a tokens file nor ``insecure``.
    """
    return Security(tokens_for(settings), load_tls(settings.tls_cert, settings.tls_key))


async def build_server(settings: Settings, engine: DialogueEngine, worlds: WorldHost
                       ) -> RunningServer:
    """
    A started server with the dialogue, world, quest, tree, health and reflection
    services, and gRPC-Web on ``settings.web_port`` if set. Health says SERVING once every
    port listens.

    Raises:
        ConfigError: See :func:`check_security`; nothing is bound then.
    """
    security = check_security(settings)
    if security.tokens is None and not is_loopback(settings.host):
        log.warning("serving_without_tokens", host=settings.host,
                    message="no --auth-tokens: anyone who can reach this address can call "
                    "every RPC, including LoadWorld and SetQuestState")
    elif security.tls is None and not is_loopback(settings.host):
        log.warning("tokens_in_plaintext", host=settings.host,
                    message="no --tls-cert: tokens cross the network readable by anyone "
                    "on the path; serve TLS or keep the server behind one")
    interceptors: list[grpc.aio.ServerInterceptor] = [RequestContextInterceptor()]
    if security.tokens is not None:  # outermost: a refused caller learns nothing else
        interceptors.insert(0, AuthInterceptor(security.tokens))
    metrics = None
    if settings.metrics_port is not None:  # around everything: refused callers count too
        from npc_runtime.server.metrics import Metrics, MetricsInterceptor

        metrics = Metrics(engine.load)
        engine.store.observe(metrics.store_done)
        interceptors.insert(0, MetricsInterceptor(metrics))
    server = grpc.aio.server(interceptors=interceptors)
    dialogue_pb2_grpc.add_DialogueServiceServicer_to_server(
        DialogueServicer(engine, metrics.line_done if metrics else None), server)
    world_pb2_grpc.add_WorldServiceServicer_to_server(WorldServicer(worlds), server)
    quest_pb2_grpc.add_QuestServiceServicer_to_server(QuestServicer(engine), server)
    tree_pb2_grpc.add_TreeServiceServicer_to_server(TreeServicer(engine), server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(SERVICE_NAMES, server)
    address = f"{settings.host}:{settings.port}"
    if security.tls is not None:  # TLS only: no plaintext port beside it
        port = server.add_secure_port(address, security.tls.server_credentials())
    else:
        port = server.add_insecure_port(address)
    running = RunningServer(server, port, health_servicer)
    if settings.web_port is not None:
        # The gateway reaches the native server over a unix socket in a folder only this
        # user may enter, never over a plaintext TCP port (its calls still meet every
        # interceptor, auth included: the gateway forwards the caller's token).
        running.socket_dir = Path(tempfile.mkdtemp(prefix="npc-runtime-"))
        socket = f"unix:{running.socket_dir / 'native.sock'}"
        server.add_insecure_port(socket)
    await server.start()
    try:
        if running.socket_dir is not None:
            running.gateway, running.web_port = await _start_web_gateway(settings, socket,
                                                                         security.tls)
        if metrics is not None:
            from npc_runtime.server.metrics import start_http

            running.metrics, running.metrics_port = await start_http(
                metrics, settings.host, settings.metrics_port or 0)
    except BaseException:
        await running.stop(0)
        raise
    for name in ("", *SERVICE_NAMES[:2]):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return running


async def _start_web_gateway(settings: Settings, target: str, tls: TlsMaterial | None
                             ) -> tuple[GrpcWebGateway, int]:
    """gRPC-Web on ``settings.web_port`` (over TLS if ``tls``) in front of the native
    server at ``target``; returns the gateway and the port it bound."""
    from npc_runtime.server.grpc_web import GrpcWebGateway, methods_of

    files = (dialogue_pb2.DESCRIPTOR, world_pb2.DESCRIPTOR, quest_pb2.DESCRIPTOR,
             tree_pb2.DESCRIPTOR, health_pb2.DESCRIPTOR)
    methods = methods_of(files, SERVICE_NAMES)
    gateway = GrpcWebGateway(target, methods, settings.web_cors_origins)
    port = await gateway.start(settings.host, settings.web_port or 0, settings.shutdown_grace_s,
                               ssl_context=tls.context if tls else None)
    return gateway, port


async def serve(settings: Settings, engine: DialogueEngine) -> None:
    """Serve until SIGTERM or SIGINT, then drain in-flight streams and exit."""
    worlds = WorldHost(engine, settings.world, roots=[Path(r) for r in settings.world_roots])
    sync = None
    if (fleet := engine.store.fleet) is not None:  # replicas: serve the fleet's world
        sync = WorldSync(worlds, fleet)
        await sync.join()
    if settings.warm:
        started = time.perf_counter()
        count = await asyncio.to_thread(engine.warm)
        log.info("warmed", npcs=count, ms=round((time.perf_counter() - started) * 1000))
    running = await build_server(settings, engine, worlds)
    if running.gateway is not None:
        log.info("serving_grpc_web", host=settings.host, port=running.web_port,
                 cors_origins=list(settings.web_cors_origins))
    if running.metrics is not None:
        log.info("serving_metrics", host=settings.host, port=running.metrics_port,
                 path="/metrics")
    if settings.watch:
        worlds.start_watching(settings.watch_interval_s)
    log.info("serving", host=settings.host, port=running.port, world=engine.world.name,
             tls=settings.tls_cert is not None, tokens=settings.auth_tokens_file is not None,
             npcs=sorted(engine.world.characters), model=str(engine.model.path),
             providers=engine.model.runner.providers)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("draining", grace_s=settings.shutdown_grace_s)
    await worlds.stop_watching()
    if sync is not None:
        await sync.stop()
    await running.stop(settings.shutdown_grace_s)
    engine.shutdown()
    log.info("stopped")
