"""
Soak and overload: many players talking at once for minutes, against a real server.

Starts `npc-runtime serve` on the medium example world (or uses --target), then runs
phases; in each, SESSIONS players talk without pause (a line, the reply, the next line;
engine tool calls are answered as a game would). Every second it samples the server's RSS
and CPU; every turn records its status and time to first token. A phase reports:
turns completed, errors by gRPC status, TTFT p50/p95 of completed turns, how fast
refusals came back, RSS (median and max after the first WARMUP_S) and CPU.

    python benchmarks/soak.py                         # 16 players for 10 min, then 64 for 60 s
    python benchmarks/soak.py --phase 16:600 --phase 64:60 --json
    python benchmarks/soak.py --target 127.0.0.1:50051 --phase 32:30

Pass/fail (exit 1 on a miss), from issue 16: no phase may crash the server or hit a client
deadline; a phase with at most max_active_turns players has no errors and a flat RSS (max
within 15 % of the median after warm-up); every phase stays under --rss-limit-mb.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import grpc

if not __package__:  # run as a script: shared parts are imported from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.serve_process import ServeProcess
from npc_runtime.server._proto.npc.v1 import dialogue_pb2 as pb
from npc_runtime.server._proto.npc.v1 import dialogue_pb2_grpc as pb_grpc

# Knobs.
WORLD = Path(__file__).resolve().parent.parent / "examples" / "worlds" / "saltmere"
NPCS = ["maren", "oskar", "wren", "alder"]
LINES = [
    "Good evening. How much for a room tonight?",
    "What happened to the old bell?",
    "Is there anything hot to eat?",
    "Who looks after the harbour these days?",
    "I heard noises under the floor last night. What were they?",
    "Tell me about yourself.",
    "Is anyone in town looking for help?",
    "Thanks. I'll be on my way then.",
]
THREADS = 2
REPLY_TOKENS = 48
DEADLINE_S = 60.0  # the client's deadline per turn: a turn past it is a failure
WARMUP_S = 20.0  # RSS figures start after this much of a phase
SAMPLE_S = 1.0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _proc(pid: int) -> tuple[float, float]:
    """RSS in MB and CPU seconds so far of a process."""
    rss = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return rss, cpu


class Phase:
    """What one phase saw."""

    def __init__(self, sessions: int, seconds: float) -> None:
        self.sessions, self.seconds = sessions, seconds
        self.statuses: Counter[str] = Counter()
        self.ttft_ms: list[float] = []
        self.new_ms: list[float] = []  # TTFT of a session's first turn (NPC prefix shared)
        self.warm_ms: list[float] = []  # TTFT of its later turns (its own KV kept, if room)
        self.refused_ms: list[float] = []  # how long a RESOURCE_EXHAUSTED took to arrive
        self.rss: list[tuple[float, float]] = []  # (seconds into the phase, MB)
        self.cpu_s = 0.0
        self.tokens = 0
        self.started = time.monotonic()


async def player(stub: pb_grpc.DialogueServiceStub, index: int, phase: Phase,
                 stop_at: float) -> None:
    """Talk until ``stop_at``: open a session, say lines in turn, answer tool calls."""
    npc = NPCS[index % len(NPCS)]
    session = ""
    turn = 0
    while time.monotonic() < stop_at:
        started = time.monotonic()
        try:
            if not session:
                opened = await stub.OpenSession(
                    pb.OpenSessionRequest(npc_id=npc, player_name=f"p{index}"), timeout=10)
                session = opened.session_id
            request = pb.SayRequest(session_id=session, text=LINES[(index + turn) % len(LINES)],
                                    options=pb.GenerationOptions(max_new_tokens=REPLY_TOKENS))
            first: float | None = None
            async for event in stub.Say(request, timeout=DEADLINE_S):
                kind = event.WhichOneof("event")
                if first is None and kind in ("token", "line_done"):
                    first = time.monotonic()
                if kind == "tool_call" and event.tool_call.executor == pb.TOOL_EXECUTOR_ENGINE:
                    await stub.SubmitToolResult(pb.SubmitToolResultRequest(
                        session_id=session, call_id=event.tool_call.call_id,
                        result_json='{"ok": true}'), timeout=10)
                if kind == "line_done":
                    phase.tokens += event.line_done.timings.generated_tokens
            phase.statuses["OK"] += 1
            ttft = ((first or time.monotonic()) - started) * 1000
            phase.ttft_ms.append(ttft)
            (phase.warm_ms if turn else phase.new_ms).append(ttft)
            turn += 1
        except grpc.aio.AioRpcError as exc:
            phase.statuses[exc.code().name] += 1
            if exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
                phase.refused_ms.append((time.monotonic() - started) * 1000)
                await asyncio.sleep(_retry_after(exc))
            elif exc.code() == grpc.StatusCode.NOT_FOUND:
                session = ""
            elif exc.code() == grpc.StatusCode.UNAVAILABLE:
                await asyncio.sleep(1.0)


def _retry_after(exc: grpc.aio.AioRpcError) -> float:
    """The server's hint (``retry-after-ms`` trailing metadata), else half a second."""
    for key, value in exc.trailing_metadata() or ():
        if key == "retry-after-ms":
            return int(value) / 1000
    return 0.5


