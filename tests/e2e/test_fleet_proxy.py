"""
The fleet as a game reaches it: PostgreSQL, two ``npc-runtime serve`` replicas (tiny
model) and a real nginx on loopback running the SHIPPED ``deploy/nginx/npc-runtime.conf``.
Only addresses change: the compose names and ports of its upstream servers become the
replicas' loopback ports, and its two ``listen`` ports become free loopback ports (a CI
machine may have anything on 8080); every other line is the file we ship.

Which replica served a call is read from the replicas' JSON logs: each line of a call
carries the client's ``x-npc-session`` as ``affinity`` (server/interceptors.py), and the
replicas log at debug level, so unary calls leave their ``rpc_done`` line too.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from benchmarks.fleet_parts import Nginx
from npc_runtime.server._proto.npc.v1 import dialogue_pb2 as pb
from npc_runtime.server._proto.npc.v1 import dialogue_pb2_grpc as pb_grpc
from npc_runtime.server.client import DialogueClient
from tests.deploy import files
from tests.e2e.test_serve import CLI, _free_port, _wait_serving
from tests.postgres import PostgresServer
from tests.server.test_grpc_web import frame, post

pytestmark = pytest.mark.e2e

TOOL_TIMEOUT_S = 5.0  # how long a turn waits for the game's answer to its tool call
GRACE_S = 10.0  # a SIGTERMed replica's drain: longer than that wait


class Replica:
    """One server process (gRPC and gRPC-Web ports); its JSON log goes to a file."""

    def __init__(self, name: str, model: Path, encoder: Path, url: str, logs: Path) -> None:
        self.name, self.port, self.web_port = name, _free_port(), _free_port()
        self.log = logs / f"{name}.log"
        env = {**os.environ, "NPC_STATE_URL": url, "NPC_SHUTDOWN_GRACE_S": str(GRACE_S),
               "NPC_TOOL_TIMEOUT_S": str(TOOL_TIMEOUT_S), "PYTHONUNBUFFERED": "1"}
        with self.log.open("w") as out:
            self.process = subprocess.Popen(
                [*CLI, "serve", "--model", str(model), "--encoder", str(encoder),
                 "--port", str(self.port), "--web-port", str(self.web_port),
                 "--threads", "1", "--max-new-tokens", "8", "--no-watch",
                 "--log-format", "json", "--log-level", "debug"],
                stdout=out, stderr=subprocess.STDOUT, text=True, env=env)

    def calls(self, key: str) -> list[dict[str, object]]:
        """This replica's log lines of calls that carried ``key``."""
        found = []
        for line in self.log.read_text().splitlines():
            with contextlib.suppress(ValueError):
                event = json.loads(line)
                if isinstance(event, dict) and event.get("affinity") == key:
                    found.append(event)
        return found

    def rpcs(self, key: str) -> set[str]:
        """The RPCs this replica served for ``key``."""
        return {str(e["rpc"]) for e in self.calls(key)}

    def stop(self) -> None:
        """SIGTERM (SIGKILL if it lingers)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(GRACE_S + 10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


class Fleet:
    """Two replicas, nginx in front, one database."""

    def __init__(self, a: Replica, b: Replica, proxy: Nginx, database: str) -> None:
        self.a, self.b, self.proxy, self.database = a, b, proxy, database
        self.channel = grpc.insecure_channel(f"127.0.0.1:{proxy.port}")
        self.stub = pb_grpc.DialogueServiceStub(self.channel)

    @property
    def replicas(self) -> tuple[Replica, Replica]:
        """Both replicas, a first."""
        return self.a, self.b

    def holder(self, key: str, rpcs: set[str], timeout: float = 10) -> Replica:
        """The one replica that served ``rpcs`` for ``key`` (its log lines may trail the
        answer a little); fails if both served some of them."""
        deadline = time.monotonic() + timeout
        while True:
            seen = {r.name: r.rpcs(key) & rpcs for r in self.replicas}
            serving = [r for r in self.replicas if seen[r.name]]
            assert len(serving) <= 1, f"{key} reached both replicas: {seen}"
            if serving and seen[serving[0].name] == rpcs:
                return serving[0]
            assert time.monotonic() < deadline, f"{key}: {seen}, expected {rpcs} on one"
            time.sleep(0.05)

    def other(self, replica: Replica) -> Replica:
        """The replica that is not ``replica``."""
        return self.b if replica is self.a else self.a

    def open(self, key: str) -> str:
        """OpenSession through nginx with ``key``; the session id."""
        return str(self.stub.OpenSession(pb.OpenSessionRequest(npc_id="maren"), timeout=30,
                                         metadata=((("x-npc-session", key),))).session_id)

    def say(self, key: str, session: str, text: str, tool_choice: str = "none"
            ) -> Iterator[pb.SayResponse]:
        """A Say through nginx with ``key`` (streaming: the caller reads it)."""
        return self.stub.Say(  # type: ignore[no-any-return]
            pb.SayRequest(session_id=session, text=text, tool_choice=tool_choice),
            timeout=60, metadata=((("x-npc-session", key),)))

    def spoken(self, postgres: PostgresServer, session: str) -> list[tuple[str, str]]:
        """The session's lines (the player's and the NPC's, not the plan's notes) as the
        database holds them."""
        rows = postgres.sql(self.database, "SELECT history FROM session WHERE id = %s",
                            (session,))
        assert rows, "the session is not stored"
        return [(role, text) for role, text in json.loads(rows[0][0])
                if role in {"user", "assistant"}]


@contextlib.contextmanager
def running_fleet(postgres: PostgresServer, model: Path, encoder: Path, logs: Path
                  ) -> Iterator[Fleet]:
    """Two replicas on a fresh database (the compose file's npc-1 and npc-2) and nginx in
    front, all serving; their logs are printed when a test fails."""
    assert sorted(files.replicas()) == ["npc-1", "npc-2"], "the compose replicas"
    url = postgres.new_database()
    a = Replica("a", model, encoder, url, logs)
    b = Replica("b", model, encoder, url, logs)
    proxy = None
    try:
        proxy = Nginx({"npc-1": (a.port, a.web_port), "npc-2": (b.port, b.web_port)},
                      logs / "nginx", binary=files.tool("nginx", "apt-get install nginx "
                                                        "(.ci/run does)"))
        for replica in (a, b):
            _wait_serving(replica.port, replica.process, timeout=120)
        fleet = Fleet(a, b, proxy, url.rsplit("/", 1)[1])
        yield fleet
        fleet.channel.close()
    finally:
        if proxy is not None:
            proxy.stop()
            print(proxy.said())
        for replica in (a, b):
            replica.stop()
        for replica in (a, b):
            with contextlib.suppress(OSError):
                print(f"---- {replica.name}'s log\n{replica.log.read_text()[-4000:]}")


@pytest.fixture(scope="module")
def fleet(postgres: PostgresServer, tiny_model_dir: Path, default_encoder_dir: Path,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """A fleet the tests that stop no replica share."""
    with running_fleet(postgres, tiny_model_dir, default_encoder_dir,
                       tmp_path_factory.mktemp("fleet")) as shared:
        yield shared


@pytest.fixture
def own_fleet(postgres: PostgresServer, tiny_model_dir: Path, default_encoder_dir: Path,
              tmp_path: Path) -> Iterator[Fleet]:
    """A fleet for one test, which stops one of its replicas."""
    with running_fleet(postgres, tiny_model_dir, default_encoder_dir, tmp_path) as own:
        yield own


def _done(events: Iterator[pb.SayResponse]) -> pb.LineDone:
    """Read a Say to its end; its LineDone."""
    said = list(events)
    assert said[-1].HasField("line_done"), said[-1]
    return said[-1].line_done


def test_a_conversations_calls_stay_on_one_replica_and_keys_spread(fleet: Fleet) -> None:
    """DialogueClient through nginx: each conversation (its key: the player id, sent by the
    client) is opened, spoken in and closed on one replica; 16 players spread over both."""
    players = [f"save-{i}" for i in range(16)]
    with DialogueClient("127.0.0.1", fleet.proxy.port) as client:
        for player in players:
            session, _ = client.open_session("maren", "Ada", player_id=player)
            for line in ("Nice weather today.", "The sea is calm tonight."):
                assert client.say(session, line, tool_choice="none").text
            client.close_session(session)
    rpcs = {"OpenSession", "Say", "CloseSession"}
    holders = [fleet.holder(player, rpcs).name for player in players]
    assert {"a", "b"} == set(holders), holders
    # Each turn logged once, on its holder: no call was sent twice.
    for player, holder in zip(players, holders, strict=True):
        replica = fleet.a if holder == "a" else fleet.b
        assert sum(e["event"] == "turn_done" for e in replica.calls(player)) == 2, player


def test_grpc_web_through_nginx_says_a_line(fleet: Fleet) -> None:
    """gRPC-Web (HTTP/1.1) through nginx's :8080 block: OpenSession and a streamed Say,
    both with the key, both on one replica."""
    key = {"x-npc-session": "web-player-1"}
    opened = post(fleet.proxy.web_port, "/npc.v1.DialogueService/OpenSession",
                  frame(pb.OpenSessionRequest(npc_id="maren").SerializeToString()), key)
    assert (opened.http_status, opened.grpc_status) == (200, 0), opened
    session = pb.OpenSessionResponse.FromString(opened.messages[0]).session_id
    said = post(fleet.proxy.web_port, "/npc.v1.DialogueService/Say",
                frame(pb.SayRequest(session_id=session, text="The sea is calm tonight.",
                                    tool_choice="none").SerializeToString()), key)
    assert said.grpc_status == 0, said
    events = [pb.SayResponse.FromString(m) for m in said.messages]
    assert events[-1].HasField("line_done")
    assert events[-1].line_done.text
    fleet.holder("web-player-1", {"OpenSession", "Say"})


def test_after_a_kill_9_the_next_turn_goes_on_on_the_other_replica(
        own_fleet: Fleet, postgres: PostgresServer) -> None:
    """kill -9 of the replica holding a conversation: nginx cannot connect to it and sends
    the next turn to the other, which goes on from the stored history."""
    fleet, key = own_fleet, "save-kill"
    session = fleet.open(key)
    first = _done(fleet.say(key, session, "Nice weather today."))
    holder = fleet.holder(key, {"OpenSession", "Say"})
    holder.process.send_signal(signal.SIGKILL)
    assert holder.process.wait(30) == -signal.SIGKILL

    second = _done(fleet.say(key, session, "The sea is calm tonight."))
    survivor = fleet.other(holder)
    assert {"Say"} == survivor.rpcs(key)
    assert second.timings.rebuilt_from_store
    assert second.timings.prompt_tokens > first.timings.prompt_tokens
    assert [("user", "Nice weather today."), ("assistant", first.text),
            ("user", "The sea is calm tonight."), ("assistant", second.text)
            ] == fleet.spoken(postgres, session)

    # With no replica left, nginx answers itself: UNAVAILABLE, which clients retry.
    survivor.process.send_signal(signal.SIGKILL)
    survivor.process.wait(30)
    with pytest.raises(grpc.RpcError) as caught:
        fleet.open(key)
    assert (caught.value.code(), caught.value.details()) == (
        grpc.StatusCode.UNAVAILABLE, "no npc-runtime replica reachable")


def test_a_sigterm_drains_the_turn_in_flight_then_the_other_replica_serves(
        own_fleet: Fleet, postgres: PostgresServer) -> None:
    """SIGTERM of the replica holding a conversation while its turn streams through nginx
    (its NPC waits for the game to run a tool): nginx sends the game's answer to the other
    replica (the draining one takes no new connection), the answer reaches the waiting
    turn through the database, and the turn ends with its line (the drain); the next turn
    goes to the other replica and continues from it."""
    fleet, key = own_fleet, "save-drain"
    session = fleet.open(key)
    holder = fleet.holder(key, {"OpenSession"})
    stream = fleet.say(key, session, "A room key, please.", tool_choice="give_item")
    call = next(stream).tool_call  # the turn is under way on the holder
    holder.process.send_signal(signal.SIGTERM)
    survivor = fleet.other(holder)
    _wait_not_serving(holder)
    fleet.stub.SubmitToolResult(pb.SubmitToolResultRequest(
        session_id=session, call_id=call.call_id, result_json='{"given": true}'),
        timeout=10, metadata=((("x-npc-session", key),)))
    done = _done(stream)
    assert [(c.tool, c.status) for c in done.tool_calls] == [
        ("give_item", pb.TOOL_CALL_STATUS_OK)]
    assert holder.process.wait(GRACE_S + 10) == 0
    assert {"SubmitToolResult"} == survivor.rpcs(key)

    after = _done(fleet.say(key, session, "Thank you."))
    assert {"SubmitToolResult", "Say"} == survivor.rpcs(key)
    assert after.timings.rebuilt_from_store
    spoken = fleet.spoken(postgres, session)
    # The drained turn is stored whole (its tool call, then its line) before the next.
    thanks = spoken.index(("user", "Thank you."))
    assert spoken[0] == ("user", "A room key, please.")
    assert ("assistant", done.text) == spoken[thanks - 1]
    assert ("assistant", after.text) == spoken[-1]


def _wait_not_serving(replica: Replica, timeout: float = 10) -> None:
    """Until the replica's gRPC port refuses connections: it has begun to drain, and nginx
    will pass new calls to the other replica."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", replica.port), timeout=1).close()
        except ConnectionRefusedError:
            return
        assert time.monotonic() < deadline, f"{replica.name} still accepts connections"
        time.sleep(0.02)
