"""A real grpc.aio server on a free port, in a background thread, with the tiny model."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import shutil
import threading
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import grpc
import pytest
import structlog
from structlog.testing import capture_logs

from npc_runtime.config import EXAMPLE_WORLD, Settings
from npc_runtime.dialogue.engine import DialogueEngine
from npc_runtime.dialogue.worlds import WorldHost
from npc_runtime.lore.loader import load_world
from npc_runtime.model.loader import LoadedModel
from npc_runtime.server._proto.npc.v1 import dialogue_pb2_grpc, quest_pb2_grpc, world_pb2_grpc
from npc_runtime.server.app import build_server
from tests.conftest import default_embed

#: The page origin the live server lets call gRPC-Web from a browser.
GAME_ORIGIN = "http://game.test:8060"
SALTMERE = Path(__file__).parents[2] / "examples" / "worlds" / "saltmere"


@dataclasses.dataclass
class LiveServer:
    """A running server and what tests need to reach into."""

    port: int
    engine: DialogueEngine
    channel: grpc.Channel
    stub: dialogue_pb2_grpc.DialogueServiceStub
    worlds: world_pb2_grpc.WorldServiceStub
    world_path: Path
    quests: quest_pb2_grpc.QuestServiceStub
    web_port: int | None = None  # gRPC-Web, when the settings ask for it
    socket_dir: Path | None = None  # the gateway's private unix socket folder
    metrics_port: int | None = None  # GET /metrics, when the settings ask for it


@contextlib.contextmanager
def running_server(settings: Settings, model: LoadedModel, world_path: Path
                   ) -> Iterator[LiveServer]:
    """Serve ``world_path`` with ``model`` until the block ends (watching if settings say)."""
    engine = DialogueEngine(load_world(world_path), model, settings, embed=default_embed())
    host = WorldHost(engine, world_path)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    box: dict[str, object] = {}

    async def run() -> None:
        try:
            running = await build_server(settings, engine, host)
        except Exception as exc:
            box["error"] = exc
            started.set()
            return
        if settings.watch:
            host.start_watching(settings.watch_interval_s)
        stop = asyncio.Event()
        box.update(stop=stop, port=running.port, web_port=running.web_port,
                   socket_dir=running.socket_dir, metrics_port=running.metrics_port)
        started.set()
        await stop.wait()
        await host.stop_watching()
        await running.stop(1)

    thread = threading.Thread(target=loop.run_until_complete, args=(run(),), daemon=True)
    thread.start()
    assert started.wait(30), "server did not start"
    if "error" in box:
        thread.join(10)
        engine.shutdown()
        raise box["error"]  # type: ignore[misc]
    channel = grpc.insecure_channel(f"127.0.0.1:{box['port']}")
    try:
        yield LiveServer(int(box["port"]), engine, channel,  # type: ignore[call-overload]
                         dialogue_pb2_grpc.DialogueServiceStub(channel),
                         world_pb2_grpc.WorldServiceStub(channel), world_path,
                         quest_pb2_grpc.QuestServiceStub(channel),
                         box.get("web_port"), box.get("socket_dir"),  # type: ignore[arg-type]
                         box.get("metrics_port"))  # type: ignore[arg-type]
    finally:
        channel.close()
        # run() stops the server and returns, which ends the loop's thread.
        loop.call_soon_threadsafe(box["stop"].set)  # type: ignore[attr-defined]
        thread.join(10)
        assert not thread.is_alive(), "server did not stop"
        engine.shutdown()


@contextlib.contextmanager
def serving_saltmere(settings: Settings, model: LoadedModel,
                     tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Serve a copy of the saltmere example world (its tools and quests are the tests')."""
    world = tmp_path_factory.mktemp("worlds") / "saltmere"
    shutil.copytree(SALTMERE, world)
    with running_server(settings, model, world) as server:
        yield server


@pytest.fixture(scope="module")
def live_server(tiny_model: LoadedModel) -> Iterator[LiveServer]:
    """Serve the example world with the tiny model on port 0 (no file watching)."""
    settings = Settings(port=0, max_text_chars=200, max_new_tokens=24, max_sessions=50,
                        watch=False, web_port=0, web_cors_origins=(GAME_ORIGIN,))
    with running_server(settings, tiny_model, EXAMPLE_WORLD) as server:
        yield server


@pytest.fixture
def watched_server(tiny_model: LoadedModel, tmp_path: Path) -> Iterator[LiveServer]:
    """Serve a copy of the example world that tests may edit; polled every 50 ms."""
    world = tmp_path / "harbor"
    shutil.copytree(EXAMPLE_WORLD, world)
    settings = Settings(port=0, max_new_tokens=8, watch=True, watch_interval_s=0.05)
    with running_server(settings, tiny_model, world) as server:
        yield server


@contextlib.contextmanager
def captured_logs(level: int = logging.DEBUG) -> Iterator[list[MutableMapping[str, Any]]]:
    """Every log event from ``level`` up, with its bound context (request id, affinity
    key, rpc), whichever thread logged it; the tests otherwise log warnings only."""
    wrapper = structlog.get_config()["wrapper_class"]
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(level))
    try:
        with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
            yield logs
    finally:
        structlog.configure(wrapper_class=wrapper)
