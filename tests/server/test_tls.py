"""
TLS on both ports (plaintext refused), the gateway's private hop, unusable certificate
files, and the client and CLI against a server with TLS and tokens.
"""

from __future__ import annotations

import http.client
import ssl
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from npc_runtime.cli import main
from npc_runtime.config import EXAMPLE_WORLD, Settings
from npc_runtime.errors import ConfigError
from npc_runtime.model.loader import LoadedModel
from npc_runtime.server._proto.npc.v1 import dialogue_pb2 as pb
from npc_runtime.server._proto.npc.v1 import world_pb2, world_pb2_grpc
from npc_runtime.server.client import ClientError, DialogueClient
from npc_runtime.server.tls import load_tls
from tests.server.conftest import LiveServer, running_server
from tests.server.test_auth import CLIENT_A, bearer, write_tokens
from tests.server.test_grpc_web import HEADERS, frame

OPEN = "/npc.v1.DialogueService/OpenSession"


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for localhost and 127.0.0.1, and its key (openssl, ~10 ms)."""
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key),
                    "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(certificate, key) of the TLS server."""
    return self_signed(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def tls_server(tiny_model: LoadedModel, pki: tuple[Path, Path],
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The example world over TLS on both ports, behind tokens."""
    tokens = write_tokens(tmp_path_factory.mktemp("tls-auth") / "tokens")
    settings = Settings(port=0, max_new_tokens=8, watch=False, web_port=0,
                        auth_tokens_file=tokens, tls_cert=pki[0], tls_key=pki[1])
    with running_server(settings, tiny_model, EXAMPLE_WORLD) as server:
        yield server


def test_secure_channel_trusting_the_cert_works(tls_server: LiveServer,
                                                pki: tuple[Path, Path]) -> None:
    """A TLS channel that trusts the server's certificate gets answers."""
    credentials = grpc.ssl_channel_credentials(root_certificates=pki[0].read_bytes())
    with grpc.secure_channel(f"127.0.0.1:{tls_server.port}", credentials) as channel:
        info = world_pb2_grpc.WorldServiceStub(channel).GetWorldInfo(
            world_pb2.GetWorldInfoRequest(), metadata=bearer(CLIENT_A), timeout=10)
    assert "maren" in info.world.npc_ids


def test_plaintext_native_call_is_refused(tls_server: LiveServer) -> None:
    """The native port takes no plaintext call."""
    with grpc.insecure_channel(f"127.0.0.1:{tls_server.port}") as channel, \
            pytest.raises(grpc.RpcError) as caught:
        world_pb2_grpc.WorldServiceStub(channel).GetWorldInfo(
            world_pb2.GetWorldInfoRequest(), metadata=bearer(CLIENT_A), timeout=5)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


def _web_open(connection: http.client.HTTPConnection) -> str:
    body = frame(pb.OpenSessionRequest(npc_id="maren").SerializeToString())
    connection.request("POST", OPEN, body=body,
                       headers={**HEADERS, "Authorization": f"Bearer {CLIENT_A}"})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response.getheader("grpc-status") or "trailer"


def test_grpc_web_over_https_works(tls_server: LiveServer, pki: tuple[Path, Path]) -> None:
    """gRPC-Web answers over HTTPS (through the gateway's unix-socket hop)."""
    context = ssl.create_default_context(cafile=str(pki[0]))
    connection = http.client.HTTPSConnection("127.0.0.1", tls_server.web_port or 0,
                                             timeout=10, context=context)
    assert _web_open(connection) == "trailer"  # a message came: the status is in trailers


def test_plaintext_grpc_web_is_refused(tls_server: LiveServer) -> None:
    """The gRPC-Web port takes no plain HTTP."""
    connection = http.client.HTTPConnection("127.0.0.1", tls_server.web_port or 0, timeout=10)
    with pytest.raises((OSError, http.client.HTTPException)):
        _web_open(connection)


def test_gateway_hop_is_a_private_unix_socket(tls_server: LiveServer) -> None:
    """The gateway dials a unix socket in a folder only this user may enter."""
    folder = tls_server.socket_dir
    assert folder is not None
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_ISSOCK((folder / "native.sock").stat().st_mode)


def test_socket_folder_is_removed_on_stop(tiny_model: LoadedModel) -> None:
    """Stopping the server removes the socket's folder."""
    settings = Settings(port=0, watch=False, web_port=0)
    with running_server(settings, tiny_model, EXAMPLE_WORLD) as server:
        folder = server.socket_dir
        assert folder is not None
        assert folder.is_dir()
    assert not folder.exists()


# --- unusable files ------------------------------------------------------------------

def test_unusable_tls_files_are_config_errors(tmp_path: Path, pki: tuple[Path, Path]) -> None:
    """Missing, non-PEM or mismatched files are a ConfigError naming what is wrong."""
    other_cert, other_key = self_signed(tmp_path / "other")
    not_pem = tmp_path / "junk.pem"
    not_pem.write_text("hello\n")
    cert, key = pki
    cases = [((tmp_path / "missing.pem", key), "cannot read --tls-cert"),
             ((not_pem, key), "not a PEM certificate"),
             ((cert, not_pem), "not a PEM private key"),
             ((cert, other_key), "cannot be used together"),
             ((key, cert), "not a PEM certificate")]
    for (c, k), says in cases:
        with pytest.raises(ConfigError, match=says):
            load_tls(c, k)
    assert load_tls(other_cert, other_key) is not None


def test_server_with_mismatched_key_does_not_start(tiny_model: LoadedModel, tmp_path: Path,
                                                   pki: tuple[Path, Path]) -> None:
    """The server refuses to start with a key that is not its certificate's."""
    _, other_key = self_signed(tmp_path / "other")
    settings = Settings(port=0, watch=False, tls_cert=pki[0], tls_key=other_key)
    with pytest.raises(ConfigError, match="cannot be used together"), \
            running_server(settings, tiny_model, EXAMPLE_WORLD):
        pass


# --- the client and the CLI ----------------------------------------------------------

def test_client_with_token_and_ca_file_talks(tls_server: LiveServer,
                                             pki: tuple[Path, Path]) -> None:
    """DialogueClient over TLS with a token opens a session and hears a line."""
    with DialogueClient("127.0.0.1", tls_server.port, token=CLIENT_A,
                        ca_file=pki[0]) as client:
        session, name = client.open_session("maren")
        reply = client.say(session, "Nice weather today.")
        client.close_session(session)
    assert name
    assert reply.tokens > 0


@pytest.mark.parametrize(("kwargs", "says"), [
    ({"ca_file": "CERT"}, "the server needs a token: pass --token"),
    ({"ca_file": "CERT", "token": "not-a-known-token-0123"},
     "the server does not know this token: check --token"),
    ({"token": CLIENT_A}, "cannot reach the server"),
])
def test_client_errors_say_what_to_do(tls_server: LiveServer, pki: tuple[Path, Path],
                                      kwargs: dict[str, object], says: str) -> None:
    """No token, an unknown token, or plaintext to a TLS server: one line saying what to do."""
    if kwargs.get("ca_file") == "CERT":
        kwargs = {**kwargs, "ca_file": pki[0]}
    with DialogueClient("127.0.0.1", tls_server.port, **kwargs) as client,  \
            pytest.raises(ClientError) as caught:  # type: ignore[arg-type]
        client.open_session("maren")
    assert says in str(caught.value)
    assert "\n" not in str(caught.value)


def test_cli_say_without_token_is_one_line(tls_server: LiveServer, pki: tuple[Path, Path],
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """``say`` without --token exits 1 with one line telling to pass --token."""
    code = main(["say", "--npc", "maren", "--port", str(tls_server.port),
                 "--ca-file", str(pki[0]), "Hello."])
    assert code == 1
    assert capsys.readouterr().err == "error: the server needs a token: pass --token\n"


def test_cli_say_with_token_file(tls_server: LiveServer, pki: tuple[Path, Path],
                                 tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``say --token-file --ca-file`` talks to a server with tokens and TLS."""
    token_file = tmp_path / "token"
    token_file.write_text(CLIENT_A + "\n")
    code = main(["say", "--npc", "maren", "--port", str(tls_server.port), "--json",
                 "--token-file", str(token_file), "--ca-file", str(pki[0]), "Hello."])
    assert code == 0
    assert '"npc": "maren"' in capsys.readouterr().out
