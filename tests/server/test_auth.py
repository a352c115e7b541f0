"""
Tokens and roles: who may call what, over native gRPC and gRPC-Web, and who owns a
session; the tokens file; refusing to expose an open server.
"""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from structlog.testing import capture_logs

from npc_runtime.cli import main
from npc_runtime.config import EXAMPLE_WORLD, Settings
from npc_runtime.errors import ConfigError
from npc_runtime.model.loader import LoadedModel
from npc_runtime.server._proto.npc.v1 import dialogue_pb2 as pb
from npc_runtime.server._proto.npc.v1 import quest_pb2, world_pb2
from npc_runtime.server.auth import load_tokens, required_role
from tests.server.conftest import GAME_ORIGIN, LiveServer, running_server
from tests.server.test_grpc_web import frame, post

CLIENT_A = "client-token-aaaaaaaaaaaaaaaa"
CLIENT_B = "client-token-bbbbbbbbbbbbbbbb"
ADMIN = "admin-token-cccccccccccccccccc"


def bearer(token: str) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {token}"),)


def write_tokens(path: Path) -> Path:
    path.write_text(f"# who may call\n\nclient {CLIENT_A}\nclient {CLIENT_B}\n"
                    f"  admin   {ADMIN}  \n")
    return path


@pytest.fixture(scope="module")
def auth_server(tiny_model: LoadedModel, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[LiveServer]:
    """The example world behind a tokens file, with gRPC-Web."""
    tokens = write_tokens(tmp_path_factory.mktemp("auth") / "tokens")
    settings = Settings(port=0, max_new_tokens=8, watch=False, web_port=0,
                        web_cors_origins=(GAME_ORIGIN,), auth_tokens_file=tokens)
    with running_server(settings, tiny_model, EXAMPLE_WORLD) as server:
        yield server


def _code(call: object) -> grpc.StatusCode:
    assert isinstance(call, grpc.RpcError)
    return call.code()  # type: ignore[no-any-return]


# --- native gRPC ---------------------------------------------------------------------

def test_call_without_token_is_unauthenticated(auth_server: LiveServer) -> None:
    """No token: UNAUTHENTICATED, and the message says what to send."""
    with pytest.raises(grpc.RpcError) as caught:
        auth_server.stub.OpenSession(pb.OpenSessionRequest(npc_id="maren"), timeout=10)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "authorization: Bearer" in caught.value.details()


def test_unknown_token_is_unauthenticated(auth_server: LiveServer) -> None:
    """A token not in the file is refused like none, and never echoed back."""
    wrong = "not-a-known-token-0123456789"
    with pytest.raises(grpc.RpcError) as caught:
        list(auth_server.stub.Say(pb.SayRequest(session_id="x", text="hi"),
                                  metadata=bearer(wrong), timeout=10))
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert wrong not in caught.value.details()


def test_client_token_talks(auth_server: LiveServer) -> None:
    """A client token opens a session, hears a line, and closes it."""
    md = bearer(CLIENT_A)
    session = auth_server.stub.OpenSession(pb.OpenSessionRequest(npc_id="maren"),
                                           metadata=md, timeout=10).session_id
    events = list(auth_server.stub.Say(pb.SayRequest(session_id=session, text="Hello."),
                                       metadata=md, timeout=30))
    assert events[-1].HasField("line_done")
    auth_server.stub.CloseSession(pb.CloseSessionRequest(session_id=session), metadata=md,
                                  timeout=10)


def test_client_token_reads_world_and_quests(auth_server: LiveServer) -> None:
    """Reading the world and a player's quest state is a client's right."""
    md = bearer(CLIENT_A)
    info = auth_server.worlds.GetWorldInfo(world_pb2.GetWorldInfoRequest(), metadata=md,
                                           timeout=10)
    assert "maren" in info.world.npc_ids
    auth_server.quests.GetQuestState(quest_pb2.GetQuestStateRequest(player_id="p1"),
                                     metadata=md, timeout=10)


def _load_world(server: LiveServer, token: str) -> world_pb2.LoadWorldResponse:
    bad = world_pb2.WorldSource(files=world_pb2.WorldFiles(files={"w.yaml": "characters: 3"}))
    return server.worlds.LoadWorld(world_pb2.LoadWorldRequest(source=bad),  # type: ignore[no-any-return]
                                   metadata=bearer(token), timeout=10)


def _set_quests(server: LiveServer, token: str) -> quest_pb2.SetQuestStateResponse:
    return server.quests.SetQuestState(  # type: ignore[no-any-return]
        quest_pb2.SetQuestStateRequest(player_id="p-auth", state=quest_pb2.QuestState()),
        metadata=bearer(token), timeout=10)


@pytest.mark.parametrize("call", [_load_world, _set_quests])
def test_client_token_may_not_change_the_world(auth_server: LiveServer, call: object) -> None:
    """LoadWorld and SetQuestState need the admin role, and the refusal names it."""
    with pytest.raises(grpc.RpcError) as caught:
        call(auth_server, CLIENT_A)  # type: ignore[operator]
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "admin role" in caught.value.details()


def test_admin_token_changes_the_world(auth_server: LiveServer) -> None:
    """An admin token may load worlds (an invalid one here: nothing changes) and set state."""
    assert not _load_world(auth_server, ADMIN).loaded
    _set_quests(auth_server, ADMIN)


def test_health_answers_without_token(auth_server: LiveServer) -> None:
    """Health stays open: load balancers carry no tokens."""
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    stub = health_pb2_grpc.HealthStub(auth_server.channel)
    response = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=10)
    assert response.status == health_pb2.HealthCheckResponse.SERVING


