"""
Persona fidelity: does the NPC answer in character, tell what it knows, and keep its hands
off tools nobody asked for? Lines from data files, replies judged by rules.

For each world named in the data, starts a real `npc-runtime serve` (its own state
database, the real model: the default one unless --model), then says each line in a fresh
session (player id unique per line; the line's quest `state` set first through
QuestService), in the default stream mode, as a game would: engine tool calls are answered
with TOOL_RESULT. It records every token delta with its time, `replaced`, `tool_call`s and
line_done (text, check report, server timings); TTFT (first token with text) and total
time are measured here, at the client, lines one at a time. The judge
(`benchmarks/persona_judge.py`) flags each reply; the report gives per file and per kind
the lines, clean %, fact answered %, each flag's count, unasked tool calls and TTFT.

    python benchmarks/persona_eval.py --data benchmarks/data/persona/dev.yaml -v
    python benchmarks/persona_eval.py --data A.yaml --data B.yaml --model DIR --json

A data file (`world` is a world folder, relative to the repository or absolute):

    lines:
      - world: examples/worlds/saltmere
        npc: maren
        text: "What do I owe you for a bed tonight?"
        kind: fact            # one of persona_judge.KINDS
        facts: [room_price]   # kind fact: the facts that answer it (any one will do)
        state: {stages: {quest: stage}}   # optional: the player's quest state before it
                                          # (also revealed: [fact], has: [item])
        tool: give_item       # kind request only: the tool it asks for
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import math
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import onnxruntime
import yaml

if not __package__:  # run as a script: the judge is imported from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.persona_judge import (
    FACT_WORD_SHARE,
    FLAGS,
    KINDS,
    MAX_SENTENCES,
    Line,
    Lore,
    Reply,
    judge,
    read_lore,
)
from benchmarks.serve_process import ServeProcess
from npc_runtime.config import Settings
from npc_runtime.model.build import build_model, default_source, model_dir_for
from npc_runtime.server._proto.npc.v1 import dialogue_pb2 as pb
from npc_runtime.server._proto.npc.v1 import dialogue_pb2_grpc as pb_grpc
from npc_runtime.server._proto.npc.v1 import quest_pb2, quest_pb2_grpc

# Knobs.
ROOT = Path(__file__).resolve().parent.parent  # data files name worlds relative to it
THREADS = 2  # onnxruntime threads of the server
DEVICE = "cpu"  # the server's --device (--device here overrides)
SEED = 0  # sampling seed of every line (the server's default is greedy anyway)
MAX_NEW_TOKENS = 0  # 0: the server's default, as a game gets it
WARM = True  # serve --warm: NPC prefixes prefilled before the first line, not during it
DEADLINE_S = 120.0  # per line; a line past it is an error
START_S = 300.0  # how long a server may take to start (the default model may build first)
TOOL_RESULT = '{"ok": true}'  # what the "game" answers every engine tool call with
# A line's `state` keys -> QuestState's fields (`revealed` and `has` as `lore show` says them).
STATE_KEYS = {"stages": "stages", "revealed": "revealed_facts", "revealed_facts": "revealed_facts",
              "has": "player_items", "player_items": "player_items"}


# --- the data ------------------------------------------------------------------------------

def read_lines(path: Path) -> list[Line]:
    """The lines of a data file, in order; SystemExit naming file and line on bad format."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SystemExit(f"{path}: cannot read: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("lines"), list):
        raise SystemExit(f"{path}: expected a mapping with a `lines:` list")
    lines = []
    for i, item in enumerate(data["lines"]):
        where = f"{path}: lines[{i}]"
        if not isinstance(item, dict) or not all(
                isinstance(item.get(k), str) for k in ("world", "npc", "text", "kind")):
            raise SystemExit(f"{where}: needs world, npc, text and kind (strings)")
        state = item.get("state") or {}
        if not isinstance(state, dict) or set(state) - set(STATE_KEYS):
            raise SystemExit(f"{where}: state takes only {', '.join(STATE_KEYS)}")
        state = {STATE_KEYS[k]: v for k, v in state.items()}
        lines.append(Line(world=item["world"], npc=item["npc"], text=item["text"],
                          kind=item["kind"], facts=tuple(item.get("facts") or ()),
                          state=state, tool=item.get("tool")))
    return lines


