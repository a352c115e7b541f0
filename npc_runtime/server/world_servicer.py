"""``npc.v1.WorldService``: protobuf in, one WorldHost call, protobuf out."""

from __future__ import annotations

import grpc

from npc_runtime.dialogue.worlds import WorldHost
from npc_runtime.lore.diagnostics import Diagnostic
from npc_runtime.lore.model import World
from npc_runtime.server._proto.npc.v1 import world_pb2 as pb
from npc_runtime.server._proto.npc.v1 import world_pb2_grpc as pb_grpc
from npc_runtime.server.status import domain_errors

_SEVERITY = {"error": pb.SEVERITY_ERROR, "warning": pb.SEVERITY_WARNING}


class WorldServicer(pb_grpc.WorldServiceServicer):
    """Adapts the wire contract to :class:`WorldHost`."""

    def __init__(self, host: WorldHost) -> None:
        self._host = host

    async def ValidateWorld(  # noqa: N802 (gRPC method names)
        self, request: pb.ValidateWorldRequest, context: grpc.aio.ServicerContext
    ) -> pb.ValidateWorldResponse:
        async with domain_errors(context):
            path, files = _source(request.source)
            world, diagnostics = await self._host.check(path=path, files=files)
        return pb.ValidateWorldResponse(valid=world is not None,
                                        diagnostics=[_diagnostic(d) for d in diagnostics],
                                        world=_info(world) if world else None)

    async def LoadWorld(  # noqa: N802
        self, request: pb.LoadWorldRequest, context: grpc.aio.ServicerContext
    ) -> pb.LoadWorldResponse:
        async with domain_errors(context):
            path, files = _source(request.source)
            loaded, diagnostics = await self._host.load(path=path, files=files)
        return pb.LoadWorldResponse(loaded=loaded, world=_info(self._host.world),
                                    diagnostics=[_diagnostic(d) for d in diagnostics])

    async def GetWorldInfo(  # noqa: N802
        self, request: pb.GetWorldInfoRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetWorldInfoResponse:
        return pb.GetWorldInfoResponse(world=_info(self._host.world))


def _source(source: pb.WorldSource) -> tuple[str, dict[str, str] | None]:
    if source.WhichOneof("source") == "files":
        return "", dict(source.files.files)
    return source.path, None


def _diagnostic(d: Diagnostic) -> pb.Diagnostic:
    return pb.Diagnostic(file=d.location.file, line=d.location.line, column=d.location.column,
                         severity=_SEVERITY[d.severity], code=d.code, message=d.message,
                         hint=d.hint)


def _info(world: World) -> pb.WorldInfo:
    return pb.WorldInfo(name=world.name, version=world.version,
                        npc_ids=sorted(world.characters), fact_count=len(world.facts),
                        quest_count=len(world.quests))
