"""
npc-runtime against llama.cpp's own llama-server, both as real server processes driven by
the same client scenarios, interleaved A B A B over repetitions, with the machine's load
recorded and figures taken under load marked.

Sides: `npc-runtime serve` (gRPC, the default int4 model, --threads 2) and `llama-server`
(HTTP /completion, the GGUF those weights come from, -t 2, --parallel SLOTS, continuous
batching, prompt cache; built by scripts/build_llama_server.sh). llama-server's OpenMP wait
policy is chosen on the spot (ACTIVE vs PASSIVE, the faster decode kept). While one side
runs, the other is stopped with SIGSTOP, so an idle side's spinning threads cannot steal a
core. Both sides first hold one conversation and one burst of SESSIONS, not counted (each
llama-server slot has its own prompt cache). Within a repetition npc-runtime runs each
scenario first and llama-server then
generates the same number of tokens per request (ignore_eos), so both decode equal work.

Scenarios: a conversation (first turn of a new session, then warm turns: TTFT), batch-1
decode (the servers' own tok/s), SESSIONS concurrent sessions (aggregate tok/s, TTFT
p50/p95, refusals); peak RSS of each server; with --sweep, 1..64 sessions.
Model-only figures (in-process llama-cpp-python) stay in benchmarks/latency.py.

    python benchmarks/server_race.py [--reps 5] [--sweep] [--json] [--write benchmarks/results]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime
import functools
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

if not __package__:  # run as a script: its sibling modules import from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks import race_sides as sides
from benchmarks.llama_server import CTX_PER_SLOT, LlamaServer, binary_path
from benchmarks.machine_load import LoadSampler, peak_rss_mb
from benchmarks.race_report import machine, print_table, write_results
from benchmarks.race_stats import load_verdict, pair_ratios, spread
from benchmarks.serve_process import ServeProcess
from npc_runtime.config import EXAMPLE_WORLD, Settings
from npc_runtime.dialogue.prompt import build_messages, persona_card
from npc_runtime.lore.knowledge import view
from npc_runtime.lore.loader import load_world
from npc_runtime.model.build import build_model, default_source, model_dir_for
from npc_runtime.model.encoder_build import encoder_dir_for, encoder_source
from npc_runtime.model.manifest import Manifest
from npc_runtime.model.tokenizer import ChatTokenizer

# Knobs.
THREADS = 2
SLOTS = 16  # llama-server --parallel; npc-runtime's default --max-active-turns is 16 too
SWEEP = [1, 2, 4, 8, 16, 32, 64]
# Decodes per OpenMP wait policy when choosing one, and their length: short, because on a
# busy machine ACTIVE decodes at a few tokens/s.
POLICY_PROBES = 2
POLICY_TOKENS = 32


def main() -> None:
    head, _, rest = (__doc__ or "").strip().partition("\n\n")
    parser = argparse.ArgumentParser(
        description=head, epilog=rest, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=5, help="interleaved repetitions (>= 1)")
    parser.add_argument("--sessions", type=int, default=SLOTS,
                        help="concurrent sessions in the main table (default %(default)s)")
    parser.add_argument("--slots", type=int, default=SLOTS,
                        help="llama-server --parallel (default %(default)s)")
    parser.add_argument("--wait-policy", choices=["auto", "ACTIVE", "PASSIVE", "default"],
                        default="auto", help="llama-server's OMP_WAIT_POLICY (auto: measure "
                        "ACTIVE and PASSIVE, keep the faster; default: leave it unset)")
    parser.add_argument("--ours-spin", choices=["on", "off"], default="off",
                        help="npc-runtime's onnxruntime threads spin between steps (on: "
                        "NPC_SPIN=1) or sleep (off, its default)")
    parser.add_argument("--sweep", action="store_true",
                        help="also run the sweep's session counts on both servers")
    parser.add_argument("--sweep-sizes", type=lambda v: [int(n) for n in v.split(",")],
                        default=SWEEP, metavar="N,N,...",
                        help="session counts of the sweep (default %(default)s)")
    parser.add_argument("--sweep-reps", type=int, default=1,
                        help="interleaved repetitions per sweep point (default %(default)s)")
    parser.add_argument("--llama-server", type=Path,
                        help="the binary (default: where scripts/build_llama_server.sh puts it)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--write", type=Path, metavar="DIR",
                        help="also write server-race-DATE.md/.json (and the sweep's .svg) there")
    parser.add_argument("--report", type=Path, metavar="JSON",
                        help="run nothing: print (and --write) the report of an earlier run")
    args = parser.parse_args()
    if args.reps < 1:
        parser.error("--reps must be >= 1")
    report = json.loads(args.report.read_text()) if args.report else run(args)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_table(report)
    if args.write:
        for path in write_results(report, args.write):
            print(f"wrote {path}", flush=True)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Everything: choose the wait policy, start both servers, race, report."""
    load_before = os.getloadavg()
    started_at = datetime.datetime.now(datetime.UTC)
    binary = args.llama_server or binary_path()
    if not binary.exists():
        raise SystemExit(f"no llama-server at {binary}: run scripts/build_llama_server.sh "
                         "(`make bench` does)")
    settings = Settings.load()
    source = default_source()
    model_dir = model_dir_for(settings.cache_dir, source, "int4")
    build_model(source, model_dir, precision="int4", progress=lambda _: None)
    render = _renderer(model_dir)
    work = Path(tempfile.mkdtemp(prefix="server-race-"))
    policy = _choose_policy(args.wait_policy, binary, source.path, render=render,
                            slots=args.slots, work=work)
    theirs_server = LlamaServer(binary, source.path, slots=args.slots, threads=THREADS,
                                wait_policy=policy["chosen"], log=work / "llama-server.log")
    try:
        ours_server = ServeProcess(EXAMPLE_WORLD, ["--model", str(model_dir),
                                                   "--max-new-tokens", str(sides.DECODE_TOKENS)],
                                   work, threads=THREADS,
                                   env={"NPC_SPIN": "1" if args.ours_spin == "on" else "0"})
    except BaseException:
        theirs_server.stop()
        raise
    # Sampled from here on, with both servers' CPU subtracted: what is left is foreign.
    sampler = LoadSampler([theirs_server.process.pid, ours_server.process.pid])
    try:
        theirs_server.pause()
        asyncio.run(ours_server.ready(sides.NPC))
        sampler.start()
        ours: sides.Side = sides.Ours(ours_server.port)
        theirs: sides.Side = sides.Theirs(theirs_server, render)
        pause_ours = _Pausable(ours_server.process.pid)
        race = _Race(ours, theirs, pause_ours, theirs_server, sampler)
        race.warm_up(max(args.sessions, args.slots))
        reps = [race.repetition(i, args.sessions) for i in range(args.reps)]
        rss = {"ours": peak_rss_mb(ours_server.process.pid),
               "theirs": theirs_server.peak_rss_mb()}
        sweep = race.sweep(args.sweep_sizes, args.sweep_reps) if args.sweep else []
        rss_sweep = ({"ours": peak_rss_mb(ours_server.process.pid),
                      "theirs": theirs_server.peak_rss_mb()} if sweep else {})
    finally:
        samples = sampler.stop()
        ours_server.process.send_signal(signal.SIGCONT)
        ours_server.stop()
        theirs_server.stop()
    shutil.rmtree(work)  # the servers' logs: kept only when the run failed, to read
    foreign = [s.foreign_cores for s in samples]
    verdict = load_verdict(load_before[0], foreign)
    return {
        "conditions": {
            **machine(), "threads": THREADS, "slots": args.slots,
            "ctx_per_slot": CTX_PER_SLOT, "sessions": args.sessions, "reps": args.reps,
            "ours_spin": args.ours_spin,
            "started_at": started_at.isoformat(timespec="seconds"),
            "duration_s": round((datetime.datetime.now(datetime.UTC) - started_at)
                                .total_seconds()),
            "git_commit": _git_commit(), "llama_server": str(binary),
            "llama_server_build": binary.parent.parent.name,  # llama-server-VERSION
            "llama_server_version": _version(binary), "gguf": str(source.path),
            "model_dir": str(model_dir), "wait_policy": policy,
            "loadavg_before": list(load_before),
            "load_during": _load_summary(samples),
            "under_load": verdict.under_load, "load_reasons": list(verdict.reasons),
        },
        "weights_bytes": {
            "ours_model": _folder_bytes(model_dir),
            "ours_encoder": _folder_bytes(encoder_dir_for(settings.cache_dir,
                                                          encoder_source())),
            "theirs_gguf": source.path.stat().st_size},
        "figures": _figures(reps),
        "rss_mb": rss, "rss_mb_after_sweep": rss_sweep,
        "reps": reps, "sweep": sweep,
    }


