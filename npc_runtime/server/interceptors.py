"""
Concerns shared by every RPC: a request id (and the conversation's affinity key, when the
client sends one) in the logs, timing, and refusing requests
whose bytes do not decode (invalid UTF-8 in a string field) or whose strings are past
their bounds (``server/limits.py``) with INVALID_ARGUMENT instead of grpc's default
INTERNAL. Who may call is checked before these, by
``server/auth.py``'s interceptor (when the server has tokens).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import structlog
from google.protobuf.message import DecodeError

from npc_runtime.server.limits import oversized
from npc_runtime.server.status import abort_invalid

log = structlog.get_logger(__name__)


class _Undecodable:
    """Stands in for a request message that failed to parse."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _safe(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    if deserializer is None:
        return None

    def decode(data: bytes) -> Any:
        try:
            return deserializer(data)
        except DecodeError as exc:
            return _Undecodable(str(exc))

    return decode


_INVALID = "request could not be decoded (string fields must be valid UTF-8): {}"
# The key a load balancer routes a conversation by (deploy/nginx): in the logs, it shows
# which replica served which conversation. The client's text: cut short, never trusted.
AFFINITY_HEADER = "x-npc-session"  # also what DialogueClient sends
AFFINITY_LOGGED_CHARS = 64


def _log_context(metadata: dict[str, Any], rpc: str) -> dict[str, str]:
    """What every log line of the call carries: its request id (the client's
    ``x-request-id``, or a fresh one), the method and the affinity key, if sent."""
    bound = {"request_id": str(metadata.get("x-request-id") or secrets.token_hex(6)),
             "rpc": rpc}
    if affinity := metadata.get(AFFINITY_HEADER):
        bound["affinity"] = str(affinity)[:AFFINITY_LOGGED_CHARS]
    return bound


class RequestContextInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Binds ``request_id``, ``rpc`` (and ``affinity``) for the call's logs and rejects
    undecodable requests."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None or handler.request_streaming:
            return handler
        bound = _log_context(dict(details.invocation_metadata or ()),
                             details.method.rsplit("/", 1)[-1])

        if handler.unary_unary:
            inner_unary = handler.unary_unary

            async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
                with structlog.contextvars.bound_contextvars(**bound):
                    if isinstance(request, _Undecodable):
                        await abort_invalid(context, _INVALID.format(request.reason))
                    if problem := oversized(request):
                        await abort_invalid(context, problem)
                    started = time.perf_counter()
                    try:
                        return await inner_unary(request, context)
                    finally:
                        log.debug("rpc_done", ms=round((time.perf_counter() - started) * 1000, 1))

            return handler._replace(unary_unary=unary,
                                    request_deserializer=_safe(handler.request_deserializer))

        inner_stream = handler.unary_stream

        async def stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            with structlog.contextvars.bound_contextvars(**bound):
                if isinstance(request, _Undecodable):
                    await abort_invalid(context, _INVALID.format(request.reason))
                if problem := oversized(request):
                    await abort_invalid(context, problem)
                async for response in inner_stream(request, context):
                    yield response

        return handler._replace(unary_stream=stream,
                                request_deserializer=_safe(handler.request_deserializer))
