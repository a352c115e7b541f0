"""
The one place that turns errors into gRPC statuses.

Domain errors keep their message (it is written for users); anything unexpected is
logged with its traceback and reaches the client as INTERNAL with the request id only.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import grpc
import structlog

from npc_runtime import errors

log = structlog.get_logger(__name__)

# Most specific first: the first matching class wins.
_CODES: list[tuple[type[errors.NpcRuntimeError], grpc.StatusCode]] = [
    (errors.NotFoundError, grpc.StatusCode.NOT_FOUND),
    (errors.InvalidInputError, grpc.StatusCode.INVALID_ARGUMENT),
    (errors.InterruptedTurnError, grpc.StatusCode.ABORTED),
    (errors.StaleSessionError, grpc.StatusCode.ABORTED),
    (errors.PermissionDeniedError, grpc.StatusCode.PERMISSION_DENIED),
    (errors.OverloadedError, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (errors.ModelError, grpc.StatusCode.FAILED_PRECONDITION),
    (errors.LoreError, grpc.StatusCode.FAILED_PRECONDITION),
    (errors.NpcRuntimeError, grpc.StatusCode.INTERNAL),
]


def code_for(exc: errors.NpcRuntimeError) -> grpc.StatusCode:
    """The status code for a domain error."""
    return next(code for cls, code in _CODES if isinstance(exc, cls))


@contextlib.asynccontextmanager
async def domain_errors(context: grpc.aio.ServicerContext) -> AsyncIterator[None]:
    """Abort the RPC with the right status when the block raises."""
    try:
        yield
    except errors.NpcRuntimeError as exc:
        if isinstance(exc, errors.OverloadedError):  # when to retry, for clients to act on
            context.set_trailing_metadata(
                (("retry-after-ms", str(round(exc.retry_after_s * 1000))),))
        await context.abort(code_for(exc), str(exc))
    except Exception:
        if context.done():
            raise
        log.exception("internal_error")
        request_id = structlog.contextvars.get_contextvars().get("request_id", "?")
        await context.abort(
            grpc.StatusCode.INTERNAL, f"internal error; see the server log for request {request_id}"
        )


async def abort_invalid(context: grpc.aio.ServicerContext, message: str) -> None:
    """Abort with INVALID_ARGUMENT (used for requests that cannot even be decoded)."""
    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, message)


async def abort_unauthenticated(context: grpc.aio.ServicerContext, message: str) -> None:
    """Abort with UNAUTHENTICATED (no token, or one the server does not know)."""
    await context.abort(grpc.StatusCode.UNAUTHENTICATED, message)


async def abort_permission_denied(context: grpc.aio.ServicerContext, message: str) -> None:
    """Abort with PERMISSION_DENIED (a known token without the role the call needs)."""
    await context.abort(grpc.StatusCode.PERMISSION_DENIED, message)