class _Pausable:
    """SIGSTOP/SIGCONT for a process we started."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def pause(self) -> None:
        os.kill(self.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.pid, signal.SIGCONT)


class _Race:
    """Runs each scenario on one side, then on the other, the idle side stopped."""

    def __init__(self, ours: sides.Side, theirs: sides.Side, ours_process: _Pausable,
                 theirs_process: LlamaServer, sampler: LoadSampler) -> None:
        self.ours, self.theirs = ours, theirs
        self._ours_process, self._theirs_process = ours_process, theirs_process
        self._sampler = sampler

    @contextlib.contextmanager
    def _only(self, side: str) -> Iterator[None]:
        running = self._ours_process if side == "ours" else self._theirs_process
        running.resume()
        try:
            yield
        finally:
            running.pause()

    def _both(self, scenario: Callable[[sides.Side, dict[str, Any] | None], dict[str, Any]]
              ) -> tuple[dict[str, Any], dict[str, Any]]:
        with self._only("ours"):
            a = scenario(self.ours, None)
        with self._only("theirs"):
            b = scenario(self.theirs, a)
        return a, b

    def warm_up(self, sessions: int) -> None:
        """
        Not counted: one conversation on each side (the first session after a start is
        cold), then one burst of ``sessions``: llama-server's slots each hold their own
        prompt cache, and a slot that never saw the NPC's card prefills it whole (in a
        first measured burst that cost it 30-45 s of TTFT p95 on a loaded machine).
        """
        self._both(lambda side, _: sides.conversation(side, "warmup"))
        self._both(functools.partial(_concurrent, n=sessions, tag="warmupc"))

    def repetition(self, rep: int, sessions: int) -> dict[str, Any]:
        """Every scenario once on each side; the figures and the load during them."""
        began = time.monotonic()
        talk = self._both(lambda side, _: sides.conversation(side, f"p{rep}"))
        dec = self._both(lambda side, a: sides.decode(side, f"d{rep}", _match(a)))
        many = self._both(functools.partial(_concurrent, n=sessions, tag=f"r{rep}c"))

        def merged(i: int) -> dict[str, Any]:
            crowd = {f"c{sessions}_{k}": v for k, v in many[i].items() if k != "counts"}
            return {**talk[i], **dec[i], **crowd}

        out = {"rep": rep, "ours": merged(0), "theirs": merged(1)}
        return {**out, **self._load_since(began)}

    def sweep(self, sizes: list[int], reps: int) -> list[dict[str, Any]]:
        """The concurrency sweep: each size on each side, ``reps`` times, interleaved."""
        points = []
        for n in sizes:
            for rep in range(reps):
                began = time.monotonic()
                a, b = self._both(functools.partial(_concurrent, n=n, tag=f"s{n}r{rep}c"))
                a.pop("counts")
                b.pop("counts")
                points.append({"sessions": n, "rep": rep, "ours": a, "theirs": b,
                               **self._load_since(began)})
        return points

    def _load_since(self, began: float) -> dict[str, Any]:
        stretch = [s.foreign_cores for s in self._sampler.samples if s.at >= began]
        verdict = load_verdict(0.0, stretch)
        return {"foreign_cores": statistics.median(stretch) if stretch else float("nan"),
                "under_load": verdict.under_load}


def _match(ours: dict[str, Any] | None) -> int | None:
    """The decode length llama-server is held to: ours' count (all 64 if ours made none)."""
    if ours is None:
        return None  # this is ours' own run
    made = int(ours["decode_tokens"])
    return made if made > 1 else sides.DECODE_TOKENS


