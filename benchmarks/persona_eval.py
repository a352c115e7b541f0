"""
Persona fidelity: does the NPC answer in character, tell what it knows, and keep its hands
off tools nobody asked for? Lines and conversations from data files, replies judged by rules.

For each world named in the data, starts a real `npc-runtime serve` (its own state
database, the real model: the default one unless --model), then says each line in a fresh
session (player id unique per line; the line's quest `state` set first through
QuestService), in the default stream mode, as a game would: engine tool calls are answered
with TOOL_RESULT. A conversation is played the same way in ONE session: its state set once
before it opens, then its turns one after another (a tool call may move a quest on, as in
a game; the runtime's repeat checks see the earlier replies). It records every token delta
with its time, `replaced`, `tool_call`s and line_done (text, check report, server
timings); TTFT (first token with text) and total time are measured here, at the client,
lines one at a time. The judge (`benchmarks/persona_judge.py`) flags each reply, a turn
like a line; the report gives per file and per kind the lines and turns, clean %, fact
answered %, each flag's count, unasked tool calls and TTFT, and, for conversations, the
same figures for first turns, later (warm) turns and turns noted "follow-up". -v prints
each line or turn; a bad turn shows the turn before it.

    python benchmarks/persona_eval.py --data benchmarks/data/persona/dev.yaml -v
    python benchmarks/persona_eval.py --data A.yaml --data B.yaml --model DIR --json
    python benchmarks/persona_eval.py --data benchmarks/data/persona/dev.yaml --world saltmere

A data file (`world` is a world folder, relative to the repository or absolute; `lines:`,
`conversations:` or both):

    lines:
      - world: examples/worlds/saltmere
        npc: maren
        text: "What do I owe you for a bed tonight?"
        kind: fact            # one of persona_judge.KINDS
        facts: [room_price]   # kind fact: the facts that answer it (any one will do)
        state: {stages: {quest: stage}}   # optional: the player's quest state before it
                                          # (also revealed: [fact], has: [item])
        tool: give_item       # kind request only: the tool it asks for
    conversations:
      - world: examples/worlds/saltmere
        npc: maren
        state: {stages: {quest: stage}}   # optional: before the first turn only
        turns:                # a line's fields but world, npc and state
          - {text: "Evening!", kind: greeting}
          - {text: "and something hot to eat?", kind: fact, facts: [eel_stew_price],
             note: "follow-up"}
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import dataclasses
import json
import math
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import grpc
import onnxruntime

if not __package__:  # run as a script: the judge is imported from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.persona_data import Conversation, check_line, read_data, world_folder
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
THREADS = 2  # onnxruntime threads of the server
DEVICE = "cpu"  # the server's --device (--device here overrides)
SEED = 0  # sampling seed of every line (the server's default is greedy anyway)
MAX_NEW_TOKENS = 0  # 0: the server's default, as a game gets it
WARM = True  # serve --warm: NPC prefixes prefilled before the first line, not during it
DEADLINE_S = 120.0  # per line; a line past it is an error
START_S = 300.0  # how long a server may take to start (the default model may build first)
TOOL_RESULT = '{"ok": true}'  # what the "game" answers every engine tool call with


# --- one session ---------------------------------------------------------------------------

async def say(channel: grpc.aio.Channel, line: Line, player_id: str) -> Reply:
    """One line in a fresh session, as a game says it; every event recorded."""
    return (await play(channel, [line], player_id))[0]


async def play(channel: grpc.aio.Channel, lines: Sequence[Line], player_id: str
               ) -> list[Reply]:
    """
    ``lines`` one after another in one session of ``lines[0].npc``, as a game says them:
    the first line's quest state is set before the session opens, then one Say per line.
    A failed set or open fails every line; a failed turn does not stop the next (the
    next reply says whether the session survived it).
    """
    dialogue = pb_grpc.DialogueServiceStub(channel)
    replies: list[Reply] = []
    session = ""
    try:
        if lines[0].state:
            state = quest_pb2.QuestState(
                stages=lines[0].state.get("stages") or {},
                revealed_facts=lines[0].state.get("revealed_facts") or [],
                player_items=lines[0].state.get("player_items") or [])
            await quest_pb2_grpc.QuestServiceStub(channel).SetQuestState(
                quest_pb2.SetQuestStateRequest(player_id=player_id, state=state), timeout=10)
        opened = await dialogue.OpenSession(
            pb.OpenSessionRequest(npc_id=lines[0].npc, player_id=player_id), timeout=10)
        session = opened.session_id
        for line in lines:
            replies.append(await _say_turn(dialogue, session, line.text))
    except grpc.aio.AioRpcError as exc:
        error = f"{exc.code().name}: {exc.details()}"
        replies += [Reply(error=error) for _ in lines[len(replies):]]
    finally:
        if session:
            with contextlib.suppress(grpc.aio.AioRpcError):  # an error may have ended it
                await dialogue.CloseSession(pb.CloseSessionRequest(session_id=session),
                                            timeout=10)
    return replies


async def _say_turn(dialogue: pb_grpc.DialogueServiceStub, session: str, text: str) -> Reply:
    """One Say in an open session; engine tool calls answered with TOOL_RESULT."""
    reply = Reply()
    options = pb.GenerationOptions(seed=SEED, max_new_tokens=MAX_NEW_TOKENS)
    started = time.monotonic()
    try:
        async for event in dialogue.Say(pb.SayRequest(session_id=session, text=text,
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
                await _tool_call(dialogue, session, reply, event.tool_call, ms)
            elif kind == "line_done":
                _line_done(reply, event.line_done, ms)
    except grpc.aio.AioRpcError as exc:
        reply.error = f"{exc.code().name}: {exc.details()}"
    return reply


async def _tool_call(dialogue: pb_grpc.DialogueServiceStub, session: str, reply: Reply,
                     call: pb.ToolCall, ms: float) -> None:
    """Record a tool call; answer it as the game would when the engine executes it."""
    reply.tool_calls.append({
        "tool": call.tool, "args": json.loads(call.arguments_json or "{}"),
        "executor": pb.ToolExecutor.Name(call.executor).removeprefix(
            "TOOL_EXECUTOR_").lower(), "ms": round(ms, 1), "id": call.call_id})
    if call.executor == pb.TOOL_EXECUTOR_ENGINE:
        await dialogue.SubmitToolResult(pb.SubmitToolResultRequest(
            session_id=session, call_id=call.call_id, result_json=TOOL_RESULT), timeout=10)


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
    """One judged line, or one judged turn of a conversation."""

    file: str
    index: int  # of the line, or of the turn's conversation, in its file
    line: Line
    reply: Reply
    verdict: dict[str, Any]  # persona_judge.judge's answer
    conversation: str | None = None  # turns: the conversation's id
    turn: int | None = None  # turns: its index in the conversation (0: the first)
    note: str = ""  # turns: the turn's note
    context: tuple[str, str] | None = None  # later turns: the turn before, (player, NPC)

    def as_json(self) -> dict[str, Any]:
        turn = ({"conversation": self.conversation, "turn": self.turn, "note": self.note,
                 "context": self.context} if self.conversation is not None else {})
        return {"file": self.file, "index": self.index, **turn,
                **dataclasses.asdict(self.line),
                "reply": self.reply.text, "streamed": self.reply.streamed,
                "replaced": self.reply.replaced, "tool_calls": self.reply.tool_calls,
                "check": self.reply.check, "ttft_ms": _rounded(self.reply.ttft_ms),
                "total_ms": _rounded(self.reply.total_ms),
                "server_timings": self.reply.server_timings, "error": self.reply.error,
                "deltas": self.reply.deltas, "plan": self.reply.plan, **self.verdict}


@dataclasses.dataclass(frozen=True)
class _Session:
    """What one session says: one line of a file, or every turn of a conversation."""

    file: str
    index: int  # of the line or the conversation in its file
    lines: tuple[Line, ...]
    conversation: Conversation | None = None


def _sessions(path: Path, limit: int | None, lores: dict[Path, Lore]) -> list[_Session]:
    """
    The lines, then the conversations of ``path`` (the first ``limit`` of each), checked
    against their worlds; each new world's lore is read into ``lores``.
    """
    lines, conversations = read_data(path)
    todo = [_Session(str(path), i, (line,)) for i, line in enumerate(lines[:limit])]
    todo += [_Session(str(path), i, tuple(t.line for t in c.turns), c)
             for i, c in enumerate(conversations[:limit])]
    for session in todo:
        folder = world_folder(session.lines[0])
        if folder not in lores:
            lores[folder] = read_lore(folder)
        for j, line in enumerate(session.lines):
            where = (f"conversations[{session.index}].turns[{j}]" if session.conversation
                     else f"lines[{session.index}]")
            check_line(line, lores[folder], f"{path}: {where}")
    return todo


def _judged(session: _Session, replies: list[Reply], lore: Lore) -> list[Record]:
    """A record per line of ``session``; a conversation's turns know their place in it."""
    records: list[Record] = []
    for j, (line, reply) in enumerate(zip(session.lines, replies, strict=True)):
        record = Record(session.file, session.index, line, reply, judge(line, reply, lore))
        if session.conversation:
            before = records[-1] if records else None
            record.conversation, record.turn = session.conversation.id, j
            record.note = session.conversation.turns[j].note
            record.context = (before.line.text, before.reply.error or before.reply.text
                              ) if before else None
        records.append(record)
    return records


