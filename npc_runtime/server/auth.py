"""
Who may call: bearer tokens with a role, checked in one interceptor.

A tokens file has one ``ROLE TOKEN`` pair a line (blank lines and ``#`` comments
allowed). ``client`` may talk (DialogueService, TreeService) and read the world and quest
state; ``admin`` may do everything, including ``LoadWorld`` and ``SetQuestState``.
Health and reflection answer anyone. Callers send ``authorization: Bearer TOKEN``
metadata (the gRPC-Web gateway forwards the header as it is).

The presented token is hashed once and compared, in constant time, with the hash of every
known token (no early exit: how long a refusal takes says nothing about which token came
closest). A caller's identity is a digest of its token: sessions it opens belong to it
(:func:`caller`). Tokens are never logged nor put in an error message.
"""

from __future__ import annotations

import contextvars
import dataclasses
import hashlib
import hmac
import ipaddress
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
import structlog

from npc_runtime.config import Settings
from npc_runtime.errors import ConfigError
from npc_runtime.server.status import abort_permission_denied, abort_unauthenticated

log = structlog.get_logger(__name__)

ROLES = ("client", "admin")  # each role may do what the ones before it may
MIN_TOKEN_CHARS = 16
# Methods a client token may call; everything else under npc.v1 needs admin.
CLIENT_METHODS = frozenset({
    "/npc.v1.WorldService/ValidateWorld",
    "/npc.v1.WorldService/GetWorldInfo",
    "/npc.v1.QuestService/GetQuestState",
})
CLIENT_SERVICES = ("/npc.v1.DialogueService/", "/npc.v1.TreeService/")
# Open to anyone: load balancers probe health, tools list services.
OPEN_PREFIXES = ("/grpc.health.v1.", "/grpc.reflection.")

_HOW = "send metadata 'authorization: Bearer <token>' (npc-runtime say --token)"
_caller: contextvars.ContextVar[str] = contextvars.ContextVar("npc_caller", default="")


def caller() -> str:
    """
    The identity of the caller of the RPC being served: a digest of its token, or ""
    when the server has no tokens. Servicers pass it as a session's owner.
    """
    return _caller.get()


@dataclasses.dataclass(frozen=True)
class _Entry:
    role: str
    digest: bytes  # sha256 of the token

    def __repr__(self) -> str:  # the digest is as good as the token to a log reader
        return f"_Entry(role={self.role!r})"


@dataclasses.dataclass(frozen=True)
class Tokens:
    """The known tokens (as digests) and their roles; build one with :func:`load_tokens`."""

    entries: tuple[_Entry, ...]

    def role_of(self, token: str) -> tuple[str, str] | None:
        """(role, caller identity) of ``token``, or None if unknown; constant time."""
        digest = hashlib.sha256(token.encode()).digest()
        found: _Entry | None = None
        for entry in self.entries:  # every entry, always: no early exit
            if hmac.compare_digest(digest, entry.digest):
                found = entry
        if found is None:
            return None
        return found.role, digest.hex()[:32]


def load_tokens(path: Path) -> Tokens:
    """
    Read a tokens file (``ROLE TOKEN`` a line; blank lines and ``#`` comments allowed).

    Raises:
        ConfigError: The file cannot be read or a line is malformed (names ``file:line``,
            never the token).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the tokens file {path}: {exc}") from exc
    entries: list[_Entry] = []
    seen: dict[bytes, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{path}:{number}"
        parts = line.split()
        if len(parts) != 2:
            raise ConfigError(f"{where}: expected 'ROLE TOKEN' (two words: a role, one of "
                              f"{', '.join(ROLES)}, then the token), found {len(parts)} words")
        role, token = parts
        if role not in ROLES:
            raise ConfigError(f"{where}: unknown role {role[:20]!r}; roles are "
                              f"{', '.join(ROLES)} (the line is 'ROLE TOKEN')")
        if len(token) < MIN_TOKEN_CHARS or not token.isascii() or not token.isprintable():
            raise ConfigError(f"{where}: a token must be at least {MIN_TOKEN_CHARS} printable "
                              "ASCII characters; make one with: python -c 'import secrets; "
                              "print(secrets.token_urlsafe(32))'")
        digest = hashlib.sha256(token.encode()).digest()
        if digest in seen:
            raise ConfigError(f"{where}: the same token is already on line {seen[digest]}")
        seen[digest] = number
        entries.append(_Entry(role, digest))
    if not entries:
        raise ConfigError(f"{path}: no tokens (one 'ROLE TOKEN' a line; roles "
                          f"{', '.join(ROLES)})")
    if path.stat().st_mode & 0o077:
        log.warning("tokens_file_readable_by_others", path=str(path),
                    hint=f"chmod 600 {path}")
    return Tokens(tuple(entries))


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` only lets this machine in."""
    name = host.strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def tokens_for(settings: Settings) -> Tokens | None:
    """
    The tokens the server checks (None: anyone may call), after refusing to expose an
    open server: a non-loopback host needs a tokens file or ``insecure``.

    Raises:
        ConfigError: A malformed tokens file, or a non-loopback host with neither.
    """
    if settings.auth_tokens_file is not None:
        return load_tokens(settings.auth_tokens_file)
    if not is_loopback(settings.host) and not settings.insecure:
        raise ConfigError(f"refusing to serve {settings.host or 'every address'} without "
                          "tokens: anyone who can reach it could call it. Pass --auth-tokens "
                          "FILE (lines of 'ROLE TOKEN'), or --insecure if that is what you want")
    return None


