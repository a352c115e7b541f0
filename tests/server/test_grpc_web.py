"""
gRPC-Web over real HTTP/1.1: the live server's services, then the protocol's edge cases
against a small grpc.aio server of raw-bytes handlers behind the same gateway.
"""

from __future__ import annotations

import asyncio
import http.client
import struct
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import grpc
import pytest

from npc_runtime.server._proto.npc.v1 import dialogue_pb2 as pb
from npc_runtime.server._proto.npc.v1 import quest_pb2
from npc_runtime.server.grpc_web import CONTENT_TYPE, GrpcWebGateway, Method
from tests.server.conftest import GAME_ORIGIN, LiveServer

HEADERS = {"Content-Type": CONTENT_TYPE, "X-Grpc-Web": "1"}


@dataclass
class WebReply:
    """An HTTP response split into gRPC-Web frames."""

    http_status: int
    headers: dict[str, str]
    messages: list[bytes] = field(default_factory=list)
    trailers: dict[str, str] = field(default_factory=dict)
    trailer_frames: int = 0

    @property
    def grpc_status(self) -> int:
        """From the trailer frame, or the headers for a trailers-only reply."""
        return int(self.trailers.get("grpc-status", self.headers.get("grpc-status", "-1")))

    @property
    def grpc_message(self) -> str:
        return self.trailers.get("grpc-message", self.headers.get("grpc-message", ""))


def frame(message: bytes, flag: int = 0) -> bytes:
    return struct.pack(">BI", flag, len(message)) + message


def post(port: int, path: str, body: bytes, headers: dict[str, str] | None = None) -> WebReply:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("POST", path, body=body, headers={**HEADERS, **(headers or {})})
    response = conn.getresponse()
    reply = WebReply(response.status, {k.lower(): v for k, v in response.getheaders()})
    data = response.read()
    conn.close()
    while data:
        flag, length = struct.unpack(">BI", data[:5])
        payload, data = data[5:5 + length], data[5 + length:]
        assert len(payload) == length, "truncated frame"
        if flag & 0x80:
            reply.trailer_frames += 1
            lines = payload.decode("ascii").split("\r\n")
            assert lines[-1] == "", "every trailer line ends with CRLF"
            reply.trailers.update(line.split(": ", 1) for line in lines[:-1])  # type: ignore[misc]
        else:
            assert not reply.trailer_frames, "no message after the trailers"
            reply.messages.append(payload)
    return reply


# --- the live server's services ------------------------------------------------------

def _open(server: LiveServer) -> str:
    reply = post(server.web_port or 0, "/npc.v1.DialogueService/OpenSession",
                 frame(pb.OpenSessionRequest(npc_id="maren").SerializeToString()))
    assert reply.grpc_status == 0
    assert reply.trailer_frames == 1
    return pb.OpenSessionResponse.FromString(reply.messages[0]).session_id


def test_unary_call_answers_one_message_then_well_formed_trailers(live_server: LiveServer
                                                                   ) -> None:
    reply = post(live_server.web_port or 0, "/npc.v1.DialogueService/OpenSession",
                 frame(pb.OpenSessionRequest(npc_id="maren").SerializeToString()))
    assert reply.http_status == 200
    assert reply.headers["content-type"] == CONTENT_TYPE
    assert len(reply.messages) == 1
    assert reply.trailers == {"grpc-status": "0"}
    assert pb.OpenSessionResponse.FromString(reply.messages[0]).npc_name == "Maren Ashveil"


def test_say_streams_tokens_then_line_done(live_server: LiveServer) -> None:
    session = _open(live_server)
    reply = post(live_server.web_port or 0, "/npc.v1.DialogueService/Say",
                 frame(pb.SayRequest(session_id=session, text="Hello there.").SerializeToString()))
    events = [pb.SayResponse.FromString(m) for m in reply.messages]
    assert reply.grpc_status == 0
    native = list(live_server.stub.Say(pb.SayRequest(session_id=_open_native(live_server),
                                                     text="Hello there.")))
    kinds = [e.WhichOneof("event") for e in events]
    assert kinds == [e.WhichOneof("event") for e in native]
    assert kinds[-1] == "line_done"
    assert events[-1].line_done.text == native[-1].line_done.text, "same core, same greedy line"