async def evaluate(files: list[Path], model_dir: Path, *, device: str = DEVICE,
                   limit: int | None = None, worlds: Sequence[str] = (),
                   on_record: Callable[[Record], None] | None = None) -> list[Record]:
    """
    Every line and conversation of ``files`` (the first ``limit`` of each), one server per
    world, worlds in order of first appearance; a line in a session of its own, a
    conversation's turns in one. Returns the judged lines and turns in file order.
    """
    lores: dict[Path, Lore] = {}
    todo = [session for path in files for session in _sessions(path, limit, lores)
            if not worlds or world_folder(session.lines[0]).name in worlds]
    lores = {folder: lore for folder, lore in lores.items()
             if any(world_folder(s.lines[0]) == folder for s in todo)}
    done: dict[int, list[Record]] = {}
    run = f"{os.getpid()}-{int(time.time())}"
    with tempfile.TemporaryDirectory(prefix="npc-persona-") as work:
        for folder, lore in lores.items():
            here = [n for n, s in enumerate(todo) if world_folder(s.lines[0]) == folder]
            server = ServeProcess(folder, ["--model", str(model_dir), "--device", device,
                                           *(["--warm"] if WARM else [])], Path(work), THREADS)
            try:
                await server.ready(todo[here[0]].lines[0].npc, START_S)
                async with grpc.aio.insecure_channel(server.target) as channel:
                    for n in here:
                        replies = await play(channel, todo[n].lines, f"persona-{run}-{n}")
                        done[n] = _judged(todo[n], replies, lore)
                        for record in done[n]:
                            if on_record:
                                on_record(record)
            finally:
                server.stop()
    return [record for n in range(len(todo)) for record in done[n]]


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