def _concurrent(side: sides.Side, prev: dict[str, Any] | None, *, n: int, tag: str
                ) -> dict[str, Any]:
    figures, counts = sides.concurrent_sessions(side, n, tag, prev["counts"] if prev else None)
    return {**figures, "counts": counts}


def _choose_policy(choice: str, binary: Path, gguf: Path, *, render: sides.Render,
                   slots: int, work: Path) -> dict[str, Any]:
    """
    OMP_WAIT_POLICY for llama-server: ACTIVE threads spin between graph runs (fast on
    idle cores, ruinous on busy ones), PASSIVE ones sleep. Measured here, on this machine
    now, by batch-1 decode: the faster is kept.
    """
    if choice != "auto":
        return {"chosen": "" if choice == "default" else choice, "measured": {}}
    prompt = render("policy", [], sides.OPENING)
    measured = {}
    for policy in ("ACTIVE", "PASSIVE"):
        server = LlamaServer(binary, gguf, slots=slots, threads=THREADS, wait_policy=policy,
                             log=work / f"llama-server-{policy}.log")
        try:
            server.complete(prompt, 8)  # warm-up: the first request prefills
            rates = [server.complete(prompt, POLICY_TOKENS, ignore_eos=True).decode_tps
                     for _ in range(POLICY_PROBES)]
        finally:
            server.stop()
        measured[policy] = statistics.median(rates)
    return {"chosen": max(measured, key=lambda p: measured[p]), "measured": measured}


