"""
Two `npc-runtime serve` processes on loopback, one PostgreSQL database (``NPC_STATE_URL``),
the tiny model: one conversation alternates between them turn by turn, then the server
that served the last turn is killed (-9) and the next turn goes on on the other; an engine
tool call made on one server is answered through the other, and a world loaded on one is
served by the other.

What the servers share is checked where it lives: the session's row in the database (its
history, in order, ends with the line each turn streamed) and the player's quest state,
read over gRPC from either server.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from npc_runtime.config import EXAMPLE_WORLD
from npc_runtime.server._proto.npc.v1 import dialogue_pb2 as pb
from npc_runtime.server._proto.npc.v1 import dialogue_pb2_grpc as pb_grpc
from npc_runtime.server._proto.npc.v1 import quest_pb2, quest_pb2_grpc, world_pb2, world_pb2_grpc
from tests.e2e.test_serve import CLI, _free_port, _wait_serving
from tests.postgres import PostgresServer

pytestmark = pytest.mark.e2e

PLAYER = "save-7"
TRUSTED = quest_pb2.QuestState(stages={"noises_below": "trusted"})
# The example world with one more NPC at the inn: only a server serving it knows old_ned.
WITH_NED = (EXAMPLE_WORLD / "world.yaml").read_text().replace("  - id: tobin\n", """\
  - id: old_ned
    name: Old Ned
    role: a retired fisherman by the fire
    location: gull_and_lantern
    persona:
      traits: [gruff, kind underneath]
      speech:
        style: Few words.
        sample_lines:
          - "Fog's thick tonight."
    knows: [silent_bell]
    fallback_lines:
      - "Ask Maren, not me."

  - id: tobin
""", 1)


class Replica:
    """One server process and its stubs; its log goes to a file (shown when a test fails)."""

    def __init__(self, name: str, model: Path, encoder: Path, url: str, logs: Path) -> None:
        self.name, self.port, self.log = name, _free_port(), logs / f"{name}.log"
        env = {**os.environ, "NPC_STATE_URL": url, "NPC_SHUTDOWN_GRACE_S": "5"}
        with self.log.open("w") as out:
            self.process = subprocess.Popen(
                [*CLI, "serve", "--model", str(model), "--encoder", str(encoder),
                 "--port", str(self.port), "--threads", "1", "--max-new-tokens", "8",
                 "--no-watch", "--log-format", "json"],
                stdout=out, stderr=subprocess.STDOUT, text=True, env=env)
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
        self.dialogue = pb_grpc.DialogueServiceStub(self.channel)
        self.quests = quest_pb2_grpc.QuestServiceStub(self.channel)
        self.worlds = world_pb2_grpc.WorldServiceStub(self.channel)

    def say(self, session: str, text: str) -> pb.LineDone:
        """One turn in which the NPC only speaks (a tool call would wait for a game that is
        not there); its LineDone."""
        events = list(self.dialogue.Say(pb.SayRequest(session_id=session, text=text,
                                                      tool_choice="none"), timeout=120))
        assert events[-1].HasField("line_done"), f"{self.name}: no line_done"
        return events[-1].line_done

    def stages(self) -> dict[str, str]:
        """The player's quest stages, as this server reads them."""
        got = self.quests.GetQuestState(quest_pb2.GetQuestStateRequest(player_id=PLAYER))
        return dict(got.state.stages)

    def stop(self) -> None:
        """SIGTERM (SIGKILL if it lingers); the channel closes."""
        self.channel.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


@pytest.fixture
def replicas(postgres: PostgresServer, tiny_model_dir: Path, default_encoder_dir: Path,
             tmp_path: Path) -> Iterator[tuple[Replica, Replica, str]]:
    """Two servers on one fresh database, both serving; yields them and the database."""
    url = postgres.new_database()
    pair = (Replica("a", tiny_model_dir, default_encoder_dir, url, tmp_path),
            Replica("b", tiny_model_dir, default_encoder_dir, url, tmp_path))
    try:
        for replica in pair:
            _wait_serving(replica.port, replica.process, timeout=120)
        yield pair[0], pair[1], url.rsplit("/", 1)[1]
    finally:
        for replica in pair:
            replica.stop()
        for replica in pair:
            with contextlib.suppress(OSError):
                print(f"---- {replica.name}'s log\n{replica.log.read_text()[-4000:]}")


def _stored(postgres: PostgresServer, database: str, session: str) -> list[tuple[str, str]]:
    """The session's history as the database holds it."""
    rows = postgres.sql(database, "SELECT history FROM session WHERE id = %s", (session,))
    assert rows, "the session is not stored"
    return [(role, text) for role, text in json.loads(rows[0][0])]


