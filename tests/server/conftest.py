"""A real grpc.aio server on a free port, in a background thread, with the tiny model."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Iterator

import grpc
import pytest

from npc_runtime.config import Settings
from npc_runtime.dialogue.engine import DialogueEngine
from npc_runtime.lore.model import World
from npc_runtime.model.loader import LoadedModel
from npc_runtime.server._proto.npc.v1 import dialogue_pb2_grpc
from npc_runtime.server.app import build_server


@dataclasses.dataclass
class LiveServer:
    """A running server and what tests need to reach into."""

    port: int
    engine: DialogueEngine
    channel: grpc.Channel
    stub: dialogue_pb2_grpc.DialogueServiceStub


@pytest.fixture(scope="module")
def live_server(tiny_model: LoadedModel, world: World) -> Iterator[LiveServer]:
    """Serve the example world with the tiny model on port 0."""
    settings = Settings(port=0, max_text_chars=200, max_new_tokens=24, max_sessions=50)
    engine = DialogueEngine(world, tiny_model, settings)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder: dict[str, object] = {}

    async def run() -> None:
        server, port, _ = await build_server(settings, engine)
        holder.update(server=server, port=port)
        started.set()
        await server.wait_for_termination()

    thread = threading.Thread(target=loop.run_until_complete, args=(run(),), daemon=True)
    thread.start()
    assert started.wait(30), "server did not start"
    channel = grpc.insecure_channel(f"127.0.0.1:{holder['port']}")
    yield LiveServer(int(holder["port"]), engine, channel,  # type: ignore[call-overload]
                     dialogue_pb2_grpc.DialogueServiceStub(channel))
    channel.close()
    # run() returns once the server has stopped, which ends the loop's thread.
    asyncio.run_coroutine_threadsafe(holder["server"].stop(1), loop)  # type: ignore[attr-defined]
    thread.join(10)
    assert not thread.is_alive(), "server did not stop"
    engine.shutdown()
