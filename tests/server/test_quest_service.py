"""QuestService over real gRPC: read, set, validate; state and sessions outlive a restart."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from npc_runtime.config import EXAMPLE_WORLD, Settings
from npc_runtime.model.loader import LoadedModel
from npc_runtime.server._proto.npc.v1 import dialogue_pb2 as dpb
from npc_runtime.server._proto.npc.v1 import quest_pb2 as pb
from tests.server.conftest import LiveServer, running_server

TRUSTED = pb.QuestState(stages={"noises_below": "trusted"}, revealed_facts=["cellar_noises"],
                        player_items=["room_key"])


def test_a_new_player_has_no_quest_started(live_server: LiveServer) -> None:
    got = live_server.quests.GetQuestState(pb.GetQuestStateRequest(player_id="nobody"))
    assert got.state == pb.QuestState()


def test_set_state_is_read_back(live_server: LiveServer) -> None:
    live_server.quests.SetQuestState(pb.SetQuestStateRequest(player_id="p1", state=TRUSTED))
    got = live_server.quests.GetQuestState(pb.GetQuestStateRequest(player_id="p1"))
    assert got.state == TRUSTED


@pytest.mark.parametrize(("state", "message"), [
    (pb.QuestState(stages={"nope": "asked"}), "no quest 'nope'; quests: noises_below"),
    (pb.QuestState(stages={"noises_below": "x"}), "has no stage 'x'; stages: asked"),
    (pb.QuestState(revealed_facts=["made_up"]), "no fact 'made_up'"),
    (pb.QuestState(player_items=["maren"]), "no item 'maren'"),
])
def test_a_state_the_world_cannot_hold_is_refused(live_server: LiveServer, state: pb.QuestState,
                                                  message: str) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        live_server.quests.SetQuestState(pb.SetQuestStateRequest(player_id="p2", state=state))
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert message in (caught.value.details() or "")
    got = live_server.quests.GetQuestState(pb.GetQuestStateRequest(player_id="p2"))
    assert got.state == pb.QuestState()  # nothing half-applied


def test_an_empty_player_id_is_refused(live_server: LiveServer) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        live_server.quests.GetQuestState(pb.GetQuestStateRequest())
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT


def test_the_npc_speaks_from_the_players_current_stage(live_server: LiveServer) -> None:
    """A state change reaches the next turn's prompt (the card shows the stage)."""
    stub = live_server.stub
    session = stub.OpenSession(dpb.OpenSessionRequest(npc_id="maren", player_id="p3"))
    before = list(stub.Say(dpb.SayRequest(session_id=session.session_id,
                                          text="Nice weather today.")))
    live_server.quests.SetQuestState(pb.SetQuestStateRequest(player_id="p3", state=TRUSTED))
    fresh = stub.OpenSession(dpb.OpenSessionRequest(npc_id="maren", player_id="p3"))
    after = list(stub.Say(dpb.SayRequest(session_id=fresh.session_id,
                                         text="Nice weather today.")))
    assert (after[-1].line_done.timings.prompt_tokens
            > before[-1].line_done.timings.prompt_tokens)


def test_state_and_sessions_outlive_a_restart(tiny_model: LoadedModel, tmp_path: Path) -> None:
    settings = Settings(port=0, max_new_tokens=4, watch=False,
                        state_db=tmp_path / "state.sqlite3")
    with running_server(settings, tiny_model, EXAMPLE_WORLD) as server:
        server.quests.SetQuestState(pb.SetQuestStateRequest(player_id="save", state=TRUSTED))
        session = server.stub.OpenSession(dpb.OpenSessionRequest(
            npc_id="maren", player_id="save")).session_id
        list(server.stub.Say(dpb.SayRequest(session_id=session, text="Evening!")))
    with running_server(settings, tiny_model, EXAMPLE_WORLD) as server:
        got = server.quests.GetQuestState(pb.GetQuestStateRequest(player_id="save"))
        assert got.state == TRUSTED
        list(server.stub.Say(dpb.SayRequest(session_id=session, text="Me again.")))
        history = server.engine.sessions.get(session).history
        assert [text for role, text in history if role == "user"] == ["Evening!", "Me again."]
        server.stub.CloseSession(dpb.CloseSessionRequest(session_id=session))
    with running_server(settings, tiny_model, EXAMPLE_WORLD) as server:
        with pytest.raises(grpc.RpcError) as caught:
            list(server.stub.Say(dpb.SayRequest(session_id=session, text="Hello?")))
        assert caught.value.code() is grpc.StatusCode.NOT_FOUND


def test_player_options_are_offered_and_saying_one_moves_the_quest(
        live_server: LiveServer) -> None:
    server = live_server
    server.quests.SetQuestState(pb.SetQuestStateRequest(
        player_id="opt-1", state=pb.QuestState(stages={"noises_below": "trusted"})))
    opened = server.stub.OpenSession(dpb.OpenSessionRequest(npc_id="maren", player_id="opt-1"))
    assert list(opened.options) == ["I'll bring the boy some stew."]
    done = list(server.stub.Say(dpb.SayRequest(session_id=opened.session_id,
                                              text="I'll bring the boy some stew.")))[-1]
    assert "noises_below: trusted -> done" in done.line_done.quest_changes
    assert list(done.line_done.options) == []
    state = server.quests.GetQuestState(pb.GetQuestStateRequest(player_id="opt-1"))
    assert state.state.stages["noises_below"] == "done"
