"""``npc.v1.QuestService``: protobuf in, one engine call, protobuf out."""

from __future__ import annotations

import grpc

from npc_runtime.dialogue.engine import DialogueEngine
from npc_runtime.errors import InvalidInputError
from npc_runtime.lore.model import WorldState
from npc_runtime.server._proto.npc.v1 import quest_pb2 as pb
from npc_runtime.server._proto.npc.v1 import quest_pb2_grpc as pb_grpc
from npc_runtime.server.status import domain_errors


class QuestServicer(pb_grpc.QuestServiceServicer):
    """Adapts the wire contract to :class:`DialogueEngine`'s quest state."""

    def __init__(self, engine: DialogueEngine) -> None:
        self._engine = engine

    async def GetQuestState(  # noqa: N802 (gRPC method names)
        self, request: pb.GetQuestStateRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetQuestStateResponse:
        async with domain_errors(context):
            state = self._engine.quest_state(_player(request.player_id))
        return pb.GetQuestStateResponse(state=_to_proto(state))

    async def SetQuestState(  # noqa: N802
        self, request: pb.SetQuestStateRequest, context: grpc.aio.ServicerContext
    ) -> pb.SetQuestStateResponse:
        async with domain_errors(context):
            s = request.state
            state = self._engine.set_quest_state(_player(request.player_id), WorldState(
                stages=dict(s.stages), revealed=frozenset(s.revealed_facts),
                player_items=frozenset(s.player_items)))
        return pb.SetQuestStateResponse(state=_to_proto(state))


def _player(player_id: str) -> str:
    if not player_id:
        raise InvalidInputError("player_id is empty: pass the id given to OpenSession "
                                "(or the session id)")
    return player_id


def _to_proto(state: WorldState) -> pb.QuestState:
    return pb.QuestState(stages=dict(state.stages), revealed_facts=sorted(state.revealed),
                         player_items=sorted(state.player_items))
