"""
A load run through the proxy: does a second replica add capacity? PostgreSQL, two
`npc-runtime serve` replicas (each pinned to its own core with `taskset`, one onnxruntime
thread: a one-core pod each) and nginx running the shipped deploy/nginx/npc-runtime.conf.
SESSIONS players talk without pause for SECONDS, each its own conversation with its own
affinity key (x-npc-session, its player id), through nginx.

Modes: "one" maps both of the config's upstream servers to the first replica (the second
sits idle on its core), "two" maps them to both replicas. Runs alternate one, two, one,
two ... (--reps pairs, after an uncounted warm-up of both replicas), and the ratios
two/one are taken pair by pair (benchmarks/race_stats.py: a drift in the machine's speed
cancels within a pair). Each run reports completed turns/s, tokens/s, TTFT p50/p95 and
errors by status; the machine's load is sampled throughout (benchmarks/machine_load.py:
CPU used by processes other than the fleet's) and a run under load is marked.

nginx, PostgreSQL and this client are not pinned: on a 2-core machine they share the
replicas' cores, which "two" pays for more than "one" (whose second core is otherwise
idle). The issue's target is two >= 1.5x one in completed turns/s.

    python benchmarks/fleet_load.py                          # 16 players, 30 s runs, 3 pairs
    python benchmarks/fleet_load.py --sessions 24 --seconds 60 --reps 5 --json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime
import json
import math
import os
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
from benchmarks.fleet_parts import Nginx, Replica, throwaway_postgres, with_children
from benchmarks.machine_load import LoadSampler
from benchmarks.race_report import machine
from benchmarks.race_stats import load_verdict, pair_ratios, percentile, spread
from benchmarks.soak import LINES, NPCS, WORLD
from npc_runtime.server._proto.npc.v1 import dialogue_pb2 as pb
from npc_runtime.server._proto.npc.v1 import dialogue_pb2_grpc as pb_grpc

# Knobs (the players, their NPCs and lines: the soak run's).
REPLY_TOKENS = 32  # short replies: the run measures turns, not long decodes
SESSIONS = 16  # enough to keep one core's batch full (max_active_turns is 16)
SECONDS = 30.0
WARMUP_S = 5.0  # of each run, not counted: sessions open, replicas' batches fill
REPS = 3
DEADLINE_S = 60.0  # the client's deadline per turn
CORES = (0, 1)  # the replicas' cores
TARGET = 1.5  # issue 21: two replicas >= 1.5x one
SEED = 7  # player i samples with SEED + i


@dataclasses.dataclass
class Run:
    """What one run saw (turns counted only once WARMUP_S has passed)."""

    mode: str
    started: float = dataclasses.field(default_factory=time.monotonic)
    turns: int = 0
    tokens: int = 0
    ttft_ms: list[float] = dataclasses.field(default_factory=list)
    errors: Counter[str] = dataclasses.field(default_factory=Counter)
    warmup_s: float = WARMUP_S

    def counting(self) -> bool:
        """Whether a turn finishing now counts."""
        return time.monotonic() - self.started >= self.warmup_s


@dataclasses.dataclass(frozen=True)
class Load:
    """What a run offers: how many players, for how long, how long their replies."""

    sessions: int
    seconds: float
    reply_tokens: int
    warmup_s: float = WARMUP_S


async def player(stub: pb_grpc.DialogueServiceStub, run: Run, load: Load, stop_at: float,
                 *, key: str, index: int) -> None:
    """One player: its own session and affinity key, lines in turn, tool calls answered."""
    metadata = (("x-npc-session", key),)
    session, turn = "", 0
    while time.monotonic() < stop_at:
        started = time.monotonic()
        try:
            if not session:
                session = (await stub.OpenSession(pb.OpenSessionRequest(
                    npc_id=NPCS[index % len(NPCS)], player_id=key), timeout=10,
                    metadata=metadata)).session_id
            request = pb.SayRequest(session_id=session, text=LINES[(index + turn) % len(LINES)],
                                    options=pb.GenerationOptions(max_new_tokens=load.reply_tokens,
                                                                 seed=SEED + index))
            first, tokens = 0.0, 0
            async for event in stub.Say(request, timeout=DEADLINE_S, metadata=metadata):
                kind = event.WhichOneof("event")
                if not first and kind in ("token", "line_done"):
                    first = time.monotonic()
                if kind == "tool_call" and event.tool_call.executor == pb.TOOL_EXECUTOR_ENGINE:
                    await stub.SubmitToolResult(pb.SubmitToolResultRequest(
                        session_id=session, call_id=event.tool_call.call_id,
                        result_json='{"ok": true}'), timeout=10, metadata=metadata)
                if kind == "line_done":
                    tokens = event.line_done.timings.generated_tokens
            turn += 1
            if run.counting() and time.monotonic() <= stop_at:
                run.turns += 1
                run.tokens += tokens
                run.ttft_ms.append((first - started) * 1000)
        except grpc.aio.AioRpcError as exc:
            if run.counting():
                run.errors[exc.code().name] += 1
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                session = ""
            await asyncio.sleep(0.2)


async def drive(port: int, mode: str, label: str, load: Load) -> Run:
    """The players through nginx for ``load.warmup_s + load.seconds``; keys unique per run,
    so no run finds a session's KV left by an earlier one."""
    run = Run(mode, warmup_s=load.warmup_s)
    stop_at = run.started + load.warmup_s + load.seconds
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = pb_grpc.DialogueServiceStub(channel)
        await asyncio.gather(*(player(stub, run, load, stop_at, key=f"{label}-p{i}", index=i)
                               for i in range(load.sessions)))
    return run