def world_folder(line: Line) -> Path:
    """The line's world folder (relative names are from the repository root)."""
    folder = Path(line.world)
    return folder if folder.is_absolute() else ROOT / folder


def check_line(line: Line, lore: Lore, where: str) -> None:
    """SystemExit if the line names what its world lacks or breaks the format's rules."""
    problems = []
    if line.kind not in KINDS:
        problems.append(f"kind {line.kind!r} is not one of {', '.join(KINDS)}")
    if line.npc not in lore.selves:
        problems.append(f"no character {line.npc!r} in {line.world}")
    if line.kind == "fact" and not line.facts:
        problems.append("a fact line needs `facts`")
    problems += [f"no fact {f!r} in {line.world}" for f in line.facts if f not in lore.facts]
    if line.kind == "request" and line.tool not in lore.tools:
        problems.append(f"a request line needs `tool`, a tool of {line.world}")
    if line.kind != "request" and line.tool:
        problems.append("only request lines name a tool")
    if problems:
        raise SystemExit(f"{where}: " + "; ".join(problems))


# --- the server ----------------------------------------------------------------------------

# --- one line ------------------------------------------------------------------------------

async def say(channel: grpc.aio.Channel, line: Line, player_id: str) -> Reply:
    """One line in a fresh session, as a game says it; every event recorded."""
    dialogue = pb_grpc.DialogueServiceStub(channel)
    reply = Reply()
    session = ""
    try:
        if line.state:
            state = quest_pb2.QuestState(stages=line.state.get("stages") or {},
                                         revealed_facts=line.state.get("revealed_facts") or [],
                                         player_items=line.state.get("player_items") or [])
            await quest_pb2_grpc.QuestServiceStub(channel).SetQuestState(
                quest_pb2.SetQuestStateRequest(player_id=player_id, state=state), timeout=10)
        opened = await dialogue.OpenSession(
            pb.OpenSessionRequest(npc_id=line.npc, player_id=player_id), timeout=10)
        session = opened.session_id
        options = pb.GenerationOptions(seed=SEED, max_new_tokens=MAX_NEW_TOKENS)
        started = time.monotonic()
        async for event in dialogue.Say(pb.SayRequest(session_id=session, text=line.text,
                                                      options=options), timeout=DEADLINE_S):
            ms = (time.monotonic() - started) * 1000
            kind = event.WhichOneof("event")
            if kind == "token":
                reply.deltas.append((round(ms, 1), event.token.text))
                if reply.ttft_ms is None and event.token.text:
                    reply.ttft_ms = ms
            elif kind == "replaced":
                reply.replaced = event.replaced.text
            elif kind == "tool_call":
                call = event.tool_call
                reply.tool_calls.append({
                    "tool": call.tool, "args": json.loads(call.arguments_json or "{}"),
                    "executor": pb.ToolExecutor.Name(call.executor).removeprefix(
                        "TOOL_EXECUTOR_").lower(), "ms": round(ms, 1), "id": call.call_id})
                if call.executor == pb.TOOL_EXECUTOR_ENGINE:
                    await dialogue.SubmitToolResult(pb.SubmitToolResultRequest(
                        session_id=session, call_id=call.call_id, result_json=TOOL_RESULT),
                        timeout=10)
            elif kind == "line_done":
                _line_done(reply, event.line_done, ms)
    except grpc.aio.AioRpcError as exc:
        reply.error = f"{exc.code().name}: {exc.details()}"
    finally:
        if session:
            with contextlib.suppress(grpc.aio.AioRpcError):  # an error may have ended it
                await dialogue.CloseSession(pb.CloseSessionRequest(session_id=session),
                                            timeout=10)
    return reply


