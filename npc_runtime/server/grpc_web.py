"""
gRPC-Web for clients without HTTP/2: browsers, WebGL, Godot's ``HTTPClient``, Unity.

An HTTP/1.1 front (aiohttp) that forwards each call, bytes untouched, to the native
server in the same process over a private unix socket (``app.build_server``). Every
call therefore meets the same interceptors, validation and servicers as native gRPC, and
statuses and trailers come back exactly as the native server wrote them. (The
alternatives, evaluated: sonora 0.2.3 serves the servicers a second time but mangles
unary trailers, answers an empty stream with HTTP 500 and drops errors after the first
message; connectrpc wants servicers and generated code of its own on another protobuf
runtime.) The cost is one local hop, about a millisecond a call. Request headers that
are call metadata go along, so the caller's ``authorization: Bearer TOKEN`` is checked by
the native server's interceptor exactly as for a native call.

Wire format (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-WEB.md), binary only:
``POST /<service>/<method>``, ``content-type: application/grpc-web+proto``, body one frame
(flag byte 0, big-endian uint32 length, message). The response streams data frames, then
one trailer frame (flag 0x80) of ``name: value\\r\\n`` lines. A call that fails before its
first message answers "trailers-only": status in the HTTP headers, empty body.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeAlias
from urllib.parse import quote

import grpc
import structlog
from aiohttp import web
from google.protobuf.descriptor import FileDescriptor

log = structlog.get_logger(__name__)

CONTENT_TYPE = "application/grpc-web+proto"
_TRAILER_FLAG = 0x80
_MAX_REQUEST_BYTES = 4 * 1024 * 1024
# Request headers that describe the HTTP exchange, not the call: never forwarded.
_NOT_METADATA = frozenset({
    "accept", "accept-encoding", "accept-language", "connection", "content-length",
    "content-type", "host", "origin", "referer", "te", "user-agent", "x-grpc-web",
    "x-user-agent", "grpc-timeout", "grpc-accept-encoding", "cache-control", "pragma",
})
# What a browser may send and read across origins.
# x-npc-session: the affinity key a load balancer hashes on (README "Deploying"); a browser
# build behind nginx must be allowed to send it.
_ALLOW_HEADERS = ("content-type, x-grpc-web, x-user-agent, grpc-timeout, x-request-id, "
                  "authorization, x-npc-session")
# retry-after-ms: a refused call (RESOURCE_EXHAUSTED) says when to retry, browsers included.
_EXPOSE_HEADERS = "grpc-status, grpc-message, retry-after-ms"
_TIMEOUT_UNITS = {"H": 3600.0, "M": 60.0, "S": 1.0, "m": 1e-3, "u": 1e-6, "n": 1e-9}


_Stub: TypeAlias = grpc.aio.UnaryStreamMultiCallable | grpc.aio.UnaryUnaryMultiCallable


@dataclass(frozen=True)
class Method:
    """One RPC the gateway forwards."""

    path: str  # "/npc.v1.DialogueService/Say"
    server_streaming: bool


def methods_of(files: Iterable[FileDescriptor], services: Sequence[str]) -> dict[str, Method]:
    """The unary and server-streaming methods of ``services`` (gRPC-Web has no client streams)."""
    found: dict[str, Method] = {}
    for file in files:
        for service in file.services_by_name.values():
            if service.full_name not in services:
                continue
            for m in service.methods:
                if m.client_streaming:
                    continue
                path = f"/{service.full_name}/{m.name}"
                found[path] = Method(path, m.server_streaming)
    return found


class GrpcWebGateway:
    """Serves gRPC-Web on its own port by forwarding to the native server at ``target``."""

    def __init__(self, target: str, methods: dict[str, Method],
                 cors_origins: Sequence[str] = ()) -> None:
        self._target = target
        self._methods = methods
        self._origins = frozenset(cors_origins)
        self._channel: grpc.aio.Channel | None = None
        self._stubs: dict[str, _Stub] = {}  # path -> the channel's callable for it
        self._runner: web.AppRunner | None = None

    async def start(self, host: str, port: int, grace_s: float = 5.0,
                    ssl_context: ssl.SSLContext | None = None) -> int:
        """
        Listen on ``host:port`` (0 picks a free port), over TLS only if ``ssl_context``;
        returns the port bound. On stop, calls in flight get ``grace_s`` to finish.
        """
        self._channel = grpc.aio.insecure_channel(self._target)
        self._stubs = {path: (self._channel.unary_stream(path) if m.server_streaming
                              else self._channel.unary_unary(path))
                       for path, m in self._methods.items()}
        app = web.Application(client_max_size=_MAX_REQUEST_BYTES)
        app.router.add_route("OPTIONS", "/{tail:.*}", self._preflight)
        app.router.add_route("POST", "/{tail:.*}", self._call)
        # Cancel the handler when the client hangs up, so the forwarded call (and the
        # generation behind it) stops at once rather than at the next write.
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None,
                                     shutdown_timeout=grace_s)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port, ssl_context=ssl_context).start()
        return int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        """Stop accepting calls; in-flight ones end when the native server drains."""
        if self._runner is not None:
            await self._runner.cleanup()
        if self._channel is not None:
            await self._channel.close()

    # --- HTTP handlers ----------------------------------------------------------------

    async def _preflight(self, request: web.Request) -> web.Response:
        cors = self._cors(request)
        if not cors:
            return web.Response(status=403, text="origin not allowed: start the server with "
                                "--web-cors-origin set to this page's origin\n")
        cors.update({"Access-Control-Allow-Methods": "POST, OPTIONS",
                     "Access-Control-Allow-Headers": _ALLOW_HEADERS,
                     "Access-Control-Max-Age": "86400"})
        return web.Response(status=204, headers=cors)

    async def _call(self, request: web.Request) -> web.StreamResponse:
        headers = {"Content-Type": CONTENT_TYPE, **self._cors(request)}
        method = self._methods.get(request.path)
        if method is None:
            return _trailers_only(headers, grpc.StatusCode.UNIMPLEMENTED,
                                  f"unknown method {request.path}")
        if not request.content_type.startswith("application/grpc-web"):
            return _trailers_only(headers, grpc.StatusCode.INVALID_ARGUMENT,
                                  f"content-type must be {CONTENT_TYPE}")
        if request.content_type not in ("application/grpc-web", CONTENT_TYPE):
            return _trailers_only(headers, grpc.StatusCode.UNIMPLEMENTED,
                                  f"only binary gRPC-Web ({CONTENT_TYPE}) is served")
        try:
            message = _unframe(await request.read())
            timeout = _timeout(request.headers.get("grpc-timeout"))
        except ValueError as exc:
            return _trailers_only(headers, grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        call = self._stubs[method.path](message, metadata=_metadata(request.headers.items()),
                                         timeout=timeout)
        try:
            return await _relay(request, headers, call, method.server_streaming)
        except (asyncio.CancelledError, ConnectionError):
            call.cancel()  # the client hung up: stop the work behind the call
            raise

    def _cors(self, request: web.Request) -> dict[str, str]:
        origin = request.headers.get("Origin")
        if origin is None or not (origin in self._origins or "*" in self._origins):
            return {}
        return {"Access-Control-Allow-Origin": origin, "Vary": "Origin",
                "Access-Control-Expose-Headers": _EXPOSE_HEADERS}


async def _relay(request: web.Request, headers: dict[str, str], call: grpc.aio.Call,
                 streaming: bool) -> web.StreamResponse:
    """Stream the call's messages as frames, then its status as the trailer frame."""
    response: web.StreamResponse | None = None
    try:
        if streaming:
            async for message in call:
                response = response or await _begin(request, headers)
                await response.write(_frame(0, message))
        else:
            message = await call
            response = await _begin(request, headers)
            await response.write(_frame(0, message))
    except grpc.aio.AioRpcError:
        pass  # the status is read below, like any other
    code, details = await call.code(), await call.details()
    trailing = await call.trailing_metadata() or ()
    if response is None:
        return _trailers_only(headers, code, details or "", trailing)
    await response.write(_frame(_TRAILER_FLAG, _trailer_block(code, details or "", trailing)))
    await response.write_eof()
    return response