def _open_native(server: LiveServer) -> str:
    return str(server.stub.OpenSession(pb.OpenSessionRequest(npc_id="maren")).session_id)


def test_an_error_before_any_message_is_trailers_only(live_server: LiveServer) -> None:
    reply = post(live_server.web_port or 0, "/npc.v1.DialogueService/Say",
                 frame(pb.SayRequest(session_id="nope", text="Hi").SerializeToString()))
    assert reply.http_status == 200
    assert reply.messages == []
    assert reply.trailer_frames == 0
    assert reply.headers["grpc-status"] == str(grpc.StatusCode.NOT_FOUND.value[0])
    assert "nope" in reply.headers["grpc-message"]


def test_validation_errors_keep_their_status_and_message(live_server: LiveServer) -> None:
    session = _open(live_server)
    reply = post(live_server.web_port or 0, "/npc.v1.DialogueService/Say",
                 frame(pb.SayRequest(session_id=session, text="").SerializeToString()))
    assert reply.grpc_status == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert reply.grpc_message  # the native server's own words
    unknown = post(live_server.web_port or 0, "/npc.v1.QuestService/SetQuestState",
                   frame(quest_pb2.SetQuestStateRequest(
                       player_id="p1", state=quest_pb2.QuestState(stages={"nope": "x"}))
                         .SerializeToString()))
    assert unknown.grpc_status == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert "nope" in unquote(unknown.grpc_message)


def test_bad_requests_get_a_status_not_a_crash(live_server: LiveServer) -> None:
    port = live_server.web_port or 0
    missing = post(port, "/npc.v1.DialogueService/Nope", frame(b""))
    assert missing.grpc_status == grpc.StatusCode.UNIMPLEMENTED.value[0]
    short = post(port, "/npc.v1.DialogueService/OpenSession", b"\x00\x00")
    assert short.grpc_status == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    text = post(port, "/npc.v1.DialogueService/OpenSession", frame(b""),
                {"Content-Type": "application/grpc-web-text"})
    assert text.grpc_status == grpc.StatusCode.UNIMPLEMENTED.value[0]
    assert "binary" in text.grpc_message
    garbage = post(port, "/npc.v1.DialogueService/Say", frame(b"\xff\xff\xff"))
    assert garbage.grpc_status == grpc.StatusCode.INVALID_ARGUMENT.value[0]