def test_a_conversation_alternates_servers_and_outlives_a_kill_9(
        replicas: tuple[Replica, Replica, str], postgres: PostgresServer) -> None:
    """a, b, a, b: each turn goes on from the last (history in order, quest state moved
    by b seen by a), says whether it read the session from the store; then a kill -9 of
    the server that served the last turn, and the next turn on the other loses nothing."""
    a, b, database = replicas
    a.quests.SetQuestState(quest_pb2.SetQuestStateRequest(player_id=PLAYER, state=TRUSTED))
    session = a.dialogue.OpenSession(pb.OpenSessionRequest(
        npc_id="maren", player_name="Ada", player_id=PLAYER)).session_id
    lines = ["Nice weather today.", "I'll bring the boy some stew.",
             "The sea is calm tonight.", "The gulls are loud this morning.",
             "Any news from the harbour?"]
    served = [a, b, a, b]
    done = []
    for i, (replica, line) in enumerate(zip(served, lines[:4], strict=True)):
        done.append(replica.say(session, line))
        history = _stored(postgres, database, session)
        assert [t for r, t in history if r == "user"] == lines[:i + 1], replica.name
        assert history[-1] == ("assistant", done[-1].text), replica.name
    # Each prompt holds the conversation so far, whichever server said its lines (the
    # option "I'll bring the boy some stew." reads as a farewell, said without the model).
    prompts = [d.timings.prompt_tokens for d in done if d.timings.prompt_tokens]
    assert len(prompts) >= 3, prompts
    assert prompts == sorted(set(prompts)), prompts
    assert "noises_below: trusted -> done" in done[1].quest_changes  # said on b
    assert a.stages() == b.stages() == {"noises_below": "done"}
    # a opened it (no store read); after that every turn follows the other server's.
    assert [d.timings.rebuilt_from_store for d in done] == [False, True, True, True]
    before = _stored(postgres, database, session)

    b.process.send_signal(signal.SIGKILL)  # b served the last turn
    assert b.process.wait(30) == -signal.SIGKILL
    last = a.say(session, lines[4])
    after = _stored(postgres, database, session)
    assert after[:len(before)] == before
    assert [t for r, t in after if r == "user"] == lines
    assert after[-1] == ("assistant", last.text)
    assert last.timings.rebuilt_from_store
    assert a.stages() == {"noises_below": "done"}


def test_a_tool_result_sent_to_the_other_server_reaches_the_waiting_turn(
        replicas: tuple[Replica, Replica, str], postgres: PostgresServer) -> None:
    """Maren hands over a room key on a (an engine tool: the game must answer); the game's
    answer goes to b; a's turn goes on with it (status ok), the item and the quest move
    are stored, and a second answer through either server is NOT_FOUND."""
    a, b, database = replicas
    a.quests.SetQuestState(quest_pb2.SetQuestStateRequest(
        player_id=PLAYER, state=quest_pb2.QuestState(stages={"noises_below": "asked"})))
    session = a.dialogue.OpenSession(pb.OpenSessionRequest(
        npc_id="maren", player_name="Ada", player_id=PLAYER)).session_id
    calls: list[pb.ToolCall] = []

    def game(events: Iterator[pb.SayResponse]) -> list[pb.SayResponse]:
        seen = []
        for event in events:
            seen.append(event)
            if event.HasField("tool_call"):  # the game runs it, answering through b
                calls.append(event.tool_call)
                b.dialogue.SubmitToolResult(pb.SubmitToolResultRequest(
                    session_id=session, call_id=event.tool_call.call_id,
                    result_json='{"handed_over": "room_key"}'), timeout=10)
        return seen

    events = game(a.dialogue.Say(pb.SayRequest(
        session_id=session, text="I'll take a room key, please.", tool_choice="give_item"),
        timeout=120))
    assert [c.tool for c in calls] == ["give_item"]
    assert calls[0].executor == pb.TOOL_EXECUTOR_ENGINE
    done = events[-1].line_done
    outcome = done.tool_calls[0]
    assert (outcome.tool, outcome.status) == ("give_item", pb.TOOL_CALL_STATUS_OK)
    assert outcome.result_json == '{"handed_over": "room_key"}'
    assert "item: room_key" in outcome.changes
    for replica in (a, b):  # the quest state both read: the key, and the stage it led to
        state = replica.quests.GetQuestState(
            quest_pb2.GetQuestStateRequest(player_id=PLAYER)).state
        assert "room_key" in state.player_items, replica.name
        assert dict(state.stages) == {"noises_below": "trusted"}, replica.name
    history = _stored(postgres, database, session)
    assert ("tool", '{"handed_over": "room_key"}') in history
    for replica in (a, b):  # answered once: the row is gone
        with pytest.raises(grpc.RpcError) as refused:
            replica.dialogue.SubmitToolResult(pb.SubmitToolResultRequest(
                session_id=session, call_id=calls[0].call_id, result_json="{}"), timeout=10)
        assert refused.value.code() == grpc.StatusCode.NOT_FOUND, replica.name
    assert postgres.sql(database, "SELECT id FROM tool_call") == []


def test_a_world_loaded_on_one_server_is_served_by_the_other(
        replicas: tuple[Replica, Replica, str]) -> None:
    """LoadWorld (files) on a: within seconds b reports the new version, and a turn on b
    talks to the NPC only the new world has."""
    a, b, _ = replicas
    info = world_pb2.GetWorldInfoRequest()
    assert a.worlds.GetWorldInfo(info).world.version == b.worlds.GetWorldInfo(info).world.version
    loaded = a.worlds.LoadWorld(world_pb2.LoadWorldRequest(source=world_pb2.WorldSource(
        files=world_pb2.WorldFiles(files={"world.yaml": WITH_NED}))))
    assert loaded.loaded
    deadline = time.monotonic() + 10
    while (served := b.worlds.GetWorldInfo(info).world).version != loaded.world.version:
        assert time.monotonic() < deadline, f"b still serves {served.version}"
        time.sleep(0.1)
    assert (served.name, list(served.npc_ids)) == ("Saltmere", ["maren", "old_ned", "tobin"])
    session = b.dialogue.OpenSession(pb.OpenSessionRequest(
        npc_id="old_ned", player_name="Ada", player_id=PLAYER)).session_id
    assert b.say(session, "Evening. Cold out there.").text