def test_reflection_answers_without_token(auth_server: LiveServer) -> None:
    """Reflection stays open: grpcurl lists the services without a token."""
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    stub = reflection_pb2_grpc.ServerReflectionStub(auth_server.channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    response = next(iter(stub.ServerReflectionInfo(iter([request]), timeout=10)))
    names = {s.name for s in response.list_services_response.service}
    assert "npc.v1.DialogueService" in names


def test_session_belongs_to_its_token(auth_server: LiveServer) -> None:
    """A session opened with token A reads as NOT_FOUND with token B, and works for A."""
    stub = auth_server.stub
    session = stub.OpenSession(pb.OpenSessionRequest(npc_id="maren"),
                               metadata=bearer(CLIENT_A), timeout=10).session_id
    with pytest.raises(grpc.RpcError) as caught:
        list(stub.Say(pb.SayRequest(session_id=session, text="Hello."),
                      metadata=bearer(CLIENT_B), timeout=30))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as caught:
        stub.CloseSession(pb.CloseSessionRequest(session_id=session),
                          metadata=bearer(ADMIN), timeout=10)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    stub.CloseSession(pb.CloseSessionRequest(session_id=session), metadata=bearer(CLIENT_A),
                      timeout=10)


def test_roles_of_methods() -> None:
    """Talking and reading are client calls; changing the world is admin; probes are open."""
    expected = {"/npc.v1.DialogueService/Say": "client",
                "/npc.v1.TreeService/GenerateTree": "client",
                "/npc.v1.WorldService/ValidateWorld": "client",
                "/npc.v1.QuestService/GetQuestState": "client",
                "/npc.v1.WorldService/LoadWorld": "admin",
                "/npc.v1.QuestService/SetQuestState": "admin",
                "/npc.v1.SomeNewService/Anything": "admin",
                "/grpc.health.v1.Health/Check": None,
                "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": None}
    assert expected == {m: required_role(m) for m in expected}


# --- gRPC-Web ------------------------------------------------------------------------

OPEN = "/npc.v1.DialogueService/OpenSession"


def _web_open(server: LiveServer, token: str | None) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    reply = post(server.web_port or 0, OPEN,
                 frame(pb.OpenSessionRequest(npc_id="maren").SerializeToString()), headers)
    session = pb.OpenSessionResponse.FromString(reply.messages[0]).session_id \
        if reply.messages else ""
    return reply.grpc_status, session


def test_grpc_web_needs_a_token(auth_server: LiveServer) -> None:
    """Over gRPC-Web too, no token is UNAUTHENTICATED (16) and a client may not LoadWorld."""
    assert _web_open(auth_server, None)[0] == 16
    body = frame(world_pb2.LoadWorldRequest().SerializeToString())
    reply = post(auth_server.web_port or 0, "/npc.v1.WorldService/LoadWorld", body,
                 {"Authorization": f"Bearer {CLIENT_A}"})
    assert grpc.StatusCode.PERMISSION_DENIED.value[0] == reply.grpc_status


def test_grpc_web_forwards_the_token(auth_server: LiveServer) -> None:
    """The gateway forwards ``authorization``: a session opened over gRPC-Web with token A
    is A's over native gRPC, and nobody else's."""
    status, session = _web_open(auth_server, CLIENT_A)
    assert status == 0
    with pytest.raises(grpc.RpcError) as caught:
        list(auth_server.stub.Say(pb.SayRequest(session_id=session, text="Hi."),
                                  metadata=bearer(CLIENT_B), timeout=30))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    events = list(auth_server.stub.Say(pb.SayRequest(session_id=session, text="Hi."),
                                       metadata=bearer(CLIENT_A), timeout=30))
    assert events[-1].HasField("line_done")


def test_grpc_web_lets_browsers_send_the_token(auth_server: LiveServer) -> None:
    """A CORS preflight allows the ``authorization`` header."""
    conn = http.client.HTTPConnection("127.0.0.1", auth_server.web_port or 0, timeout=10)
    conn.request("OPTIONS", OPEN, headers={
        "Origin": GAME_ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,authorization"})
    response = conn.getresponse()
    response.read()
    conn.close()
    assert response.status == 204
    allowed = response.getheader("Access-Control-Allow-Headers") or ""
    assert "authorization" in [h.strip() for h in allowed.split(",")]


# --- the tokens file and exposure ----------------------------------------------------

def test_tokens_file_with_comments_loads(tmp_path: Path) -> None:
    """Comments, blank lines and extra spaces are fine; roles are kept."""
    tokens = load_tokens(write_tokens(tmp_path / "tokens"))
    assert [e.role for e in tokens.entries] == ["client", "client", "admin"]
    assert ("admin", tokens.role_of(ADMIN)[1]) == tokens.role_of(ADMIN)  # type: ignore[index]
    assert tokens.role_of("nope-nope-nope-nope") is None


@pytest.mark.parametrize(("text", "line", "says"), [
    ("client\n", 1, "ROLE TOKEN"),
    ("# ok\nclient tok-0123456789abcdef extra\n", 2, "ROLE TOKEN"),
    ("\nroot secret-0123456789abcdef\n", 2, "unknown role"),
    ("admin short\n", 1, "at least 16"),
    ("client same-0123456789abcdef\nadmin same-0123456789abcdef\n", 2, "already on line 1"),
])
def test_malformed_tokens_file_names_the_line(tmp_path: Path, text: str, line: int,
                                               says: str) -> None:
    """Each malformed line is a ConfigError at ``file:line`` that never shows a token."""
    path = tmp_path / "tokens"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_tokens(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:{line}: ")
    assert says in message
    assert "0123456789abcdef" not in message


def test_empty_or_missing_tokens_file_is_an_error(tmp_path: Path) -> None:
    """A file with no tokens, or none at all, is refused at start."""
    (tmp_path / "empty").write_text("# nothing yet\n")
    for path in (tmp_path / "empty", tmp_path / "missing"):
        with pytest.raises(ConfigError, match=str(path)):
            load_tokens(path)


def test_malformed_tokens_file_stops_the_server(tiny_model: LoadedModel, tmp_path: Path
                                                ) -> None:
    """The server does not start with a malformed tokens file."""
    path = tmp_path / "tokens"
    path.write_text("client tok-0123456789abcdef\nadmin\n")
    settings = Settings(port=0, watch=False, auth_tokens_file=path)
    with pytest.raises(ConfigError, match=f"{path}:2"), \
            running_server(settings, tiny_model, EXAMPLE_WORLD):
        pass


def test_open_non_loopback_server_is_refused(tiny_model: LoadedModel) -> None:
    """Binding every address without tokens needs --insecure; the error says so."""
    settings = Settings(host="0.0.0.0", port=0, watch=False)
    with pytest.raises(ConfigError, match=r"--auth-tokens.*--insecure"), \
            running_server(settings, tiny_model, EXAMPLE_WORLD):
        pass


def test_insecure_non_loopback_server_starts(tiny_model: LoadedModel) -> None:
    """With --insecure it starts, says anyone can call it, and anyone may."""
    settings = Settings(host="0.0.0.0", port=0, watch=False, insecure=True)
    with capture_logs() as logs, running_server(settings, tiny_model, EXAMPLE_WORLD) as server:
        info = server.worlds.GetWorldInfo(world_pb2.GetWorldInfoRequest(), timeout=10)
        assert "maren" in info.world.npc_ids
    warnings = [e for e in logs if e["event"] == "serving_without_tokens"]
    assert [e["log_level"] for e in warnings] == ["warning"]
    assert "anyone" in warnings[0]["message"]


@pytest.mark.parametrize(("flags", "says"), [
    (["--auth-tokens", "TOKENS"], "TOKENS:2: expected 'ROLE TOKEN'"),
    (["--host", "0.0.0.0"], "refusing to serve 0.0.0.0 without tokens"),
])
def test_serve_refuses_before_loading_anything(tmp_path: Path, flags: list[str], says: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """``serve`` with a malformed tokens file, or open on every address, exits 1 at once
    with one line (no model is loaded: --model names nothing)."""
    tokens = tmp_path / "tokens"
    tokens.write_text(f"client {CLIENT_A}\nadmin\n")
    argv = ["serve", "--model", str(tmp_path / "no-model"), "--port", "0",
            *[str(tokens) if f == "TOKENS" else f for f in flags]]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: " + says.replace("TOKENS", str(tokens)))
    assert err.count("\n") == 1
    assert CLIENT_A not in err
