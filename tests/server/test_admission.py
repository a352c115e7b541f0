"""Load beyond capacity over real gRPC: refused at once with RESOURCE_EXHAUSTED and a retry
hint, while the admitted turn goes on; the server serves again once it ends."""

from __future__ import annotations

import time
from collections.abc import Iterator

import grpc
import pytest

from npc_runtime.config import Settings
from npc_runtime.model.loader import LoadedModel
from npc_runtime.server._proto.npc.v1 import dialogue_pb2 as pb
from npc_runtime.server._proto.npc.v1 import quest_pb2 as qpb
from npc_runtime.tools.acts import Embed
from tests.server.conftest import LiveServer, serving_saltmere


@pytest.fixture(scope="module")
def one_turn_server(tiny_model: LoadedModel, tmp_path_factory: pytest.TempPathFactory
                    ) -> Iterator[LiveServer]:
    """Saltmere with room for one turn at a time and no queue."""
    settings = Settings(port=0, max_new_tokens=8, watch=False, tool_timeout_s=20.0,
                        max_active_turns=1, max_queued_turns=0, kv_cache_mb=64)
    with serving_saltmere(settings, tiny_model, tmp_path_factory) as server:
        yield server


def test_a_turn_beyond_capacity_is_refused_fast_with_a_retry_hint(
        one_turn_server: LiveServer) -> None:
    """While one turn holds the only place (waiting for the game), another player's line is
    refused at once; after the first turn ends, the second player is served."""
    server = one_turn_server
    server.quests.SetQuestState(qpb.SetQuestStateRequest(
        player_id="p-busy", state=qpb.QuestState(stages={"the_hidden_courier": "ask_around"})))
    busy = server.stub.OpenSession(pb.OpenSessionRequest(npc_id="wren", player_id="p-busy"))
    other = server.stub.OpenSession(pb.OpenSessionRequest(npc_id="maren"))
    stream = server.stub.Say(pb.SayRequest(session_id=busy.session_id, tool_choice="sell_item",
                                           text="I'll buy the silver heron token."))
    call = next(e for e in stream if e.HasField("tool_call")).tool_call  # holds its place

    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as refused:
        list(server.stub.Say(pb.SayRequest(session_id=other.session_id, text="Hello?"),
                             timeout=10))
    assert time.monotonic() - started < 2
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "retry in" in refused.value.details()
    trailers = dict(refused.value.trailing_metadata() or ())
    assert int(trailers["retry-after-ms"]) > 0

    server.stub.SubmitToolResult(pb.SubmitToolResultRequest(
        session_id=busy.session_id, call_id=call.call_id, result_json='{"sold": true}'))
    assert list(stream)[-1].HasField("line_done")
    again = list(server.stub.Say(pb.SayRequest(session_id=other.session_id, text="Hello?")))
    assert again[-1].HasField("line_done")


def test_a_kv_budget_too_small_for_the_admitted_turns_is_refused_at_start(
        tiny_model: LoadedModel, embed: Embed) -> None:
    """The budget must hold every admitted turn at a useful size; the error says what to
    change."""
    from npc_runtime.config import EXAMPLE_WORLD
    from npc_runtime.dialogue.engine import DialogueEngine
    from npc_runtime.errors import ConfigError
    from npc_runtime.lore.loader import load_world

    settings = Settings(port=0, watch=False, max_active_turns=64, kv_cache_mb=1)
    with pytest.raises(ConfigError, match=r"NPC_KV_CACHE_MB=1 .*NPC_MAX_ACTIVE_TURNS=64"):
        DialogueEngine(load_world(EXAMPLE_WORLD), tiny_model, settings, embed=embed)
