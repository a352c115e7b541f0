"""End to end: `npc-runtime serve` with the real default model, driven by the CLI and gRPC."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from npc_runtime.config import EXAMPLE_WORLD
from npc_runtime.server._proto.npc.v1 import dialogue_pb2 as pb
from npc_runtime.server._proto.npc.v1 import dialogue_pb2_grpc as pb_grpc
from npc_runtime.server._proto.npc.v1 import quest_pb2, quest_pb2_grpc, world_pb2, world_pb2_grpc

pytestmark = pytest.mark.e2e
CLI = [sys.executable, "-m", "npc_runtime"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(model_dir: Path, port: int, *extra: str,
           state_db: Path | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, "NPC_SHUTDOWN_GRACE_S": "20"}
    if state_db is not None:
        env["NPC_STATE_DB"] = str(state_db)
    return subprocess.Popen(
        [*CLI, "serve", "--model", str(model_dir), "--port", str(port), "--threads", "2",
         "--log-format", "json", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )


def _wait_serving(port: int, process: subprocess.Popen[str], timeout: float = 60,
                  cert: Path | None = None) -> None:
    """Health (it needs no token) until SERVING; over TLS trusting ``cert`` if given."""
    deadline = time.monotonic() + timeout
    channel = (grpc.insecure_channel(f"127.0.0.1:{port}") if cert is None else
               grpc.secure_channel(f"localhost:{port}", grpc.ssl_channel_credentials(
                   root_certificates=cert.read_bytes())))
    with channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            try:
                if stub.Check(health_pb2.HealthCheckRequest(), timeout=1).status == 1:
                    return
            except grpc.RpcError:
                time.sleep(0.2)
    raise AssertionError("server did not become healthy")


@pytest.fixture(scope="module")
def server(default_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A real server process on a free port, NPC prefixes warmed; yields the port."""
    port = _free_port()
    process = _start(default_model_dir, port, "--warm",
                     state_db=tmp_path_factory.mktemp("state") / "state.sqlite3")
    _wait_serving(port, process)
    yield port
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0


def test_say_json_returns_a_streamed_reply_with_timings(server: int) -> None:
    """`npc-runtime say --json` prints text, ttft_ms, tokens and tokens_per_s."""
    result = subprocess.run(
        [*CLI, "say", "--port", str(server), "--npc", "maren", "--json",
         "How much is a room for the night?"],
        capture_output=True, text=True, timeout=120, check=True,
    )
    reply = json.loads(result.stdout)
    assert reply["text"].strip()
    assert reply["tokens"] >= 1
    assert reply["check"]["action"] in {"passed", "regenerated", "repaired", "fallback"}
    assert isinstance(reply["tool_calls"], list)
    assert 0 < reply["ttft_ms"] < reply["total_ms"]
    assert reply["tokens_per_s"] > 0 or reply["tokens"] == 1


def test_say_explain_prints_the_plan_and_json_carries_it(server: int) -> None:
    """A fact question: the plan is an answer with the fact, and says why; the JSON has
    the same plan with its drafts."""
    line = "How much is a room for the night?"
    result = subprocess.run([*CLI, "say", "--port", str(server), "--npc", "maren",
                             "--explain", line],
                            capture_output=True, text=True, timeout=120, check=True)
    assert "[plan] answer" in result.stderr
    assert "facts: room_price" in result.stderr
    assert "[why] the line asks about room_price" in result.stderr
    result = subprocess.run([*CLI, "say", "--port", str(server), "--npc", "maren", "--json",
                             line], capture_output=True, text=True, timeout=120, check=True)
    plan = json.loads(result.stdout)["plan"]
    assert plan["act"] == "answer"
    assert plan["facts"] == ["room_price"]
    assert plan["drafts"]
    assert "room_price" in plan["matches"]


