"""
Latency benchmark: time to first token and decode speed of the default model.

Rows, all in one invocation on the same prompt (Maren's persona card from the example
world plus one player line, rendered with the model's chat template):
- npc-runtime, the ONNX decode loop called directly (prefill + greedy decode);
- npc-runtime over gRPC: client-side TTFT of a real `Say` on a server in this process;
- with ``--baseline llamacpp``: llama-cpp-python on the same GGUF weights the default
  model is built from, prefix cache reset before each run (a cold prompt, like ours).

Decode runs generate exactly DECODE_TOKENS tokens (end-of-turn ignored) so both runtimes
do the same work. Warm-up runs are excluded; figures are medians (p95 where noted).

    python benchmarks/latency.py [--baseline llamacpp] [--runs 5] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime

from npc_runtime.config import EXAMPLE_WORLD, Settings
from npc_runtime.dialogue.engine import DialogueEngine
from npc_runtime.dialogue.prompt import build_messages, persona_card
from npc_runtime.dialogue.worlds import WorldHost
from npc_runtime.logs import configure_logging
from npc_runtime.lore.knowledge import view
from npc_runtime.lore.loader import load_world
from npc_runtime.model.build import build_model, default_source, model_dir_for
from npc_runtime.model.generate import SamplingParams, generate
from npc_runtime.model.loader import LoadedModel, load_model

# Knobs.
NPC = "maren"
PLAYER_LINE = "Evening. I've walked all day; how much for a room, and is there anything hot to eat?"
DECODE_TOKENS = 64
THREADS = 2
WARMUP = 1


def _cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _summary(ttft_ms: list[float], tps: list[float]) -> dict[str, float]:
    ordered = sorted(ttft_ms)
    return {
        "ttft_ms_p50": statistics.median(ttft_ms),
        "ttft_ms_p95": ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))],
        "decode_tps": statistics.median(tps) if tps else 0.0,
    }


def bench_onnx(model: LoadedModel, prompt_text: str, runs: int) -> dict[str, float]:
    """Our decode loop, called directly: tokenize + prefill to first token, then decode."""
    ttft, tps = [], []
    for i in range(WARMUP + runs):
        started = time.perf_counter()
        ids = model.tokenizer.encode(prompt_text)
        tokens = generate(model.runner, ids, SamplingParams(DECODE_TOKENS), frozenset())
        next(tokens)
        first = time.perf_counter()
        count = 1 + sum(1 for _ in tokens)
        end = time.perf_counter()
        if i >= WARMUP:
            ttft.append((first - started) * 1000)
            tps.append((count - 1) / (end - first))
    return _summary(ttft, tps)


def bench_grpc(model: LoadedModel, runs: int) -> dict[str, float]:
    """Client-side TTFT of Say over a real gRPC channel (new session per run)."""
    from npc_runtime.server.app import build_server
    from npc_runtime.server.client import DialogueClient

    settings = Settings(port=0, threads=THREADS, watch=False)
    engine = DialogueEngine(load_world(EXAMPLE_WORLD), model, settings)
    worlds = WorldHost(engine, EXAMPLE_WORLD)
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def run() -> None:
        box["server"], box["port"], _ = await build_server(settings, engine, worlds)
        ready.set()
        await box["server"].wait_for_termination()

    thread = threading.Thread(target=loop.run_until_complete, args=(run(),), daemon=True)
    thread.start()
    ready.wait(30)
    ttft, tps = [], []
    with DialogueClient("127.0.0.1", box["port"]) as client:
        for i in range(WARMUP + runs):
            session, _ = client.open_session(NPC)
            reply = client.say(session, PLAYER_LINE, max_new_tokens=DECODE_TOKENS)
            client.close_session(session)
            if i >= WARMUP:
                ttft.append(reply.ttft_ms)
                if reply.tokens > 1:
                    tps.append(reply.tokens_per_s)
    asyncio.run_coroutine_threadsafe(box["server"].stop(0), loop)
    thread.join(10)
    engine.shutdown()
    return _summary(ttft, tps)


def bench_llamacpp(gguf: Path, prompt_text: str, runs: int) -> dict[str, float]:
    """llama-cpp-python on the GGUF: eval the prompt, then greedy argmax per token."""
    import llama_cpp

    llm = llama_cpp.Llama(model_path=str(gguf), n_ctx=2048, n_threads=THREADS,
                          n_threads_batch=THREADS, verbose=False)
    ttft, tps = [], []
    for i in range(WARMUP + runs):
        llm.reset()  # no reuse of the previous run's prompt: a cold prefill like ours
        started = time.perf_counter()
        ids = llm.tokenize(prompt_text.encode(), add_bos=False, special=True)
        llm.eval(ids)
        token = int(np.argmax(llm.scores[llm.n_tokens - 1]))
        first = time.perf_counter()
        for _ in range(DECODE_TOKENS - 1):
            llm.eval([token])
            token = int(np.argmax(llm.scores[llm.n_tokens - 1]))
        end = time.perf_counter()
        if i >= WARMUP:
            ttft.append((first - started) * 1000)
            tps.append((DECODE_TOKENS - 1) / (end - first))
    return _summary(ttft, tps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", choices=["none", "llamacpp"], default="none",
                        help="also run llama-cpp-python on the same GGUF (bench extra)")
    parser.add_argument("--runs", type=int, default=5, help="measured runs per row")
    parser.add_argument("--precision", choices=["int4", "int8", "fp32"], default="int4")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    configure_logging("console", "warning")

    settings = Settings.load()
    source = default_source()
    model_dir = model_dir_for(settings.cache_dir, source, args.precision)
    build_model(source, model_dir, precision=args.precision)
    model = load_model(model_dir, device="auto", threads=THREADS)
    world = load_world(EXAMPLE_WORLD)
    prompt_text = model.tokenizer.render(
        build_messages(persona_card(world, view(world, NPC), "a traveller"), [], PLAYER_LINE)
    )
    prompt_tokens = len(model.tokenizer.encode(prompt_text))

    rows = {f"npc-runtime onnx {args.precision}": bench_onnx(model, prompt_text, args.runs),
            "npc-runtime over gRPC": bench_grpc(model, args.runs)}
    if args.baseline == "llamacpp":
        rows["llama-cpp-python Q4_1 (baseline)"] = bench_llamacpp(source.path, prompt_text,
                                                                  args.runs)
    env = {
        "cpu": _cpu_name(), "cores": os.cpu_count(), "threads": THREADS,
        "onnxruntime": onnxruntime.__version__, "providers": model.runner.providers,
        "prompt_tokens": prompt_tokens, "decode_tokens": DECODE_TOKENS, "runs": args.runs,
    }
    if args.json:
        print(json.dumps({"env": env, "rows": rows}, indent=2))
        return
    print(f"# {env['cpu']}, {env['cores']} cores, {THREADS} threads, onnxruntime "
          f"{env['onnxruntime']} {env['providers'][0]}; prompt {prompt_tokens} tokens, "
          f"{DECODE_TOKENS} decoded, median of {args.runs} (1 warm-up)")
    print(f"{'runtime':<34} {'TTFT p50 ms':>12} {'TTFT p95 ms':>12} {'decode tok/s':>13}")
    for name, row in rows.items():
        print(f"{name:<34} {row['ttft_ms_p50']:>12.0f} {row['ttft_ms_p95']:>12.0f} "
              f"{row['decode_tps']:>13.1f}")
    base = rows.get("llama-cpp-python Q4_1 (baseline)")
    if base:
        ours = rows[f"npc-runtime onnx {args.precision}"]
        print(f"ratio vs llama.cpp: TTFT x{ours['ttft_ms_p50'] / base['ttft_ms_p50']:.2f} "
              f"(lower is better), decode x{ours['decode_tps'] / base['decode_tps']:.2f} "
              "(higher is better)")


if __name__ == "__main__":
    main()
