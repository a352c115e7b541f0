"""
A small Python client for the CLI's ``say`` and ``chat`` (and for scripts).

Every call of a conversation, from OpenSession on, carries the conversation's affinity key
as the metadata ``x-npc-session``: the key a load balancer in front of several servers
hashes on (deploy/nginx, deploy/envoy), so the conversation stays on the server that holds
its KV cache. The key is chosen once, when the session is
opened, and kept until it is closed (``DialogueClient.affinity_key``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import secrets
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc

from npc_runtime.errors import NpcRuntimeError
from npc_runtime.server._proto.npc.v1 import dialogue_pb2 as pb
from npc_runtime.server._proto.npc.v1 import dialogue_pb2_grpc as pb_grpc
from npc_runtime.server.interceptors import AFFINITY_HEADER


class ClientError(NpcRuntimeError):
    """The server refused a call or could not be reached; the message says which."""


@dataclasses.dataclass(frozen=True)
class Reply:
    """One NPC reply as the client saw it."""

    text: str
    ttft_ms: float  # client-side: request sent to first token received
    total_ms: float
    tokens: int
    tokens_per_s: float  # server-side decode rate
    stop_reason: str
    server_ttft_ms: float
    prompt_tokens: int
    # The line checker's report: what it did, and each violation as {kind, text, detail}.
    check: dict[str, object] = dataclasses.field(default_factory=dict)
    replaced: bool = False  # the streamed text was replaced by the checked line
    # The turn's tool calls: {tool, arguments, status, result, changes} each.
    tool_calls: list[dict[str, object]] = dataclasses.field(default_factory=list)
    quest_changes: list[str] = dataclasses.field(default_factory=list)
    options: list[str] = dataclasses.field(default_factory=list)  # what the player may say
    # The reply's plan: {act, facts, line_kind, why, tool, matches: {fact: score}, drafts,
    # tool_trace}.
    plan: dict[str, Any] = dataclasses.field(default_factory=dict)


#: Answers a tool call the game must run: (tool, arguments) -> (result JSON, error).
ToolHandler = Callable[[str, dict[str, object]], tuple[str, str]]



def choose_affinity_key(explicit: str = "", player_id: str = "") -> str:
    """
    The affinity key for a new conversation: ``explicit`` if given, else the player id
    (one player's conversations then share a server, and the key is known before
    OpenSession), else a random key, kept for this conversation only (without a stable key
    its calls would scatter over the servers, each rebuilding the KV cache).

    A key that is not printable ASCII (a metadata value must be) is percent-encoded, which
    keeps it the same for every call.
    """
    key = explicit or player_id or f"conv-{secrets.token_hex(8)}"
    if key.isascii() and key.isprintable():
        return key
    return urllib.parse.quote(key, safe="")


class DialogueClient:
    """
    Opens a channel to ``host:port``; use as a context manager.

    Args:
        token: Sent as ``authorization: Bearer TOKEN`` on every call ("" sends none).
        ca_file: PEM certificate(s) to trust: the channel is TLS (the server's own
            certificate, for a self-signed one).
        tls: TLS trusting the system's certificate authorities (implied by ``ca_file``).

    Raises:
        ClientError: ``ca_file`` cannot be read.
    """

    def __init__(self, host: str, port: int, *, token: str = "", ca_file: Path | None = None,
                 tls: bool = False) -> None:
        bare_v6 = ":" in host and not host.startswith("[")
        self.target = f"[{host}]:{port}" if bare_v6 else f"{host}:{port}"
        self._token = token
        self._tls = tls or ca_file is not None
        if self._tls:
            try:
                roots = ca_file.read_bytes() if ca_file is not None else None
            except OSError as exc:
                raise ClientError(f"cannot read --ca-file {ca_file}: {exc.strerror}") from exc
            credentials = grpc.ssl_channel_credentials(root_certificates=roots)
            self._channel = grpc.secure_channel(self.target, credentials)
        else:
            self._channel = grpc.insecure_channel(self.target)
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self._stub = pb_grpc.DialogueServiceStub(self._channel)
        self._affinity: dict[str, str] = {}  # session id -> its conversation's key

    def __enter__(self) -> DialogueClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self._channel.close()

    def open_session(self, npc_id: str, player_name: str = "", *, player_id: str = "",
                     affinity: str = "") -> tuple[str, str]:
        """
        Start a conversation; returns (session id, NPC display name).

        Args:
            player_id: Whose quest state the conversation reads and moves on ("" for the
                session's own).
            affinity: The conversation's ``x-npc-session`` key; "" picks one
                (:func:`choose_affinity_key`: the player id, else a random key). Every
                later call of the session sends the same key.
        """
        key = choose_affinity_key(affinity, player_id)
        with self._errors():
            response = self._stub.OpenSession(
                pb.OpenSessionRequest(npc_id=npc_id, player_name=player_name,
                                      player_id=player_id),
                timeout=30, metadata=(*self._metadata, (AFFINITY_HEADER, key)))
        self._affinity[response.session_id] = key
        return response.session_id, response.npc_name

    def affinity_key(self, session_id: str) -> str:
        """
        The key this session's calls send as ``x-npc-session``: the one chosen when this
        client opened it; for a session opened elsewhere, its id (stable for its life; its
        first call here may land on another server than the opener's, which costs one
        rebuilt KV cache, not a wrong answer).
        """
        return self._affinity.get(session_id) or choose_affinity_key(session_id)

    def say(self, session_id: str, text: str, on_token: Callable[[str], None] | None = None,
            *, hold: bool = False, tool_choice: str = "", on_tool_call: ToolHandler | None = None,
            **options: float | int) -> Reply:
        """
        Send a line, stream the reply (``on_token`` gets each delta), return it whole.
        ``hold``: receive the line only once it has passed the lore check.
        ``on_tool_call`` plays the game's part for calls it must run (unanswered calls
        time out on the server).
        """
        request = pb.SayRequest(session_id=session_id, text=text,
                                options=pb.GenerationOptions(**options),  # type: ignore[arg-type]
                                mode=pb.REPLY_MODE_HOLD if hold else pb.REPLY_MODE_STREAM,
                                tool_choice=tool_choice)
        started = time.perf_counter()
        first = 0.0
        replaced = False
        with self._errors():
            for event in self._stream(request):
                if event.HasField("token"):
                    first = first or time.perf_counter()
                    if on_token:
                        on_token(event.token.text)
                elif event.HasField("replaced"):
                    replaced = True
                elif (event.HasField("tool_call") and on_tool_call is not None
                      and event.tool_call.executor == pb.TOOL_EXECUTOR_ENGINE):
                    call = event.tool_call
                    result, error = on_tool_call(call.tool, json.loads(call.arguments_json))
                    self._stub.SubmitToolResult(pb.SubmitToolResultRequest(
                        session_id=session_id, call_id=call.call_id, result_json=result,
                        error=error), timeout=30, metadata=self._call_metadata(session_id))
                elif event.HasField("line_done"):
                    done, t = event.line_done, event.line_done.timings
                    now = time.perf_counter()
                    return Reply(
                        text=done.text, ttft_ms=((first or now) - started) * 1000,
                        total_ms=(now - started) * 1000, tokens=t.generated_tokens,
                        tokens_per_s=t.decode_tokens_per_s,
                        stop_reason=pb.StopReason.Name(done.stop_reason).removeprefix(
                            "STOP_REASON_").lower(),
                        server_ttft_ms=t.ttft_ms, prompt_tokens=t.prompt_tokens,
                        check=_check(done.check), replaced=replaced,
                        tool_calls=[_call(c) for c in done.tool_calls],
                        quest_changes=list(done.quest_changes), options=list(done.options),
                        plan=_plan(done.plan),
                    )
        raise ClientError(f"{self.target} ended the reply stream without line_done")

    def close_session(self, session_id: str) -> None:
        """End a conversation."""
        with self._errors():
            self._stub.CloseSession(pb.CloseSessionRequest(session_id=session_id), timeout=30,
                                    metadata=self._call_metadata(session_id))
        self._affinity.pop(session_id, None)

    def _call_metadata(self, session_id: str) -> tuple[tuple[str, str], ...]:
        """The token (if any) and the session's affinity key."""
        return (*self._metadata, (AFFINITY_HEADER, self.affinity_key(session_id)))

    def _stream(self, request: pb.SayRequest) -> Iterator[pb.SayResponse]:
        yield from self._stub.Say(request, timeout=300,
                                  metadata=self._call_metadata(request.session_id))

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except grpc.RpcError as exc:
            raise ClientError(self._explain(exc.code(), exc.details() or "")) from exc

    def _explain(self, code: grpc.StatusCode, details: str) -> str:
        """One line a person can act on (the CLI prints it as ``error: ...``)."""
        if code == grpc.StatusCode.UNAUTHENTICATED:
            return ("the server does not know this token: check --token" if self._token
                    else "the server needs a token: pass --token")
        if code == grpc.StatusCode.PERMISSION_DENIED:
            return f"this token may not do that: {details}"
        if code == grpc.StatusCode.UNAVAILABLE:
            hint = ("is `npc-runtime serve` running there, and with TLS (then pass "
                    "--ca-file)?" if not self._tls else
                    "is `npc-runtime serve` running there with TLS, and does --ca-file "
                    "hold its certificate?")
            return f"cannot reach the server at {self.target}: {hint}"
        return f"{code.name}: {details}"


def _check(report: pb.CheckReport) -> dict[str, object]:
    return {"action": pb.CheckAction.Name(report.action).removeprefix("CHECK_ACTION_").lower(),
            "attempts": report.attempts,
            "violations": [{"kind": v.kind, "text": v.text, "detail": v.detail}
                           for v in report.violations]}


def _plan(plan: pb.ReplyPlan) -> dict[str, Any]:
    return {"act": plan.act, "facts": list(plan.facts), "line_kind": plan.line_kind,
            "why": plan.why, "tool": plan.tool,
            "matches": {m.fact: round(m.score, 3) for m in plan.matches},
            "drafts": [{"text": d.text, "faults": list(d.faults)} for d in plan.drafts],
            "tool_trace": list(plan.tool_trace)}


def _call(outcome: pb.ToolCallOutcome) -> dict[str, object]:
    return {"tool": outcome.tool, "arguments": json.loads(outcome.arguments_json or "{}"),
            "status": pb.ToolCallStatus.Name(outcome.status).removeprefix(
                "TOOL_CALL_STATUS_").lower(),
            "result": outcome.result_json, "changes": list(outcome.changes)}
