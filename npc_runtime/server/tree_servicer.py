"""``npc.v1.TreeService``: protobuf in, tree generation with progress, protobuf out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc

from npc_runtime.dialogue.engine import DialogueEngine
from npc_runtime.dialogue.trees.export import to_ink, to_json, to_yarn
from npc_runtime.dialogue.trees.generate import generate_tree
from npc_runtime.dialogue.trees.verify import verify
from npc_runtime.server._proto.npc.v1 import tree_pb2 as pb
from npc_runtime.server._proto.npc.v1 import tree_pb2_grpc as pb_grpc
from npc_runtime.server.status import domain_errors

_EXPORTS = {pb.TREE_FORMAT_JSON: to_json, pb.TREE_FORMAT_YARN: to_yarn,
            pb.TREE_FORMAT_INK: to_ink}


class TreeServicer(pb_grpc.TreeServiceServicer):
    """Adapts the wire contract to tree generation on the serving engine."""

    def __init__(self, engine: DialogueEngine) -> None:
        self._engine = engine

    async def GenerateTree(  # noqa: N802 (gRPC method names)
        self, request: pb.GenerateTreeRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.GenerateTreeResponse]:
        fmt = request.format or pb.TREE_FORMAT_JSON
        progress: asyncio.Queue[str] = asyncio.Queue()
        async with domain_errors(context):
            task = asyncio.create_task(generate_tree(
                self._engine, request.spec_id, seed=request.seed,
                progress=progress.put_nowait))
            try:
                while not task.done() or not progress.empty():
                    getter = asyncio.ensure_future(progress.get())
                    await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
                    if getter.done():
                        yield pb.GenerateTreeResponse(
                            progress=pb.TreeProgress(message=getter.result()))
                    else:
                        getter.cancel()
                tree = task.result()  # raises the generation's own error, mapped above
            finally:
                task.cancel()  # the client went away: stop generating
            yield pb.GenerateTreeResponse(tree=pb.GeneratedTree(
                format=fmt, content=_EXPORTS[fmt](tree), nodes=len(tree.nodes),
                problems=verify(tree, self._engine.world)))