def written_by(reply: Reply) -> str:
    """
    Who wrote the line the player got: "model" (a draft the model decoded), "stand_in"
    (the line the runtime said instead of a faulty one: the planned fact as the NPC puts
    it, an authored line) or "as_written" (a reply said without the model: a greeting,
    "does not know", a refusal). The judge cannot tell these apart: a stand-in is as
    clean as a good draft, so this is where a better model or prompt shows.
    """
    if reply.error:
        return "error"
    if (reply.check or {}).get("action") == "fallback":
        return "stand_in"
    return "model" if (reply.server_timings or {}).get("generated_tokens") else "as_written"


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
        "written_by": dict(collections.Counter(written_by(r.reply) for r in records)),
        "model_pct": _pct(sum(written_by(r.reply) == "model" for r in records), len(records)),
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
                                   for k in kinds}, **by_position(mine)}
    return {"files": files, "all": summarise(records), **by_position(records)}


#: Groups of conversation turns by place, with their table labels. Later turns are warm
#: turns (the session's prefix is cached), the time issue 17 asks for; a follow-up leans on
#: the turn before it ("and something hot to eat?").
POSITIONS = {"first": "turn 1", "later": "turns 2+", "follow_up": "follow-up"}


def by_position(records: list[Record]) -> dict[str, Any]:
    """
    ``{"by_position": {group: figures}}`` over the conversation turns in ``records``:
    first turns, later turns, and turns whose note says "follow-up"; {} when there are
    none, so a report of lines only keeps its shape.
    """
    turns = [r for r in records if r.turn is not None]
    if not turns:
        return {}
    groups = {"first": [r for r in turns if r.turn == 0],
              "later": [r for r in turns if r.turn],
              "follow_up": [r for r in turns if "follow-up" in r.note.lower()]}
    return {"by_position": {name: summarise(group) for name, group in groups.items()}}


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"


_SHORT = {"off_world": "offw", "ai_talk": "ai", "third_person_self": "3rd", "too_long": "long",
          "unknown_number": "num", "draft_shown": "draft", "unasked_tool": "unask",
          "missed_tool": "miss", "error": "err"}


