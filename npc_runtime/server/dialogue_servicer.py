"""``npc.v1.DialogueService``: protobuf in, one engine call, protobuf out."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable

import grpc

from npc_runtime.constraints.checker import CheckAction, CheckReport
from npc_runtime.dialogue.engine import DialogueEngine
from npc_runtime.dialogue.events import (
    CallOutcome,
    LineDoneEvent,
    LineReplacedEvent,
    ReplyEvent,
    ToolCallEvent,
)
from npc_runtime.dialogue.plan import Plan
from npc_runtime.model.generate import StopReason
from npc_runtime.server._proto.npc.v1 import dialogue_pb2 as pb
from npc_runtime.server._proto.npc.v1 import dialogue_pb2_grpc as pb_grpc
from npc_runtime.server.auth import caller
from npc_runtime.server.status import domain_errors

_STOP_REASONS = {
    StopReason.END_OF_TURN: pb.STOP_REASON_END_OF_TURN,
    StopReason.STOP_SEQUENCE: pb.STOP_REASON_STOP_SEQUENCE,
    StopReason.MAX_TOKENS: pb.STOP_REASON_MAX_TOKENS,
}
_EXECUTORS = {"engine": pb.TOOL_EXECUTOR_ENGINE, "server": pb.TOOL_EXECUTOR_SERVER}
_CALL_STATUSES = {
    "ok": pb.TOOL_CALL_STATUS_OK,
    "failed": pb.TOOL_CALL_STATUS_FAILED,
    "timed_out": pb.TOOL_CALL_STATUS_TIMED_OUT,
    "rejected": pb.TOOL_CALL_STATUS_REJECTED,
}
_CHECK_ACTIONS = {
    CheckAction.PASSED: pb.CHECK_ACTION_PASSED,
    CheckAction.REGENERATED: pb.CHECK_ACTION_REGENERATED,
    CheckAction.REPAIRED: pb.CHECK_ACTION_REPAIRED,
    CheckAction.FALLBACK: pb.CHECK_ACTION_FALLBACK,
}


class DialogueServicer(pb_grpc.DialogueServiceServicer):
    """Adapts the wire contract to :class:`DialogueEngine`; a session belongs to the
    caller that opened it (:func:`caller`: its token's digest, "" without tokens)."""

    def __init__(self, engine: DialogueEngine,
                 on_line_done: Callable[[LineDoneEvent], None] | None = None) -> None:
        self._engine = engine
        self._on_line_done = on_line_done  # metrics, when the server keeps them

    async def OpenSession(  # noqa: N802 (gRPC method names)
        self, request: pb.OpenSessionRequest, context: grpc.aio.ServicerContext
    ) -> pb.OpenSessionResponse:
        async with domain_errors(context):
            session = self._engine.open_session(request.npc_id, request.player_name,
                                                request.player_id, owner=caller())
            npc = self._engine.world.character(session.npc_id)
        return pb.OpenSessionResponse(session_id=session.id, npc_id=npc.id, npc_name=npc.name,
                                      options=self._engine.options(session))

    async def Say(  # noqa: N802
        self, request: pb.SayRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.SayResponse]:
        async with domain_errors(context):
            o = request.options
            params = self._engine.sampling(
                max_new_tokens=o.max_new_tokens,
                temperature=o.temperature if o.HasField("temperature") else None,
                top_p=o.top_p if o.HasField("top_p") else None,
                seed=o.seed if o.HasField("seed") else None,
                repetition_penalty=(o.repetition_penalty if o.HasField("repetition_penalty")
                                    else None),
            )
            hold = request.mode == pb.REPLY_MODE_HOLD
            async for event in self._engine.say(request.session_id, request.text, params,
                                                hold=hold, tool_choice=request.tool_choice,
                                                owner=caller()):
                if self._on_line_done is not None and isinstance(event, LineDoneEvent):
                    self._on_line_done(event)
                yield _to_proto(event)

    async def SubmitToolResult(  # noqa: N802
        self, request: pb.SubmitToolResultRequest, context: grpc.aio.ServicerContext
    ) -> pb.SubmitToolResultResponse:
        async with domain_errors(context):
            self._engine.submit_tool_result(request.session_id, request.call_id,
                                            request.result_json, request.error, owner=caller())
        return pb.SubmitToolResultResponse()

    async def CloseSession(  # noqa: N802
        self, request: pb.CloseSessionRequest, context: grpc.aio.ServicerContext
    ) -> pb.CloseSessionResponse:
        async with domain_errors(context):
            self._engine.close_session(request.session_id, owner=caller())
        return pb.CloseSessionResponse()


def _to_proto(event: ReplyEvent) -> pb.SayResponse:
    if isinstance(event, LineDoneEvent):
        t = event.timings
        return pb.SayResponse(line_done=pb.LineDone(
            text=event.text,
            stop_reason=_STOP_REASONS[event.stop_reason],
            timings=pb.Timings(ttft_ms=t.ttft_ms, total_ms=t.total_ms,
                               prompt_tokens=t.prompt_tokens,
                               generated_tokens=t.generated_tokens,
                               decode_tokens_per_s=t.decode_tokens_per_s,
                               rebuilt_from_store=t.rebuilt_from_store),
            check=_check_to_proto(event.check),
            tool_calls=[_outcome_to_proto(o) for o in event.calls],
            revealed_facts=list(event.revealed), quest_changes=list(event.quest_changes),
            options=list(event.options), plan=_plan_to_proto(event.plan),
        ))
    if isinstance(event, ToolCallEvent):
        return pb.SayResponse(tool_call=pb.ToolCall(
            call_id=event.call_id, tool=event.tool, arguments_json=json.dumps(event.args),
            executor=_EXECUTORS[event.executes]))
    if isinstance(event, LineReplacedEvent):
        return pb.SayResponse(replaced=pb.LineReplaced(text=event.text))
    return pb.SayResponse(token=pb.TokenDelta(text=event.text, index=event.index))


def _plan_to_proto(plan: Plan | None) -> pb.ReplyPlan | None:
    if plan is None:
        return None
    return pb.ReplyPlan(act=plan.act.value, facts=[f.id for f in plan.facts],
                        line_kind=plan.kind, why=plan.why, tool=plan.tool,
                        matches=[pb.FactMatch(fact=f, score=s) for f, s in plan.matches],
                        drafts=[pb.Draft(text=t, faults=list(f)) for t, f in plan.drafts],
                        tool_trace=list(plan.tool_trace))


def _check_to_proto(report: CheckReport) -> pb.CheckReport:
    return pb.CheckReport(
        violations=[pb.Violation(kind=v.kind, text=v.text, detail=v.detail)
                    for v in report.violations],
        action=_CHECK_ACTIONS[report.action], attempts=report.attempts)


def _outcome_to_proto(outcome: CallOutcome) -> pb.ToolCallOutcome:
    return pb.ToolCallOutcome(
        call_id=outcome.call_id, tool=outcome.tool, arguments_json=json.dumps(outcome.args),
        status=_CALL_STATUSES[outcome.status], result_json=outcome.result,
        changes=list(outcome.changes))