def test_say_to_unknown_npc_is_a_clear_error(server: int) -> None:
    """The CLI prints the server's NOT_FOUND message, no traceback, exit 1."""
    result = subprocess.run([*CLI, "say", "--port", str(server), "--npc", "nobody", "hi"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1
    assert "NOT_FOUND" in result.stderr
    assert "maren" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_inputs_leave_other_sessions_serving(server: int) -> None:
    """After bad requests and a dropped stream, another session still gets its reply."""
    with grpc.insecure_channel(f"127.0.0.1:{server}") as channel:
        stub = pb_grpc.DialogueServiceStub(channel)
        session = stub.OpenSession(pb.OpenSessionRequest(npc_id="maren")).session_id
        with pytest.raises(grpc.RpcError) as info:
            list(stub.Say(pb.SayRequest(session_id=session, text="")))
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        call = stub.Say(pb.SayRequest(session_id=session, text="Tell me about the bell."))
        next(iter(call))
        call.cancel()
        events = list(stub.Say(pb.SayRequest(session_id=session, text="Good evening!")))
        assert events[-1].line_done.text


def test_sigterm_drains_an_inflight_stream(default_model_dir: Path, tmp_path: Path) -> None:
    """SIGTERM mid-reply: the reply still completes, then the process exits 0."""
    port = _free_port()
    process = _start(default_model_dir, port, state_db=tmp_path / "state.sqlite3")
    try:
        _wait_serving(port, process)
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = pb_grpc.DialogueServiceStub(channel)
            session = stub.OpenSession(pb.OpenSessionRequest(npc_id="maren")).session_id
            call = stub.Say(pb.SayRequest(session_id=session, text="Tell me about the bell.",
                                          options=pb.GenerationOptions(max_new_tokens=48)))
            stream = iter(call)
            first = next(stream)
            process.send_signal(signal.SIGTERM)
            rest = list(stream)
        assert first.HasField("token") or first.HasField("line_done")
        assert [*([first] if first.HasField("line_done") else []), *rest][-1].HasField(
            "line_done")
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()


def test_missing_model_folder_names_it_and_the_fix(tmp_path: Path) -> None:
    """serve --model with no model there: one clear line, exit 1, no traceback."""
    result = subprocess.run([*CLI, "serve", "--model", str(tmp_path / "gone"), "--port", "0"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1
    assert str(tmp_path / "gone") in result.stderr
    assert "npc-runtime model build" in result.stderr
    assert "Traceback" not in result.stderr


def test_world_folder_edits_are_hot_reloaded(default_model_dir: Path, tmp_path: Path) -> None:
    """Editing the served world folder swaps the world; the open session keeps talking."""
    world = tmp_path / "harbor"
    shutil.copytree(EXAMPLE_WORLD, world)
    port = _free_port()
    process = _start(default_model_dir, port, "--world", str(world),
                     state_db=tmp_path / "state.sqlite3")
    try:
        _wait_serving(port, process)
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            worlds = world_pb2_grpc.WorldServiceStub(channel)
            dialogue = pb_grpc.DialogueServiceStub(channel)
            session = dialogue.OpenSession(pb.OpenSessionRequest(npc_id="maren")).session_id
            text = (world / "world.yaml").read_text()
            (world / "world.yaml").write_text(text.replace("name: Saltmere", "name: Brinehold"))
            deadline = time.monotonic() + 20
            while worlds.GetWorldInfo(world_pb2.GetWorldInfoRequest()).world.name != "Brinehold":
                assert time.monotonic() < deadline, "world was not reloaded"
                time.sleep(0.2)
            reply = list(dialogue.Say(pb.SayRequest(session_id=session, text="Where am I?")))
            assert reply[-1].HasField("line_done")
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0


def test_quest_state_and_sessions_survive_a_restart(default_model_dir: Path,
                                                   tmp_path: Path) -> None:
    """State set over gRPC and a session's history are there after the process restarts."""
    db, port = tmp_path / "state.sqlite3", _free_port()
    state = quest_pb2.QuestState(stages={"noises_below": "trusted"})
    process = _start(default_model_dir, port, state_db=db)
    try:
        _wait_serving(port, process)
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            quests = quest_pb2_grpc.QuestServiceStub(channel)
            dialogue = pb_grpc.DialogueServiceStub(channel)
            quests.SetQuestState(quest_pb2.SetQuestStateRequest(player_id="save-1", state=state))
            session = dialogue.OpenSession(pb.OpenSessionRequest(
                npc_id="maren", player_id="save-1")).session_id
            first = list(dialogue.Say(pb.SayRequest(session_id=session,
                                                    text="Nice weather today.")))
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    process = _start(default_model_dir, port, state_db=db)
    try:
        _wait_serving(port, process)
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            quests = quest_pb2_grpc.QuestServiceStub(channel)
            dialogue = pb_grpc.DialogueServiceStub(channel)
            got = quests.GetQuestState(quest_pb2.GetQuestStateRequest(player_id="save-1"))
            assert got.state == state
            again = list(dialogue.Say(pb.SayRequest(session_id=session,
                                                    text="The sea is calm tonight.")))
            # The resumed session's prompt holds the first exchange as well.
            assert (again[-1].line_done.timings.prompt_tokens
                    > first[-1].line_done.timings.prompt_tokens)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
