"""
Tool calls over real gRPC: the game runs engine tools and answers (or never does), the
server runs its own, quest state follows. ``tool_choice`` makes the call happen whatever
the tiny random model would decide; the arguments are still decoded under the grammar.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import grpc
import pytest

from npc_runtime.config import Settings
from npc_runtime.dialogue.prompt import spoken
from npc_runtime.model.loader import LoadedModel
from npc_runtime.server._proto.npc.v1 import dialogue_pb2 as pb
from npc_runtime.server._proto.npc.v1 import quest_pb2 as qpb
from tests.server.conftest import LiveServer, serving_saltmere


@pytest.fixture(scope="module")
def saltmere_server(tiny_model: LoadedModel, tmp_path_factory: pytest.TempPathFactory
                    ) -> Iterator[LiveServer]:
    settings = Settings(port=0, max_new_tokens=8, watch=False, tool_timeout_s=1.0)
    with serving_saltmere(settings, tiny_model, tmp_path_factory) as server:
        yield server


def _open(server: LiveServer, npc: str, player: str) -> str:
    return server.stub.OpenSession(pb.OpenSessionRequest(npc_id=npc, player_id=player)
                                   ).session_id


def test_an_engine_tool_waits_for_the_game_and_changes_the_quest(
        saltmere_server: LiveServer) -> None:
    server = saltmere_server
    server.quests.SetQuestState(qpb.SetQuestStateRequest(
        player_id="p-heron", state=qpb.QuestState(stages={"the_hidden_courier": "ask_around"})))
    session = _open(server, "wren", "p-heron")
    events = []
    for event in server.stub.Say(pb.SayRequest(session_id=session, tool_choice="sell_item",
                                               text="I'll buy the silver heron token.")):
        events.append(event)
        if event.HasField("tool_call"):  # the game runs it, then answers
            call = event.tool_call
            assert call.executor == pb.TOOL_EXECUTOR_ENGINE
            args = json.loads(call.arguments_json)
            assert args["item"] == "silver_heron"  # grounded in the player's words
            assert 1 <= args["count"] <= 10
            server.stub.SubmitToolResult(pb.SubmitToolResultRequest(
                session_id=session, call_id=call.call_id, result_json='{"sold": true}'))
    done = events[-1].line_done
    assert [c.tool for c in done.tool_calls] == ["sell_item"]
    outcome = done.tool_calls[0]
    assert outcome.status == pb.TOOL_CALL_STATUS_OK
    assert outcome.result_json == '{"sold": true}'
    assert outcome.changes == ["item: silver_heron"]
    state = server.quests.GetQuestState(qpb.GetQuestStateRequest(player_id="p-heron")).state
    assert "silver_heron" in state.player_items
    # The call and its result are part of the conversation the NPC continues from.
    history = spoken(server.engine.sessions.get(session).history)  # the plan's note aside
    assert [role for role, _ in history] == ["user", "assistant", "tool", "assistant"]
    assert history[2][1] == '{"sold": true}'


def test_an_unanswered_call_times_out_with_a_clear_status(saltmere_server: LiveServer) -> None:
    server = saltmere_server
    session = _open(server, "wren", "p-silent")
    events = list(server.stub.Say(pb.SayRequest(session_id=session, tool_choice="open_shop",
                                                text="Show me your wares.")))
    call = next(e.tool_call for e in events if e.HasField("tool_call"))
    outcome = events[-1].line_done.tool_calls[0]
    assert outcome.status == pb.TOOL_CALL_STATUS_TIMED_OUT
    assert "did not answer" in outcome.result_json
    with pytest.raises(grpc.RpcError) as caught:  # too late now
        server.stub.SubmitToolResult(pb.SubmitToolResultRequest(
            session_id=session, call_id=call.call_id, result_json="{}"))
    assert caught.value.code() is grpc.StatusCode.NOT_FOUND
    assert "timed out" in (caught.value.details() or "")


def test_a_failed_call_changes_nothing(saltmere_server: LiveServer) -> None:
    server = saltmere_server
    session = _open(server, "wren", "p-fail")

    def answer(call: pb.ToolCall) -> None:
        server.stub.SubmitToolResult(pb.SubmitToolResultRequest(
            session_id=session, call_id=call.call_id, error="the shop is closed"))

    events = []
    for event in server.stub.Say(pb.SayRequest(session_id=session, tool_choice="sell_item",
                                               text="A coil of rope, please.")):
        events.append(event)
        if event.HasField("tool_call"):
            threading.Thread(target=answer, args=(event.tool_call,)).start()
    outcome = events[-1].line_done.tool_calls[0]
    assert outcome.status == pb.TOOL_CALL_STATUS_FAILED
    assert "closed" in outcome.result_json
    state = server.quests.GetQuestState(qpb.GetQuestStateRequest(player_id="p-fail")).state
    assert not state.player_items


def test_a_server_tool_runs_at_once(saltmere_server: LiveServer) -> None:
    server = saltmere_server
    server.quests.SetQuestState(qpb.SetQuestStateRequest(
        player_id="p-fee", state=qpb.QuestState(stages={"harbour_dues": "owed"})))
    session = _open(server, "oskar", "p-fee")
    events = list(server.stub.Say(pb.SayRequest(
        session_id=session, tool_choice="collect_harbour_fee", text="Here is my fee.")))
    call = next(e.tool_call for e in events if e.HasField("tool_call"))
    assert call.executor == pb.TOOL_EXECUTOR_SERVER
    outcome = events[-1].line_done.tool_calls[0]
    assert outcome.status == pb.TOOL_CALL_STATUS_OK
    assert outcome.changes == ["harbour_dues: owed -> cleared"]
    state = server.quests.GetQuestState(qpb.GetQuestStateRequest(player_id="p-fee")).state
    assert state.stages["harbour_dues"] == "cleared"


@pytest.mark.parametrize(("npc", "choice", "text", "message"), [
    ("wren", "give_item", "Give me rope.", "cannot call it now"),
    ("oskar", "collect_harbour_fee", "Fee?", "cannot call it now"),  # stage not reached
    ("wren", "sell_item", "Sell me something nice.", "name no value"),
])
def test_a_tool_choice_the_npc_cannot_make_is_refused(saltmere_server: LiveServer, npc: str,
                                                      choice: str, text: str,
                                                      message: str) -> None:
    session = _open(saltmere_server, npc, f"p-{npc}-{choice}")
    with pytest.raises(grpc.RpcError) as caught:
        list(saltmere_server.stub.Say(pb.SayRequest(session_id=session, text=text,
                                                    tool_choice=choice)))
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert message in (caught.value.details() or "")


def test_none_means_the_npc_only_speaks(saltmere_server: LiveServer) -> None:
    session = _open(saltmere_server, "wren", "p-none")
    events = list(saltmere_server.stub.Say(pb.SayRequest(
        session_id=session, tool_choice="none", text="Open the shop and sell me rope.")))
    assert not any(e.HasField("tool_call") for e in events)
    assert not events[-1].line_done.tool_calls


def test_a_new_line_cuts_the_reply_in_flight_short(saltmere_server: LiveServer) -> None:
    """The player speaks again while the NPC waits for the game: the old reply ends with
    ABORTED at once, and the new line is answered."""
    server = saltmere_server
    server.quests.SetQuestState(qpb.SetQuestStateRequest(
        player_id="p-again", state=qpb.QuestState(stages={"the_hidden_courier": "ask_around"})))
    session = _open(server, "wren", "p-again")
    first = server.stub.Say(pb.SayRequest(session_id=session, tool_choice="sell_item",
                                          text="I'll buy the silver heron token."))
    assert next(first).HasField("tool_call")  # now waiting for the game's answer
    second = list(server.stub.Say(pb.SayRequest(session_id=session, tool_choice="none",
                                                text="Never mind. Good evening.")))
    with pytest.raises(grpc.RpcError) as cut:
        list(first)
    assert cut.value.code() == grpc.StatusCode.ABORTED
    assert "spoke again" in (cut.value.details() or "")
    assert second[-1].HasField("line_done")
    history = server.engine.sessions.get(session).history
    assert [role for role, _ in history] == ["user", "assistant"]  # nothing of the cut reply
    assert history[0][1] == "Never mind. Good evening."


def test_a_result_that_is_not_json_is_invalid_and_the_call_still_waits(
        saltmere_server: LiveServer) -> None:
    """A malformed answer is refused (the NPC would read it); a good one is still taken."""
    server = saltmere_server
    server.quests.SetQuestState(qpb.SetQuestStateRequest(
        player_id="p-json", state=qpb.QuestState(stages={"the_hidden_courier": "ask_around"})))
    session = _open(server, "wren", "p-json")
    events = []
    for event in server.stub.Say(pb.SayRequest(session_id=session, tool_choice="sell_item",
                                               text="I'll buy the silver heron token.")):
        events.append(event)
        if event.HasField("tool_call"):
            with pytest.raises(grpc.RpcError) as caught:
                server.stub.SubmitToolResult(pb.SubmitToolResultRequest(
                    session_id=session, call_id=event.tool_call.call_id,
                    result_json="sold it"))
            assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
            assert "not JSON" in (caught.value.details() or "")
            server.stub.SubmitToolResult(pb.SubmitToolResultRequest(
                session_id=session, call_id=event.tool_call.call_id, result_json="{}"))
    assert events[-1].line_done.tool_calls[0].status == pb.TOOL_CALL_STATUS_OK


def test_the_reply_plan_says_why_each_tool_was_or_was_not_called(
        saltmere_server: LiveServer) -> None:
    """A price asked of the harbour master: read as a question, the fee is not taken,
    and LineDone's plan says so per tool (as `tools explain` would)."""
    server = saltmere_server
    server.quests.SetQuestState(qpb.SetQuestStateRequest(
        player_id="p-trace", state=qpb.QuestState(stages={"harbour_dues": "owed"})))
    session = _open(server, "oskar", "p-trace")
    events = list(server.stub.Say(pb.SayRequest(session_id=session,
                                                text="How much is the harbour fee?")))
    done = events[-1].line_done
    assert not done.tool_calls
    trace = list(done.plan.tool_trace)
    assert trace[0].startswith("the line reads as question")
    assert any(step.startswith("collect_harbour_fee: not offered") for step in trace)
    assert trace[-1] == "the NPC calls nothing and speaks"