def test_cors_lets_the_configured_origin_in_and_no_other(live_server: LiveServer) -> None:
    port = live_server.web_port or 0
    for origin, allowed in ((GAME_ORIGIN, True), ("http://evil.test", False)):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("OPTIONS", "/npc.v1.DialogueService/Say", headers={
            "Origin": origin, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-grpc-web"})
        response = conn.getresponse()
        response.read()
        conn.close()
        assert (response.status == 204) is allowed
        assert (response.getheader("Access-Control-Allow-Origin") == origin) is allowed
        if allowed:
            allowed_headers = response.getheader("Access-Control-Allow-Headers") or ""
            assert "x-grpc-web" in allowed_headers
            # A browser build behind the load balancer sends its affinity key.
            assert "x-npc-session" in allowed_headers
    reply = post(port, "/npc.v1.DialogueService/Say",
                 frame(pb.SayRequest(session_id="nope", text="Hi").SerializeToString()),
                 {"Origin": GAME_ORIGIN})
    assert reply.headers["access-control-allow-origin"] == GAME_ORIGIN
    assert "grpc-status" in reply.headers["access-control-expose-headers"]
    # A refused call's retry hint must be readable by a browser build too.
    assert "retry-after-ms" in reply.headers["access-control-expose-headers"]


# --- protocol edge cases -------------------------------------------------------------

class _Edge:
    """Raw-bytes handlers for what the real services never do on purpose."""

    def __init__(self) -> None:
        self.cancelled = threading.Event()

    async def empty(self, request: bytes, context: Any) -> AsyncIterator[bytes]:
        return
        yield b""  # makes this an async generator

    async def fail_after_first(self, request: bytes, context: Any) -> AsyncIterator[bytes]:
        yield b"first"
        await context.abort(grpc.StatusCode.INTERNAL, "boom after first\r\n100% sure ✓")

    async def echo(self, request: bytes, context: Any) -> bytes:
        await context.send_initial_metadata((("x-initial", "yes"),))
        context.set_trailing_metadata((("x-trailer", "t1"), ("x-blob-bin", b"\x00\x01")))
        meta = dict(context.invocation_metadata())
        return request + b"|" + str(meta.get("x-request-id", "")).encode()

    async def slow(self, request: bytes, context: Any) -> AsyncIterator[bytes]:
        try:
            for i in range(200):
                yield str(i).encode()
                await asyncio.sleep(0.05)
        except asyncio.CancelledError:
            self.cancelled.set()
            raise


@pytest.fixture(scope="module")
def edge() -> Iterator[tuple[int, _Edge]]:
    handlers = _Edge()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def run() -> None:
        server = grpc.aio.server()
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("t.Edge", {
            "Empty": grpc.unary_stream_rpc_method_handler(handlers.empty),
            "FailAfterFirst": grpc.unary_stream_rpc_method_handler(handlers.fail_after_first),
            "Echo": grpc.unary_unary_rpc_method_handler(handlers.echo),
            "Slow": grpc.unary_stream_rpc_method_handler(handlers.slow),
        }),))
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        methods = {f"/t.Edge/{name}": Method(f"/t.Edge/{name}", name != "Echo")
                   for name in ("Empty", "FailAfterFirst", "Echo", "Slow")}
        gateway = GrpcWebGateway(f"127.0.0.1:{port}", methods)
        box["port"] = await gateway.start("127.0.0.1", 0)
        box["stop"] = asyncio.Event()
        ready.set()
        await box["stop"].wait()
        await gateway.stop()
        await server.stop(0)

    thread = threading.Thread(target=loop.run_until_complete, args=(run(),), daemon=True)
    thread.start()
    assert ready.wait(10)
    yield box["port"], handlers
    loop.call_soon_threadsafe(box["stop"].set)
    thread.join(10)


def test_an_empty_stream_is_ok_with_no_messages(edge: tuple[int, _Edge]) -> None:
    reply = post(edge[0], "/t.Edge/Empty", frame(b""))
    assert reply.http_status == 200
    assert reply.messages == []
    assert reply.grpc_status == 0


def test_an_error_after_the_first_message_arrives_in_the_trailers(edge: tuple[int, _Edge]
                                                                   ) -> None:
    reply = post(edge[0], "/t.Edge/FailAfterFirst", frame(b""))
    assert reply.messages == [b"first"]
    assert reply.trailer_frames == 1
    assert reply.grpc_status == grpc.StatusCode.INTERNAL.value[0]
    assert reply.grpc_message == "boom after first%0D%0A100%25 sure %E2%9C%93"


def test_unary_metadata_travels_both_ways(edge: tuple[int, _Edge]) -> None:
    reply = post(edge[0], "/t.Edge/Echo", frame(b"ping"), {"X-Request-Id": "r-42"})
    assert reply.messages == [b"ping|r-42"]
    assert reply.trailers["grpc-status"] == "0"
    assert reply.trailers["x-trailer"] == "t1"
    assert reply.trailers["x-blob-bin"] == "AAE="


def test_messages_stream_as_they_are_made(edge: tuple[int, _Edge]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", edge[0], timeout=30)
    started = time.monotonic()
    conn.request("POST", "/t.Edge/Slow", body=frame(b""), headers=HEADERS)
    response = conn.getresponse()
    first = response.read1(64)
    assert first[:5] == struct.pack(">BI", 0, 1)
    assert first[5:6] == b"0"
    assert time.monotonic() - started < 5, "the first message came before the stream ended"
    conn.close()


def test_a_client_hang_up_cancels_the_call(edge: tuple[int, _Edge]) -> None:
    port, handlers = edge
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST", "/t.Edge/Slow", body=frame(b""), headers=HEADERS)
    conn.getresponse().read1(16)
    conn.close()  # mid-stream, 199 messages early
    assert handlers.cancelled.wait(5), "the native call was not cancelled"
    assert post(port, "/t.Edge/Empty", frame(b"")).grpc_status == 0, "still serving"