async def sample(server_pid: int | None, phase: Phase, stop_at: float) -> None:
    if server_pid is None:
        return
    _, cpu0 = _proc(server_pid)
    while time.monotonic() < stop_at:
        try:
            rss, cpu = _proc(server_pid)
        except (FileNotFoundError, ProcessLookupError):
            return  # the server died: the phase reports it
        phase.rss.append((time.monotonic() - phase.started, rss))
        phase.cpu_s = cpu - cpu0
        await asyncio.sleep(SAMPLE_S)


async def run_phase(target: str, pid: int | None, sessions: int, seconds: float) -> Phase:
    phase = Phase(sessions, seconds)
    stop_at = phase.started + seconds
    async with grpc.aio.insecure_channel(target) as channel:
        stub = pb_grpc.DialogueServiceStub(channel)
        await asyncio.gather(sample(pid, phase, stop_at),
                             *(player(stub, i, phase, stop_at) for i in range(sessions)))
    return phase


def summarise(phase: Phase) -> dict[str, Any]:
    warm = [mb for at, mb in phase.rss if at >= min(WARMUP_S, phase.seconds / 3)]
    median = statistics.median(warm) if warm else float("nan")
    peak = max(warm) if warm else float("nan")
    return {
        "sessions": phase.sessions, "seconds": phase.seconds,
        "turns_ok": phase.statuses.get("OK", 0),
        "errors": {k: v for k, v in phase.statuses.items() if k != "OK"},
        "tokens_per_s": round(phase.tokens / phase.seconds, 1),
        "ttft_ms_p50": _rounded(percentile(phase.ttft_ms, 0.5)),
        "ttft_ms_p95": _rounded(percentile(phase.ttft_ms, 0.95)),
        "new_session_ttft_ms_p50": _rounded(percentile(phase.new_ms, 0.5)),
        "warm_turn_ttft_ms_p50": _rounded(percentile(phase.warm_ms, 0.5)),
        "warm_turn_ttft_ms_p95": _rounded(percentile(phase.warm_ms, 0.95)),
        "refused_ms_p95": _rounded(percentile(phase.refused_ms, 0.95), 1),
        "rss_mb_median": _rounded(median), "rss_mb_max": _rounded(peak),
        "rss_mb_max_whole_phase": _rounded(max((mb for _, mb in phase.rss), default=0.0)),
        "rss_max_over_median": _rounded(peak / median, 3) if warm else None,
        "rss_mb_every_10_s": [round(mb) for at, mb in phase.rss[::int(10 / SAMPLE_S)]],
        "cpu_percent": round(100 * phase.cpu_s / phase.seconds),
    }


def _rounded(value: float, digits: int = 0) -> float | None:
    """JSON-friendly: NaN (nothing measured) becomes null."""
    return None if math.isnan(value) else round(value, digits)


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--phase", action="append", metavar="SESSIONS:SECONDS",
                        help="a phase (repeatable; default 16:600 then 64:60)")
    parser.add_argument("--target", help="an already running server (no RSS figures)")
    parser.add_argument("--model", type=Path, help="model folder (default: the default model)")
    parser.add_argument("--max-active-turns", type=int, default=16,
                        help="the server's admission limit, as configured (default 16)")
    parser.add_argument("--rss-limit-mb", type=float, default=1536,
                        help="the documented bound a phase must stay under (default 1536)")
    parser.add_argument("--serve-arg", action="append", default=[],
                        help="extra argument for `npc-runtime serve` (repeatable)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    phases = [tuple(float(x) for x in p.split(":")) for p in (args.phase or ["16:600", "64:60"])]

    extra = [*args.serve_arg, *(["--model", str(args.model)] if args.model else [])]
    work = Path(tempfile.mkdtemp(prefix="npc-soak-"))
    server = None if args.target else ServeProcess(WORLD, extra, work, THREADS)
    report: dict[str, Any] = {
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {THREADS} onnxruntime threads",
        "load_before": _load(), "world": WORLD.name, "phases": []}
    failures: list[str] = []
    try:
        if server is not None:
            await server.ready(NPCS[0])
        target = args.target or (server.target if server else "")
        for sessions, seconds in phases:
            if not args.json:
                print(f"phase: {int(sessions)} players for {seconds:.0f} s ...", file=sys.stderr)
            phase = await run_phase(target, server.process.pid if server else None,
                                    int(sessions), seconds)
            figures = summarise(phase)
            figures["load_after"] = _load()
            report["phases"].append(figures)
            if not args.json:
                print(json.dumps(figures), file=sys.stderr)
            if server is not None and not server.alive():
                failures.append(f"the server died in the {int(sessions)}-player phase")
                break
            if "DEADLINE_EXCEEDED" in figures["errors"]:
                failures.append(f"{int(sessions)} players: a client deadline was hit")
            if (figures["rss_mb_max_whole_phase"] or 0) > args.rss_limit_mb:
                failures.append(f"{int(sessions)} players: RSS "
                                f"{figures['rss_mb_max_whole_phase']} MB > {args.rss_limit_mb}")
            if sessions <= args.max_active_turns:
                if figures["errors"]:
                    failures.append(f"{int(sessions)} players: errors {figures['errors']}")
                if server is not None and (figures["rss_max_over_median"] or 0) > 1.15:
                    failures.append(f"{int(sessions)} players: RSS not flat "
                                    f"(max/median {figures['rss_max_over_median']})")
            if not figures["turns_ok"]:
                failures.append(f"{int(sessions)} players: no turn completed")
    finally:
        if server is not None:
            server.stop()
    report["failures"] = failures
    print(json.dumps(report, indent=None if args.json else 2))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