def print_table(result: dict[str, Any]) -> None:
    """
    The report as text: one table per file, a row per kind, then (conversations) a row
    per place in the conversation.
    """
    turns = (f" ({result['turns']} of them turns of {result['conversations']} conversations)"
             if result.get("turns") else "")
    print(f"# {result['machine']}; load before {result['load_before']}, "
          f"after {result['load_after']}")
    print(f"# model {result['model']}; {result['lines']} lines{turns} in {result['seconds']} s; "
          f"judge: fact words >= {FACT_WORD_SHARE:.0%}, <= {MAX_SENTENCES} sentences")
    head = (f"{'kind':<13}{'n':>4}{'clean%':>8}{'fact%':>7}"
            + "".join(f"{s:>6}" for s in _SHORT.values())
            + f"{'calls!':>7}{'model%':>7}{'ttft50':>8}{'ttft95':>8}{'total50':>8}")
    tables = [(file, [*f["by_kind"].items(), ("all", f["all"]), *_position_rows(f)])
              for file, f in result["files"].items()]
    tables.append(("all files", [("all", result["all"]), *_position_rows(result)]))
    for file, rows in tables:
        print(f"\n{file}\n{head}")
        for kind, s in rows:
            print(f"{kind:<13}{s['lines']:>4}{_cell(s['clean_pct']):>8}"
                  f"{_cell(s['fact_answered_pct']):>7}"
                  + "".join(f"{s['flags'][f]:>6}" for f in _SHORT)
                  + f"{s['unasked_tool_calls']:>7}{_cell(s['model_pct']):>7}"
                  f"{_cell(s['ttft_ms_p50']):>8}"
                  f"{_cell(s['ttft_ms_p95']):>8}{_cell(s['total_ms_p50']):>8}")
    print("\ncolumns: " + ", ".join(f"{s} = {f}" for f, s in _SHORT.items())
          + "; calls! = tool calls nobody asked for; model% = lines the model wrote (the "
          "rest: the fact as the NPC puts it or an authored line, said instead of a faulty "
          "draft, or a reply said without the model); times in ms, at the client")
    if turns:
        print("rows turn 1, turns 2+ (warm turns), follow-up: conversation turns by place "
              "(follow-up: the turn's note says so)")


def _position_rows(figures: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The conversation rows of a table (none for lines only), labelled as POSITIONS."""
    return [(POSITIONS[name], s) for name, s in figures.get("by_position", {}).items()]


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def print_record(record: Record) -> None:
    """
    One judged line or turn, for -v (to stderr, as it completes); a bad turn after the
    first shows the turn before it, since it may be what the reply went wrong on.
    """
    r, v = record.reply, record.verdict
    on = [f for f, flag in v["flags"].items() if flag and f != "fact_answered"]
    print(f"[{_where(record)}] {record.line.kind} {record.line.npc}: {record.line.text}"
          + (f"  ({record.note})" if record.note else ""), file=sys.stderr)
    if record.turn == 0 and record.line.state:
        print(f"   state: {dict(record.line.state)}", file=sys.stderr)
    if record.context and not v["clean"]:
        print(f"   after: player {record.context[0]!r} / npc {record.context[1]!r}",
              file=sys.stderr)
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


def _where(record: Record) -> str:
    """A line as file#index, a turn as file#conversation turn N (1: the first)."""
    if record.turn is None:
        return f"{record.file}#{record.index}"
    return f"{record.file}#{record.conversation} turn {record.turn + 1}"


def _turn_counts(records: list[Record]) -> dict[str, int]:
    """How many of the records are conversation turns, of how many conversations."""
    turns = [r for r in records if r.conversation is not None]
    if not turns:
        return {}  # lines only: the result keeps its shape
    return {"turns": len(turns), "conversations": len({(r.file, r.index) for r in turns})}


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
    parser.add_argument("--limit", type=int,
                        help="only the first N lines (and N conversations) of each file")
    parser.add_argument("--world", action="append", default=[],
                        help="only the lines of this world (its folder's name, e.g. saltmere; "
                             "repeatable)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="print each line (or turn), its reply and its flags")
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
                                   worlds=args.world,
                                   on_record=print_record if args.verbose else None))
    result.update(seconds=round(time.monotonic() - started, 1), load_after=_load(),
                  lines=len(records), **_turn_counts(records), **report(records))
    if args.json:
        print(json.dumps({**result, "records": [r.as_json() for r in records]}))
    else:
        print_table(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