def required_role(method: str) -> str | None:
    """The least role that may call ``method`` ("/pkg.Service/Method"); None: anyone."""
    if method.startswith(OPEN_PREFIXES):
        return None
    if method in CLIENT_METHODS or method.startswith(CLIENT_SERVICES):
        return "client"
    return "admin"


def _bearer(metadata: dict[str, Any]) -> str | None:
    value = metadata.get("authorization")
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if not isinstance(value, str):
        return None
    scheme, _, token = value.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


Handler = Callable[..., Any]


class AuthInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Refuses calls without a known token (UNAUTHENTICATED) or the role (PERMISSION_DENIED),
    and makes the caller's identity available to the servicer (:func:`caller`)."""

    def __init__(self, tokens: Tokens) -> None:
        self._tokens = tokens

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        needed = required_role(details.method)
        if handler is None or needed is None:
            return handler
        rpc = details.method.rsplit("/", 1)[-1]
        token = _bearer(dict(details.invocation_metadata or ()))
        found = self._tokens.role_of(token) if token is not None else None
        if found is None:
            reason = "no_token" if token is None else "unknown_token"
            log.info("call_refused", rpc=rpc, reason=reason)
            message = ("this server needs a token: " if token is None
                       else "this token is not known to the server: ") + _HOW
            return _refusing(handler, abort_unauthenticated, message)
        role, identity = found
        if ROLES.index(role) < ROLES.index(needed):
            log.info("call_refused", rpc=rpc, reason="role", role=role)
            return _refusing(handler, abort_permission_denied,
                             f"{rpc} needs the {needed} role; this token has the {role} role")
        return _as_caller(handler, identity)


def _refusing(handler: grpc.RpcMethodHandler,
              abort: Callable[[grpc.aio.ServicerContext, str], Awaitable[None]],
              message: str) -> grpc.RpcMethodHandler:
    """``handler`` with its behaviour replaced by a refusal (same shape and codecs)."""

    async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await abort(context, message)

    async def stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        await abort(context, message)
        yield  # pragma: no cover (abort raises; this makes the function a generator)

    if handler.unary_unary:
        return handler._replace(unary_unary=unary)
    if handler.unary_stream:
        return handler._replace(unary_stream=stream)
    if handler.stream_unary:
        return handler._replace(stream_unary=unary)
    return handler._replace(stream_stream=stream)


def _as_caller(handler: grpc.RpcMethodHandler, identity: str) -> grpc.RpcMethodHandler:
    """``handler`` run with :func:`caller` answering ``identity``."""
    if handler.unary_unary or handler.stream_unary:
        inner = handler.unary_unary or handler.stream_unary

        async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
            reset = _caller.set(identity)
            try:
                return await inner(request, context)
            finally:
                _caller.reset(reset)

        kind = "unary_unary" if handler.unary_unary else "stream_unary"
        return handler._replace(**{kind: unary})
    inner_stream = handler.unary_stream or handler.stream_stream

    async def stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        # Each RPC runs in a task of its own, so the value set here ends with the call.
        _caller.set(identity)
        async for response in inner_stream(request, context):
            yield response

    kind = "unary_stream" if handler.unary_stream else "stream_stream"
    return handler._replace(**{kind: stream})