def _line_done(reply: Reply, done: pb.LineDone, ms: float) -> None:
    """Fold line_done into ``reply``: text, check, outcomes, plan, timings."""
    reply.text, reply.total_ms = done.text, ms
    if reply.ttft_ms is None:
        reply.ttft_ms = ms
    reply.check = {
        "action": pb.CheckAction.Name(done.check.action).removeprefix("CHECK_ACTION_").lower(),
        "attempts": done.check.attempts,
        "violations": [{"kind": v.kind, "text": v.text} for v in done.check.violations]}
    status = {o.call_id: pb.ToolCallStatus.Name(o.status).removeprefix(
        "TOOL_CALL_STATUS_").lower() for o in done.tool_calls}
    for call in reply.tool_calls:
        call["status"] = status.get(call["id"], "")
    if "plan" in done.DESCRIPTOR.fields_by_name and done.HasField("plan"):  # older servers
        plan = done.plan  # have none
        reply.plan = {"act": plan.act, "facts": list(plan.facts), "why": plan.why,
                      "line_kind": plan.line_kind,
                      "drafts": [[d.text, list(d.faults)] for d in plan.drafts]}
    t = done.timings
    reply.server_timings = {"ttft_ms": round(t.ttft_ms, 1), "total_ms": round(t.total_ms, 1),
                            "prompt_tokens": t.prompt_tokens,
                            "generated_tokens": t.generated_tokens}


# --- a run ---------------------------------------------------------------------------------

@dataclasses.dataclass
class Record:
    """One judged line."""

    file: str
    index: int  # in its file
    line: Line
    reply: Reply
    verdict: dict[str, Any]  # persona_judge.judge's answer

    def as_json(self) -> dict[str, Any]:
        return {"file": self.file, "index": self.index, **dataclasses.asdict(self.line),
                "reply": self.reply.text, "streamed": self.reply.streamed,
                "replaced": self.reply.replaced, "tool_calls": self.reply.tool_calls,
                "check": self.reply.check, "ttft_ms": _rounded(self.reply.ttft_ms),
                "total_ms": _rounded(self.reply.total_ms),
                "server_timings": self.reply.server_timings, "error": self.reply.error,
                "deltas": self.reply.deltas, "plan": self.reply.plan, **self.verdict}


async def evaluate(files: list[Path], model_dir: Path, *, device: str = DEVICE,
                   limit: int | None = None,
                   on_record: Callable[[Record], None] | None = None) -> list[Record]:
    """
    Every line of ``files`` (the first ``limit`` of each), one server per world, worlds in
    order of first appearance; returns the judged lines in file order.
    """
    todo: list[tuple[str, int, Line]] = []
    lores: dict[Path, Lore] = {}
    for path in files:
        for i, line in enumerate(read_lines(path)[:limit]):
            folder = world_folder(line)
            if folder not in lores:
                lores[folder] = read_lore(folder)
            check_line(line, lores[folder], f"{path}: lines[{i}]")
            todo.append((str(path), i, line))
    records: dict[tuple[str, int], Record] = {}
    run = f"{os.getpid()}-{int(time.time())}"
    with tempfile.TemporaryDirectory(prefix="npc-persona-") as work:
        for folder, lore in lores.items():
            here = [t for t in todo if world_folder(t[2]) == folder]
            server = ServeProcess(folder, ["--model", str(model_dir), "--device", device,
                                           *(["--warm"] if WARM else [])], Path(work), THREADS)
            try:
                await server.ready(here[0][2].npc, START_S)
                async with grpc.aio.insecure_channel(server.target) as channel:
                    for file, i, line in here:
                        reply = await say(channel, line, f"persona-{run}-{len(records)}")
                        record = Record(file, i, line, reply, judge(line, reply, lore))
                        records[file, i] = record
                        if on_record:
                            on_record(record)
            finally:
                server.stop()
    return [records[f, i] for f, i, _ in todo]


