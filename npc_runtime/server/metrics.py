"""
Prometheus metrics on their own port (``serve --metrics-port``): what a studio alerts and
scales by.

- per turn (``LineDone``): time to the first released text (``npc_turn_ttft_seconds``), the
  whole turn (``npc_turn_seconds``), prompt and generated tokens (rate() of the latter is
  tokens/s), what the lore checker did (``npc_checker_actions_total{action}``), the tool calls
  NPCs made (``npc_tool_calls_total{tool,status}``);
- per RPC: how each ended (``npc_rpcs_total{rpc,code}``: refusals are
  ``code="RESOURCE_EXHAUSTED"``) and how long it took (``npc_rpc_seconds{rpc}``);
- per state store operation (``StateStore.observe``): its time (``npc_store_seconds{operation}``);
- read at each scrape from the engine (``DialogueEngine.load``): turns running
  (``npc_active_turns``, the autoscaling signal) and queued, turns refused since start, KV
  bytes held, sessions open.

Nothing here names a player, a session or a line: labels are method names, status codes,
checker actions and the world's tool names (a bounded set). Served over plain HTTP on the
gRPC server's address; it needs no token (Prometheus scrapes it) and says only numbers.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import grpc
from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from npc_runtime.dialogue.admission import Load
from npc_runtime.dialogue.events import LineDoneEvent

# Seconds: a warm turn's first sentence lands in 0.1-0.5 s on a 2-core CPU, a whole turn
# with a tool call in a few seconds; the tail up to the tool timeout.
_SECONDS = (0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0, 30.0)
# A SQLite write takes tens of microseconds, a PostgreSQL round trip on a LAN about a
# millisecond; a slow or failing database shows in the tail.
_STORE_SECONDS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                  0.25, 1.0, 5.0)


class Metrics:
    """The server's metrics in their own registry (tests and several servers in one process
    do not share counters)."""

    def __init__(self, load: Callable[[], Load]) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self._ttft = Histogram("npc_turn_ttft_seconds", "Time from a turn's start to the "
                               "first text released to the client (in stream mode the first "
                               "sentence that passed the checker)", buckets=_SECONDS,
                               registry=r)
        self._turn = Histogram("npc_turn_seconds", "Time from a turn's start to its line "
                               "done, tool calls included", buckets=_SECONDS, registry=r)
        self._generated = Counter("npc_generated_tokens", "Tokens generated for replies",
                                  registry=r)
        self._prompt = Counter("npc_prompt_tokens", "Prompt tokens of replies", registry=r)
        self._checks = Counter("npc_checker_actions", "What the lore checker did with each "
                               "line: passed, regenerated, repaired, fallback", ["action"],
                               registry=r)
        self._calls = Counter("npc_tool_calls", "Tool calls NPCs made, by tool and outcome "
                              "(ok, failed, timed_out, rejected)", ["tool", "status"],
                              registry=r)
        self._rpcs = Counter("npc_rpcs", "RPCs finished, by method and gRPC status code",
                             ["rpc", "code"], registry=r)
        self._rpc_seconds = Histogram("npc_rpc_seconds", "RPC time, by method (Say: the "
                                      "whole stream)", ["rpc"], buckets=_SECONDS, registry=r)
        self._store = Histogram("npc_store_seconds", "State store operations' time, by "
                                "operation (commit_turn: a turn's writes; state: a quest-state "
                                "read; session_version: a session's catch-up check; ...)",
                                ["operation"], buckets=_STORE_SECONDS, registry=r)
        r.register(_LoadCollector(load))

    def line_done(self, event: LineDoneEvent) -> None:
        """Count a finished turn."""
        t = event.timings
        self._ttft.observe(t.ttft_ms / 1000)
        self._turn.observe(t.total_ms / 1000)
        self._generated.inc(t.generated_tokens)
        self._prompt.inc(t.prompt_tokens)
        self._checks.labels(event.check.action.value).inc()
        for call in event.calls:
            self._calls.labels(call.tool, call.status).inc()

    def rpc_done(self, rpc: str, code: grpc.StatusCode, seconds: float) -> None:
        """Count a finished RPC."""
        self._rpcs.labels(rpc, code.name).inc()
        self._rpc_seconds.labels(rpc).observe(seconds)

    def store_done(self, operation: str, seconds: float) -> None:
        """Time a state store operation (``StateStore.observe``)."""
        self._store.labels(operation).observe(seconds)

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format."""
        return bytes(generate_latest(self.registry))


class _LoadCollector(Collector):
    """Reads the engine's load at each scrape (nothing to keep in step in between)."""

    def __init__(self, load: Callable[[], Load]) -> None:
        self._load = load

    def collect(self) -> Iterator[Metric]:
        now = self._load()
        yield GaugeMetricFamily("npc_active_turns", "Turns running now (decoding or waiting "
                                "for the game's tool result)", value=now.active_turns)
        yield GaugeMetricFamily("npc_queued_turns", "Turns waiting for a place",
                                value=now.queued_turns)
        yield CounterMetricFamily("npc_turns_refused", "Turns refused with "
                                  "RESOURCE_EXHAUSTED since start", value=now.refused_turns)
        yield GaugeMetricFamily("npc_kv_bytes", "KV cache bytes held (rows being decoded, "
                                "shared prefixes, idle sessions)", value=now.kv_bytes)
        yield GaugeMetricFamily("npc_open_sessions", "Sessions open in this server",
                                value=now.sessions)


class MetricsInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Counts every RPC by its status code and times it (outermost: refusals by the auth
    interceptor count too)."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None or handler.request_streaming:
            return handler
        rpc = details.method.rsplit("/", 1)[-1]
        done = self._metrics.rpc_done
        if handler.unary_unary:
            inner_unary = handler.unary_unary

            async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
                started, finished = time.perf_counter(), False
                try:
                    reply = await inner_unary(request, context)
                    finished = True
                    return reply
                finally:
                    done(rpc, _code(context, finished), time.perf_counter() - started)

            return handler._replace(unary_unary=unary)
        inner_stream = handler.unary_stream

        async def stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            started, finished = time.perf_counter(), False
            try:
                async for response in inner_stream(request, context):
                    yield response
                finished = True
            finally:
                done(rpc, _code(context, finished), time.perf_counter() - started)

        return handler._replace(unary_stream=stream)


def _code(context: grpc.aio.ServicerContext, finished: bool) -> grpc.StatusCode:
    """The status the RPC ends with: the one it aborted with (a refusal, a bad request);
    else OK when the handler finished, CANCELLED when the client went away, UNKNOWN when
    it raised (grpc answers an unexpected error so)."""
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code
    if finished:
        return grpc.StatusCode.OK
    return grpc.StatusCode.CANCELLED if context.cancelled() else grpc.StatusCode.UNKNOWN


async def start_http(metrics: Metrics, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Serve ``GET /metrics`` on ``host:port`` (0: a free port); returns the runner (to
    stop) and the port bound."""

    async def scrape(_: web.Request) -> web.Response:
        # CONTENT_TYPE_LATEST carries its charset; aiohttp wants it in the header as is.
        return web.Response(body=metrics.exposition(),
                            headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/metrics", scrape)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = port or int(runner.addresses[0][1])
    return runner, bound