@dataclasses.dataclass(frozen=True)
class Fleet:
    """The replicas, the database server's pid (None: not ours to count) and a folder."""

    replicas: list[Replica]
    db_pid: int | None
    work: Path


def measure(mode: str, label: str, fleet: Fleet, load: Load) -> dict[str, Any]:
    """One run: nginx started for ``mode``, the load driven, figures and load returned."""
    first = fleet.replicas[0].port
    second = first if mode == "one" else fleet.replicas[1].port
    upstreams: dict[str, tuple[int, int | None]] = {"npc-1": (first, None),
                                                    "npc-2": (second, None)}
    proxy = Nginx(upstreams, fleet.work / f"nginx-{label}")
    ours = [r.process.pid for r in fleet.replicas] + with_children(proxy.process.pid)
    ours += with_children(fleet.db_pid) if fleet.db_pid else []
    sampler = LoadSampler(ours)
    sampler.start()
    try:
        run = asyncio.run(drive(proxy.port, mode, label, load))
    finally:
        samples = sampler.stop()
        proxy.stop()
    ports = {f"127.0.0.1:{r.port}": f"core {r.core}" for r in fleet.replicas}
    says = {ports.get(a, a): n for a, n in proxy.calls_by_upstream("Say").items()}
    foreign = [s.foreign_cores for s in samples]
    # Only other processes' CPU during the run: the load average before it still holds the
    # previous run's own work (the whole report judges the load average before the start).
    verdict = load_verdict(0.0, foreign)
    return {
        "mode": mode, "label": label, "turns": run.turns,
        "turns_per_s": round(run.turns / load.seconds, 2),
        "tokens_per_s": round(run.tokens / load.seconds, 1),
        "ttft_ms_p50": _rounded(percentile(run.ttft_ms, 0.5)),
        "ttft_ms_p95": _rounded(percentile(run.ttft_ms, 0.95)),
        "errors": dict(run.errors),
        "says_by_replica": says,  # warm-up included: how the keys spread
        "load1_max": _rounded(max((s.load1 for s in samples), default=math.nan), 2),
        "busy_cores_median": _rounded(statistics.median([s.busy_cores for s in samples])
                                      if samples else math.nan, 2),
        "foreign_cores_median": _rounded(statistics.median(foreign) if foreign else math.nan,
                                         2),
        "under_load": verdict.under_load, "load_reasons": list(verdict.reasons),
    }


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians per mode and the pair-by-pair ratios two/one, all runs and quiet pairs."""
    one = [r for r in runs if r["mode"] == "one"]
    two = [r for r in runs if r["mode"] == "two"]
    figures: dict[str, Any] = {}
    for key in ("turns_per_s", "tokens_per_s", "ttft_ms_p50", "ttft_ms_p95"):
        a = [float(r[key] if r[key] is not None else math.nan) for r in one]
        b = [float(r[key] if r[key] is not None else math.nan) for r in two]
        quiet = [(x, y) for x, y, r1, r2 in zip(a, b, one, two, strict=True)
                 if not (r1["under_load"] or r2["under_load"])]
        figures[key] = {
            "one": _spread(a), "two": _spread(b),
            "ratio_two_over_one": _spread(pair_ratios(b, a)),
            "quiet_pairs": len(quiet),
            "quiet_ratio": _spread(pair_ratios([y for _, y in quiet], [x for x, _ in quiet])),
        }
    return figures


def _spread(values: list[float]) -> dict[str, float | int | None]:
    """Median, low, high and n of ``values``, NaN (none measured) as null."""
    figures = dataclasses.asdict(spread(values))
    return {k: (None if isinstance(v, float) and math.isnan(v) else
                round(v, 3) if isinstance(v, float) else v) for k, v in figures.items()}


def _rounded(value: float, digits: int = 0) -> float | None:
    """JSON-friendly: NaN (nothing measured) becomes null."""
    return None if math.isnan(value) else round(value, digits)


def _parse() -> argparse.Namespace:
    """The command line, checked (two cores at least: each replica gets one)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--sessions", type=int, default=SESSIONS,
                        help=f"concurrent players, each its own conversation (default "
                             f"{SESSIONS})")
    parser.add_argument("--seconds", type=float, default=SECONDS,
                        help=f"counted length of each run (default {SECONDS:.0f}; "
                             f"{WARMUP_S:.0f} s of warm-up come first)")
    parser.add_argument("--reps", type=int, default=REPS,
                        help=f"pairs of runs, one then two (default {REPS})")
    parser.add_argument("--model", type=Path,
                        help="model folder (default: the default model, `npc-runtime model "
                             "build`)")
    parser.add_argument("--state-url", metavar="URL",
                        help="a PostgreSQL database the replicas may use (default: a "
                             "throwaway server; its CPU then counts as the fleet's)")
    parser.add_argument("--warmup-s", type=float, default=WARMUP_S,
                        help=f"uncounted start of each run (default {WARMUP_S:.0f})")
    parser.add_argument("--max-new-tokens", type=int, default=REPLY_TOKENS,
                        help=f"reply length (default {REPLY_TOKENS})")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object only (progress still goes to stderr)")
    args = parser.parse_args()
    if args.reps < 1 or args.sessions < 1 or args.seconds <= 0:
        parser.error("--reps and --sessions must be at least 1 and --seconds positive")
    if (os.cpu_count() or 1) < 2:
        parser.error("needs two cores: each replica gets one")
    return args


