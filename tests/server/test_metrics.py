"""
Prometheus metrics over real HTTP beside a real gRPC server: scraped during a turn they show
it running, after it its histograms and counters moved; a refused turn is counted as such.
"""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Iterator

import grpc
import pytest

from npc_runtime.config import Settings
from npc_runtime.errors import ConfigError
from npc_runtime.model.loader import LoadedModel
from npc_runtime.server._proto.npc.v1 import dialogue_pb2 as pb
from npc_runtime.server._proto.npc.v1 import quest_pb2 as qpb
from tests.server.conftest import LiveServer, serving_saltmere


@pytest.fixture(scope="module")
def metered_server(tiny_model: LoadedModel, tmp_path_factory: pytest.TempPathFactory
                   ) -> Iterator[LiveServer]:
    """Saltmere with metrics on a free port, one turn at a time and no queue."""
    settings = Settings(port=0, metrics_port=0, max_new_tokens=8, watch=False,
                        tool_timeout_s=20.0, max_active_turns=1, max_queued_turns=0,
                        kv_cache_mb=64)
    with serving_saltmere(settings, tiny_model, tmp_path_factory) as server:
        yield server


def _scrape(server: LiveServer) -> dict[str, float]:
    """Every sample of GET /metrics, keyed by its name and labels as written."""
    with urllib.request.urlopen(f"http://127.0.0.1:{server.metrics_port}/metrics",
                                timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


def _sum(samples: dict[str, float], name: str) -> float:
    return sum(v for k, v in samples.items() if re.fullmatch(rf"{name}(\{{.*\}})?", k))


def test_a_turn_moves_the_metrics_and_shows_while_it_runs(metered_server: LiveServer) -> None:
    server = metered_server
    before = _scrape(server)
    assert before["npc_active_turns"] == 0
    server.quests.SetQuestState(qpb.SetQuestStateRequest(
        player_id="p-metrics", state=qpb.QuestState(stages={"the_hidden_courier": "ask_around"})))
    session = server.stub.OpenSession(pb.OpenSessionRequest(npc_id="wren",
                                                            player_id="p-metrics")).session_id
    stream = server.stub.Say(pb.SayRequest(session_id=session, tool_choice="sell_item",
                                           text="I'll buy the silver heron token."))
    call = next(e for e in stream if e.HasField("tool_call")).tool_call
    during = _scrape(server)  # the turn waits for the game: it holds its place
    assert during["npc_active_turns"] == 1
    assert during["npc_open_sessions"] >= 1
    server.stub.SubmitToolResult(pb.SubmitToolResultRequest(
        session_id=session, call_id=call.call_id, result_json='{"sold": true}'))
    assert list(stream)[-1].HasField("line_done")
    after = _scrape(server)
    assert after["npc_active_turns"] == 0
    assert after["npc_turn_seconds_count"] == before["npc_turn_seconds_count"] + 1
    assert after["npc_turn_ttft_seconds_count"] == before["npc_turn_ttft_seconds_count"] + 1
    assert after["npc_generated_tokens_total"] > before["npc_generated_tokens_total"]
    assert _sum(after, "npc_checker_actions_total") == _sum(before,
                                                            "npc_checker_actions_total") + 1
    assert after['npc_tool_calls_total{status="ok",tool="sell_item"}'] == 1
    assert after['npc_rpcs_total{code="OK",rpc="Say"}'] == 1
    assert after['npc_rpc_seconds_count{rpc="SubmitToolResult"}'] == 1
    assert after["npc_kv_bytes"] > 0
    # The turn's writes went to the state store, timed.
    assert after['npc_store_seconds_count{operation="commit_turn"}'] > before.get(
        'npc_store_seconds_count{operation="commit_turn"}', 0)


def test_a_refused_turn_is_counted_with_its_status(metered_server: LiveServer) -> None:
    server = metered_server
    server.quests.SetQuestState(qpb.SetQuestStateRequest(
        player_id="p-busy", state=qpb.QuestState(stages={"the_hidden_courier": "ask_around"})))
    busy = server.stub.OpenSession(pb.OpenSessionRequest(npc_id="wren", player_id="p-busy"))
    other = server.stub.OpenSession(pb.OpenSessionRequest(npc_id="maren"))
    stream = server.stub.Say(pb.SayRequest(session_id=busy.session_id, tool_choice="sell_item",
                                           text="I'll buy the silver heron token."))
    call = next(e for e in stream if e.HasField("tool_call")).tool_call
    with pytest.raises(grpc.RpcError) as refused:
        list(server.stub.Say(pb.SayRequest(session_id=other.session_id, text="Hello?"),
                             timeout=10))
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    server.stub.SubmitToolResult(pb.SubmitToolResultRequest(
        session_id=busy.session_id, call_id=call.call_id, result_json='{"sold": true}'))
    list(stream)
    samples = _scrape(server)
    assert samples["npc_turns_refused_total"] == 1
    assert samples['npc_rpcs_total{code="RESOURCE_EXHAUSTED",rpc="Say"}'] == 1


def test_metrics_are_off_unless_asked_for(live_server: LiveServer) -> None:
    assert live_server.metrics_port is None


def test_a_metrics_port_out_of_range_is_refused() -> None:
    with pytest.raises(ConfigError, match="metrics port"):
        Settings(metrics_port=70000)