def _figures(reps: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per metric: each side's median and spread over repetitions, and the pair ratios."""
    out = {}
    for key in reps[0]["ours"]:
        ours = [float(r["ours"][key]) for r in reps]
        theirs = [float(r["theirs"].get(key, float("nan"))) for r in reps]
        out[key] = {"ours": dataclasses.asdict(spread(ours)),
                    "theirs": dataclasses.asdict(spread(theirs)),
                    "ratio": dataclasses.asdict(spread(pair_ratios(ours, theirs)))}
    quiet = [r for r in reps if not r["under_load"]]
    if quiet and len(quiet) < len(reps):  # the same figures over the quiet repetitions only
        for key, figure in out.items():
            ours = [float(r["ours"][key]) for r in quiet]
            theirs = [float(r["theirs"].get(key, float("nan"))) for r in quiet]
            figure["quiet_ratio"] = dataclasses.asdict(spread(pair_ratios(ours, theirs)))
    return out


def _renderer(model_dir: Path) -> sides.Render:
    """The ChatML text for a turn, as latency.py's baseline builds it: card, history, line."""
    tokenizer = ChatTokenizer(model_dir, Manifest.read(model_dir))
    world = load_world(EXAMPLE_WORLD)
    card = persona_card(world, view(world, sides.NPC))

    def render(player: str, history: list[tuple[str, str]], line: str) -> str:
        return tokenizer.render(build_messages(card, player, [*history, ("user", line)]))

    return render


def _load_summary(samples: list[Any]) -> dict[str, float]:
    if not samples:
        return {}
    return {"busy_cores_median": statistics.median(s.busy_cores for s in samples),
            "foreign_cores_median": statistics.median(s.foreign_cores for s in samples),
            "foreign_cores_max": max(s.foreign_cores for s in samples),
            "load1_max": max(s.load1 for s in samples), "samples": len(samples)}


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _version(binary: Path) -> str:
    out = subprocess.run([str(binary), "--version"], capture_output=True, text=True,
                         check=False, timeout=30)
    return " ".join((out.stdout + out.stderr).split())[:200]


def _git_commit() -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True, check=False, cwd=Path(__file__).parent)
    return out.stdout.strip()


if __name__ == "__main__":
    main()