def main() -> int:
    """Start the fleet, warm it, run the interleaved pairs, print the report."""
    args = _parse()
    load = Load(args.sessions, args.seconds, args.max_new_tokens, args.warmup_s)
    work = Path(tempfile.mkdtemp(prefix="npc-fleet-load-"))
    serve_args = ["--max-new-tokens", str(args.max_new_tokens),
                  *(["--model", str(args.model)] if args.model else [])]
    report: dict[str, Any] = {
        "machine": machine(), "execution_provider": "CPUExecutionProvider",
        "started_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "conditions": {"sessions": args.sessions, "seconds": args.seconds,
                       "warmup_s": args.warmup_s, "reps": args.reps,
                       "max_new_tokens": args.max_new_tokens, "world": WORLD.name,
                       "replicas": "taskset -c 0 and -c 1, --threads 1 each; nginx, "
                                   "PostgreSQL and the client unpinned"},
        "load1_before": round(os.getloadavg()[0], 2), "runs": []}
    database = (contextlib.nullcontext((args.state_url, None)) if args.state_url
                else throwaway_postgres())
    with database as (url, db_pid):
        replicas = [Replica(core, url, WORLD, work, serve_args) for core in CORES]
        fleet = Fleet(replicas, db_pid, work)
        try:
            for replica in replicas:
                asyncio.run(replica.ready(NPCS[0]))
            _progress("warming both replicas (not counted) ...")
            measure("two", "warm", fleet, dataclasses.replace(load, seconds=min(5.0, load.seconds)))
            for rep in range(args.reps):
                for mode in ("one", "two"):
                    _progress(f"pair {rep + 1}/{args.reps}: {mode} replica(s), "
                              f"{args.sessions} players, {args.seconds:.0f} s ...")
                    result = measure(mode, f"{mode}{rep}", fleet, load)
                    report["runs"].append(result)
                    _progress(json.dumps(result))
        finally:
            for replica in replicas:
                replica.stop()
    report["figures"] = summarise(report["runs"])
    ratio = report["figures"]["turns_per_s"]["ratio_two_over_one"]["median"]
    before = load_verdict(report["load1_before"], [])
    report["target"] = {
        "turns_per_s_ratio": TARGET, "met": ratio is not None and ratio >= TARGET,
        "under_load": before.under_load or any(r["under_load"] for r in report["runs"]),
        "load_reasons": list(before.reasons)}
    print(json.dumps(report, indent=None if args.json else 2))
    return 0


def _progress(line: str) -> None:
    """Progress goes to stderr, so stdout holds only the report."""
    print(line, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