async def _begin(request: web.Request, headers: dict[str, str]) -> web.StreamResponse:
    response = web.StreamResponse(status=200, headers=headers)
    await response.prepare(request)
    return response


def _trailers_only(headers: dict[str, str], code: grpc.StatusCode, details: str,
                   trailing: Iterable[tuple[str, str | bytes]] = ()) -> web.Response:
    status = {"grpc-status": str(code.value[0]), "grpc-message": _encode_message(details)}
    extra = {k: _header_value(k, v) for k, v in trailing}
    return web.Response(status=200, headers={**headers, **extra, **status})


def _trailer_block(code: grpc.StatusCode, details: str,
                   trailing: Iterable[tuple[str, str | bytes]]) -> bytes:
    lines = [f"grpc-status: {code.value[0]}"]
    if details:
        lines.append(f"grpc-message: {_encode_message(details)}")
    lines += [f"{k}: {_header_value(k, v)}" for k, v in trailing]
    return "".join(line + "\r\n" for line in lines).encode("ascii")


def _frame(flag: int, payload: bytes) -> bytes:
    return struct.pack(">BI", flag, len(payload)) + payload


def _unframe(body: bytes) -> bytes:
    """The one message of a unary or server-streaming request body."""
    if len(body) < 5:
        raise ValueError("request body is not a gRPC-Web frame (needs a 5-byte header)")
    flag, length = struct.unpack(">BI", body[:5])
    if flag & 1:
        raise ValueError("compressed request frames are not supported; send them uncompressed")
    if flag != 0 or len(body) != 5 + length:
        raise ValueError(f"request body must be exactly one message frame "
                         f"({len(body)} bytes, frame says {length})")
    return body[5:]


def _timeout(value: str | None) -> float | None:
    """``grpc-timeout`` (e.g. ``10S``, ``500m``) in seconds."""
    if not value:
        return None
    amount, unit = value[:-1], value[-1:]
    if not amount.isdigit() or unit not in _TIMEOUT_UNITS or len(amount) > 8:
        raise ValueError(f"grpc-timeout {value!r} is malformed (e.g. 10S, 500m)")
    return int(amount) * _TIMEOUT_UNITS[unit]


def _metadata(headers: Iterable[tuple[str, str]]) -> tuple[tuple[str, str | bytes], ...]:
    """Request headers that are call metadata (``-bin`` ones base64-decoded, as gRPC wants)."""
    out: list[tuple[str, str | bytes]] = []
    for name, value in headers:
        key = name.lower()
        if key in _NOT_METADATA or key.startswith(("sec-", "access-control-", ":")):
            continue
        out.append((key, base64.b64decode(value + "==") if key.endswith("-bin") else value))
    return tuple(out)


def _header_value(key: str, value: str | bytes) -> str:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value


def _encode_message(details: str) -> str:
    """grpc-message is percent-encoded UTF-8 (spaces and printable ASCII stay readable)."""
    return quote(details, safe=" !\"#$&'()*+,-./:;<=>?@[\\]^_`{|}~")
