"""
Concerns shared by every RPC: a request id in the logs, timing, and refusing requests
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


class RequestContextInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Binds ``request_id`` and ``rpc`` for the call's logs and rejects undecodable requests."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None or handler.request_streaming:
            return handler
        metadata = dict(details.invocation_metadata or ())
        request_id = str(metadata.get("x-request-id") or secrets.token_hex(6))
        rpc = details.method.rsplit("/", 1)[-1]

        if handler.unary_unary:
            inner_unary = handler.unary_unary

            async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
                with structlog.contextvars.bound_contextvars(request_id=request_id, rpc=rpc):
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
            with structlog.contextvars.bound_contextvars(request_id=request_id, rpc=rpc):
                if isinstance(request, _Undecodable):
                    await abort_invalid(context, _INVALID.format(request.reason))
                if problem := oversized(request):
                    await abort_invalid(context, problem)
                async for response in inner_stream(request, context):
                    yield response

        return handler._replace(unary_stream=stream,
                                request_deserializer=_safe(handler.request_deserializer))