# --- the report ----------------------------------------------------------------------------

def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _rounded(value: float | None, digits: int = 0) -> float | None:
    """JSON-friendly: NaN or None (nothing measured) becomes null."""
    return None if value is None or math.isnan(value) else round(value, digits)


def _pct(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def summarise(records: list[Record]) -> dict[str, Any]:
    """The figures of a group of lines."""
    facts = [r for r in records if r.line.kind == "fact"]
    answered = sum(r.verdict["flags"].get("fact_answered", False) for r in facts)
    clean = sum(r.verdict["clean"] for r in records)
    ttft = [r.reply.ttft_ms for r in records if r.reply.ttft_ms is not None and not r.reply.error]
    total = [r.reply.total_ms for r in records
             if r.reply.total_ms is not None and not r.reply.error]
    return {
        "lines": len(records), "clean": clean, "clean_pct": _pct(clean, len(records)),
        "fact_lines": len(facts), "fact_answered": answered,
        "fact_answered_pct": _pct(answered, len(facts)),
        "flags": {f: sum(r.verdict["flags"].get(f, False) for r in records)
                  for f in FLAGS if f != "fact_answered"},
        "drafts_shown": sum(r.verdict["flags"]["draft_shown"] for r in records),
        "unasked_tool_calls": sum(
            sum(c["tool"] != (r.line.tool if r.line.kind == "request" else None)
                for c in r.reply.tool_calls) for r in records),
        "ttft_ms_p50": _rounded(percentile(ttft, 0.5)),
        "ttft_ms_p95": _rounded(percentile(ttft, 0.95)),
        "total_ms_p50": _rounded(percentile(total, 0.5)),
    }


def report(records: list[Record]) -> dict[str, Any]:
    """Per file: all its lines and each kind; then all files together."""
    files: dict[str, Any] = {}
    for file in dict.fromkeys(r.file for r in records):
        mine = [r for r in records if r.file == file]
        kinds = [k for k in KINDS if any(r.line.kind == k for r in mine)]
        files[file] = {"all": summarise(mine),
                       "by_kind": {k: summarise([r for r in mine if r.line.kind == k])
                                   for k in kinds}}
    return {"files": files, "all": summarise(records)}


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"


_SHORT = {"off_world": "offw", "ai_talk": "ai", "third_person_self": "3rd", "too_long": "long",
          "unknown_number": "num", "draft_shown": "draft", "unasked_tool": "unask",
          "missed_tool": "miss", "error": "err"}


def print_table(result: dict[str, Any]) -> None:
    """The report as text: one table per file, a row per kind."""
    print(f"# {result['machine']}; load before {result['load_before']}, "
          f"after {result['load_after']}")
    print(f"# model {result['model']}; {result['lines']} lines in {result['seconds']} s; "
          f"judge: fact words >= {FACT_WORD_SHARE:.0%}, <= {MAX_SENTENCES} sentences")
    head = (f"{'kind':<13}{'n':>4}{'clean%':>8}{'fact%':>7}"
            + "".join(f"{s:>6}" for s in _SHORT.values())
            + f"{'calls!':>7}{'ttft50':>8}{'ttft95':>8}{'total50':>8}")
    for file, figures in [*result["files"].items(), ("all files", result["all"])]:
        print(f"\n{file}\n{head}")
        rows = ([*figures["by_kind"].items(), ("all", figures["all"])]
                if "by_kind" in figures else [("all", figures)])
        for kind, s in rows:
            print(f"{kind:<13}{s['lines']:>4}{_cell(s['clean_pct']):>8}"
                  f"{_cell(s['fact_answered_pct']):>7}"
                  + "".join(f"{s['flags'][f]:>6}" for f in _SHORT)
                  + f"{s['unasked_tool_calls']:>7}{_cell(s['ttft_ms_p50']):>8}"
                  f"{_cell(s['ttft_ms_p95']):>8}{_cell(s['total_ms_p50']):>8}")
    print("\ncolumns: " + ", ".join(f"{s} = {f}" for f, s in _SHORT.items())
          + "; calls! = tool calls nobody asked for; times in ms, at the client")


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def print_record(record: Record) -> None:
    """One judged line, for -v (to stderr, as it completes)."""
    r, v = record.reply, record.verdict
    on = [f for f, flag in v["flags"].items() if flag and f != "fact_answered"]
    print(f"[{record.file}#{record.index}] {record.line.kind} {record.line.npc}: "
          f"{record.line.text}", file=sys.stderr)
    if r.replaced is not None and r.streamed.strip():
        print(f"   streamed: {r.streamed!r}", file=sys.stderr)
    calls = ", ".join(f"{c['tool']}{json.dumps(c['args'])}" for c in r.tool_calls)
    print(f"   -> {r.error or r.text!r}" + (f"  [calls: {calls}]" if calls else "")
          + f"  ({r.check.get('action', '')}, ttft {_cell(_rounded(r.ttft_ms))} ms)",
          file=sys.stderr)
    if r.plan:
        print(f"   plan: {r.plan['act']} {r.plan['facts'] or ''} ({r.plan['why']}); "
              f"{len(r.plan['drafts'])} draft(s)", file=sys.stderr)
    for fact, a in v["evidence"].get("facts", {}).items():
        print(f"   fact {fact}: {'answered' if a['answered'] else 'not answered'}, "
              f"share {a['share']} matched {a['matched']} numbers missing "
              f"{a['numbers_missing']}", file=sys.stderr)
    detail = {f: v["evidence"][f] for f in ("off_world", "ai_talk", "third_person_self",
                                            "unknown_number") if v["evidence"][f]}
    verdict = "clean" if v["clean"] else "flags: " + ", ".join(on or ["fact not answered"])
    print(f"   {verdict}" + (f" {detail}" if detail else ""), file=sys.stderr)


def default_model() -> Path:
    """The default model folder, built on first use (as benchmarks/latency.py does)."""
    folder = model_dir_for(Settings.load().cache_dir, default_source(), "int4")
    build_model(default_source(), folder, precision="int4", progress=lambda _: None)
    return folder


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=(__doc__ or "").split("\n\n", 1)[1])
    parser.add_argument("--data", type=Path, action="append", required=True,
                        help="a data file (repeatable)")
    parser.add_argument("--model", type=Path, help="model folder (default: the default model)")
    parser.add_argument("--device", default=DEVICE, choices=["auto", "cpu", "cuda"],
                        help=f"the server's device (default {DEVICE})")
    parser.add_argument("--limit", type=int, help="only the first N lines of each file")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="print each line, its reply and its flags")
    args = parser.parse_args()
    model_dir = args.model or default_model()
    result: dict[str, Any] = {
        "machine": f"{platform.machine()} {platform.processor() or ''} {os.cpu_count()} cores, "
                   f"{THREADS} onnxruntime threads, device {args.device}, onnxruntime "
                   f"{onnxruntime.__version__}".replace("  ", " "),
        "model": str(model_dir), "load_before": _load(), "seed": SEED,
        "judge": {"fact_word_share": FACT_WORD_SHARE, "max_sentences": MAX_SENTENCES}}
    started = time.monotonic()
    records = asyncio.run(evaluate(args.data, model_dir, device=args.device, limit=args.limit,
                                   on_record=print_record if args.verbose else None))
    result.update(seconds=round(time.monotonic() - started, 1), load_after=_load(),
                  lines=len(records), **report(records))
    if args.json:
        print(json.dumps({**result, "records": [r.as_json() for r in records]}))
    else:
        print_table(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
