"""
Latency benchmark of the default model, with the llama.cpp baseline from the same run.

Scenarios (p50/p95 over RUNS, one warm-up excluded):
- cold: a new session, nothing cached (our server's KV pool cleared first);
- new session: the first turn of a new session, the NPC prefix already cached;
- warm turn: a ~30-token player line in an ongoing session (its KV kept);
- decode: tokens/s at batch 1 (exactly DECODE_TOKENS tokens, end-of-turn ignored);
- concurrency 1/4/16: sessions talking at once over real gRPC (aggregate tokens/s,
  p95 time to first token); peak server RSS.
Ours runs as a real `npc-runtime serve` process; TTFTs are client-side over gRPC.
The baseline is llama-cpp-python on the same GGUF weights, reusing its KV for the longest
common prefix as its users do (LLMUnity, NobodyWho), serving requests one at a time.

    python benchmarks/latency.py [--baseline llamacpp] [--runs 5] [--json] [--quality]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime

if not __package__:  # run as a script: its sibling modules import from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.machine_load import peak_rss_mb
from npc_runtime.config import EXAMPLE_WORLD, Settings
from npc_runtime.dialogue.prompt import build_messages, persona_card
from npc_runtime.logs import configure_logging
from npc_runtime.lore.knowledge import view
from npc_runtime.lore.loader import load_world
from npc_runtime.model.build import build_model, default_source, model_dir_for
from npc_runtime.model.generate import Generation, SamplingParams
from npc_runtime.model.loader import LoadedModel, load_model
from npc_runtime.server.client import DialogueClient

# Knobs.
NPC = "maren"
OPENING = "Evening. I've walked all day; how much for a room, and is there anything hot to eat?"
FOLLOW_UPS = [  # ~30 tokens each
    "That sounds fine. Tell me, what happened to the old bell tower up the hill?",
    "And the noises I heard below the floor last night, what were those about?",
    "Right. Could you give me a key to the room then, and a bowl of that stew?",
    "One more thing: is anyone in town looking for help with anything these days?",
]
DECODE_TOKENS = 64
REPLY_TOKENS = 32  # per request in the concurrency scenarios
THREADS = 2
QUALITY_PROMPTS = ["How much is a room?", "What happened to the bell?", "Tell me about Tobin."]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def p50(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


# --- our server, as a real process ------------------------------------------------------

class Server:
    def __init__(self, model_dir: Path, device: str) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        # Its log goes to a file: a pipe nobody reads fills up and blocks the server.
        self.log = Path(f"/tmp/npc-latency-{os.getpid()}.log")
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "npc_runtime", "serve", "--model", str(model_dir),
                 "--port", str(self.port), "--threads", str(THREADS), "--no-watch",
                 "--device", device,
                 "--max-new-tokens", str(DECODE_TOKENS), "--log-level", "warning"],
                stdout=subprocess.DEVNULL, stderr=log, text=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with DialogueClient("127.0.0.1", self.port) as client:
                    client.close_session(client.open_session(NPC)[0])
                return
            except Exception:
                time.sleep(0.3)
        raise SystemExit("server did not start: " + self.log.read_text()[-2000:])

    def rss_mb(self) -> float:
        return peak_rss_mb(self.process.pid)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(30)


def bench_ours(server: Server, runs: int) -> dict[str, Any]:
    """TTFT is the time to the first released sentence. A reply that tells no fact (the
    cellar's noises are a secret at the start: refused) is said as written, without the
    model: the warm figures are given over every line and over the lines the model spoke,
    the one to set beside llama.cpp's."""
    cold, new, warm, spoken = [], [], [], []
    with DialogueClient("127.0.0.1", server.port) as client:
        for i in range(runs + 1):
            # The first session after start is cold (nothing cached, no --warm); later ones
            # have other player names, which are not part of the shared NPC prefix.
            session, _ = client.open_session(NPC, f"player{i}")
            first = client.say(session, OPENING, tool_choice="none",
                               max_new_tokens=REPLY_TOKENS)
            (new if i else cold).append(first.ttft_ms)
            for line in FOLLOW_UPS[:2]:
                reply = client.say(session, line, tool_choice="none",
                                   max_new_tokens=REPLY_TOKENS)
                if i:  # the first session's turns warm up
                    warm.append(reply.ttft_ms)
                    if reply.tokens:
                        spoken.append(reply.ttft_ms)
            client.close_session(session)
    return {"cold_ttft_ms": cold[0], "new_session_ttft_ms_p50": p50(new[1:] or new),
            "warm_ttft_ms_p50": p50(warm), "warm_ttft_ms_p95": percentile(warm, 0.95),
            "warm_spoken_ttft_ms_p50": p50(spoken) if spoken else 0.0,
            "warm_spoken_share": len(spoken) / len(warm)}


def bench_concurrency(server: Server, sessions: int) -> dict[str, Any]:
    def one(i: int) -> tuple[float, int]:
        with DialogueClient("127.0.0.1", server.port) as client:
            session, _ = client.open_session(NPC, f"c{i}")
            reply = client.say(session, FOLLOW_UPS[i % len(FOLLOW_UPS)], tool_choice="none",
                               max_new_tokens=REPLY_TOKENS)
            client.close_session(session)
            return reply.ttft_ms, reply.tokens

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(sessions) as pool:
        results = list(pool.map(one, range(sessions)))
    wall = time.perf_counter() - started
    return {"tokens_per_s": sum(t for _, t in results) / wall,
            "ttft_ms_p95": percentile([t for t, _ in results], 0.95),
            "tokens": [t for _, t in results]}


def bench_decode(model: LoadedModel, prompt: list[int], runs: int) -> float:
    rates = []
    for i in range(runs + 1):
        generation = iter(Generation(model.runner, prompt, SamplingParams(DECODE_TOKENS),
                                     frozenset()))
        next(generation)
        first = time.perf_counter()
        count = 1 + sum(1 for _ in generation)
        if i:
            rates.append((count - 1) / (time.perf_counter() - first))
    return p50(rates)


# --- the llama.cpp baseline --------------------------------------------------------------

class LlamaCpp:
    def __init__(self, gguf: Path) -> None:
        import llama_cpp

        self.llm = llama_cpp.Llama(model_path=str(gguf), n_ctx=4096, n_threads=THREADS,
                                   n_threads_batch=THREADS, verbose=False)

    def tokens(self, text: str) -> list[int]:
        return list(self.llm.tokenize(text.encode(), add_bos=False, special=True))

    def reply(self, prompt: list[int], n: int) -> tuple[float, list[int]]:
        """Greedy reply of n tokens, reusing the longest cached prefix; (ttft_ms, tokens)."""
        started = time.perf_counter()
        out: list[int] = []
        ttft = 0.0
        # generate() (reset=True) keeps the longest common prefix of the cached tokens.
        for token in self.llm.generate(prompt, top_k=1, temp=0.0):
            ttft = ttft or (time.perf_counter() - started) * 1000
            out.append(int(token))
            if len(out) == n:
                break
        return ttft, out


def bench_llamacpp(base: LlamaCpp, render: Any, runs: int,
                   concurrency_tokens: dict[int, list[int]]) -> dict[str, Any]:
    def text(tokens: list[int]) -> str:
        return base.llm.detokenize(tokens).decode(errors="ignore").split("\n")[0].strip()

    base.llm.reset()
    cold, _ = base.reply(base.tokens(render("cold", [], OPENING)), REPLY_TOKENS)
    # New sessions share the NPC prefix with the previous prompt, which llama.cpp reuses.
    new = [base.reply(base.tokens(render(f"p{i}", [], OPENING)), REPLY_TOKENS)[0]
           for i in range(runs + 1)][1:]
    # Warm turns: one conversation goes on; everything before the new line is reused.
    warm: list[float] = []
    history: list[tuple[str, str]] = []
    for i in range(runs + 2):
        line = FOLLOW_UPS[i % len(FOLLOW_UPS)]
        ttft, out = base.reply(base.tokens(render("w", history, line)), REPLY_TOKENS)
        warm.append(ttft)
        history += [("user", line), ("assistant", text(out))]
    rates = []
    for _ in range(runs):
        base.llm.reset()
        started = time.perf_counter()
        ttft, _ = base.reply(base.tokens(render("d", [], OPENING)), DECODE_TOKENS)
        rates.append((DECODE_TOKENS - 1) / (time.perf_counter() - started - ttft / 1000))
    result: dict[str, Any] = {"cold_ttft_ms": cold, "new_session_ttft_ms_p50": p50(new),
                              "warm_ttft_ms_p50": p50(warm[2:]), "decode_tps": p50(rates)}
    for sessions, tokens in concurrency_tokens.items():
        # One context serves the requests in arrival order, as a game's llama.cpp would;
        # each request produces as many tokens as ours did for it.
        started = time.perf_counter()
        ttfts = []
        for i, count in enumerate(tokens):
            queued = (time.perf_counter() - started) * 1000
            ttft, _ = base.reply(base.tokens(render(f"c{i}", [], FOLLOW_UPS[i % 4])),
                                 max(count, 1))
            ttfts.append(queued + ttft)
        result[f"c{sessions}_tokens_per_s"] = sum(tokens) / (time.perf_counter() - started)
        result[f"c{sessions}_ttft_ms_p95"] = percentile(ttfts, 0.95)
    return result


# --- quality of the quantized weights ----------------------------------------------------

def quality(settings: Settings, prompts: list[list[int]]) -> dict[str, float]:
    """Quantization loss of int8 and int4 against fp32 (see ``agreement``)."""
    source = default_source()
    models: dict[str, LoadedModel] = {}
    for precision in ("fp32", "int8", "int4"):
        folder = model_dir_for(settings.cache_dir, source, precision)
        build_model(source, folder, precision=precision, progress=lambda _: None)
        models[precision] = load_model(folder, threads=THREADS)
    out = {}
    for precision in ("int8", "int4"):
        for name, value in agreement(models["fp32"], models[precision], prompts).items():
            out[f"{precision}_{name}"] = value
    return out


def agreement(reference: LoadedModel, model: LoadedModel, prompts: list[list[int]]
              ) -> dict[str, float]:
    """
    How closely ``model`` follows ``reference``, two ways: how long greedy replies stay
    identical (fraction of DECODE_TOKENS before the first difference), and top-1
    agreement when fed the reference's greedy reply (teacher forcing), token by token.
    """
    prefix, top1 = [], []
    for prompt in prompts:
        ref = list(Generation(reference.runner, prompt, SamplingParams(DECODE_TOKENS),
                              frozenset()))
        got = list(Generation(model.runner, prompt, SamplingParams(DECODE_TOKENS), frozenset()))
        same = next((i for i, (a, b) in enumerate(zip(ref, got, strict=False)) if a != b),
                    len(ref))
        prefix.append(same / len(ref))
        logits, cache = model.runner.forward(prompt, model.runner.empty_cache())
        hits = 0
        for token in ref:
            hits += int(np.argmax(logits)) == token
            logits, cache = model.runner.forward([token], cache)
        top1.append(hits / len(ref))
    return {"greedy_prefix_agreement": float(np.mean(prefix)),
            "teacher_forced_top1": float(np.mean(top1))}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--baseline", choices=["none", "llamacpp"], default="none")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quality", action="store_true",
                        help="also build int8/fp32 and print greedy agreement with fp32")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                        help="where our runtime runs (cuda: pass a CUDA-built --model)")
    parser.add_argument("--model", type=Path,
                        help="a built model folder (default: the default model, int4 for CPU)")
    parser.add_argument("--reference", type=Path,
                        help="a model folder to measure --model's agreement against")
    args = parser.parse_args()
    configure_logging("console", "warning")

    settings = Settings.load()
    model_dir = args.model
    if model_dir is None:
        model_dir = model_dir_for(settings.cache_dir, default_source(), "int4")
        build_model(default_source(), model_dir, precision="int4", progress=lambda _: None)
    model = load_model(model_dir, device=args.device, threads=THREADS)
    world = load_world(EXAMPLE_WORLD)
    card = persona_card(world, view(world, NPC))

    def render(player: str, history: list[tuple[str, str]], line: str) -> str:
        return model.tokenizer.render(build_messages(card, player, [*history, ("user", line)]))

    server = Server(model_dir, args.device)
    try:
        ours = bench_ours(server, args.runs)
        concurrency = {n: bench_concurrency(server, n) for n in (1, 4, 16)}
        rss = server.rss_mb()
    finally:
        server.stop()
    ours["decode_tps"] = bench_decode(model, model.tokenizer.encode(render("x", [], OPENING)),
                                      args.runs)
    report: dict[str, Any] = {
        "env": {"cpu": platform.processor() or _cpu(), "cores": os.cpu_count(),
                "threads": THREADS, "onnxruntime": onnxruntime.__version__,
                "providers": model.runner.providers, "runs": args.runs},
        "warm_ttft_ms_p50": ours["warm_ttft_ms_p50"],
        "warm_spoken_ttft_ms_p50": ours["warm_spoken_ttft_ms_p50"],
        "warm_spoken_share": ours["warm_spoken_share"],
        "new_session_ttft_ms_p50": ours["new_session_ttft_ms_p50"],
        "cold_ttft_ms": ours["cold_ttft_ms"],
        "decode_tps": ours["decode_tps"],
        "rss_mb": rss,
        **{f"c{n}_tokens_per_s": c["tokens_per_s"] for n, c in concurrency.items()},
        **{f"c{n}_ttft_ms_p95": c["ttft_ms_p95"] for n, c in concurrency.items()},
    }
    if args.baseline == "llamacpp":
        base = bench_llamacpp(LlamaCpp(default_source().path), render, args.runs,
                              {n: c["tokens"] for n, c in concurrency.items()})
        report.update({f"base_{k}": v for k, v in base.items()})
    if args.quality:
        prompts = [model.tokenizer.encode(render("x", [], q)) for q in QUALITY_PROMPTS]
        report["quality"] = quality(settings, prompts)
    if args.reference:
        prompts = [model.tokenizer.encode(render("x", [], q)) for q in QUALITY_PROMPTS]
        reference = load_model(args.reference, device=args.device, threads=THREADS)
        report["quality_vs_reference"] = agreement(reference, model, prompts)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print_table(report)


def _cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def _print_table(r: dict[str, Any]) -> None:
    e = r["env"]
    print(f"# {e['cpu']}, {e['cores']} cores, {e['threads']} threads, onnxruntime "
          f"{e['onnxruntime']} {e['providers'][0]}, median of {e['runs']} (warm-up excluded)")
    rows = [("cold TTFT ms", "cold_ttft_ms"),
            ("new session TTFT p50 ms", "new_session_ttft_ms_p50"),
            ("warm turn TTFT p50 ms", "warm_ttft_ms_p50"),
            ("warm, model spoke, TTFT p50", "warm_spoken_ttft_ms_p50"),  # vs llama.cpp's warm
            ("decode tok/s", "decode_tps"),
            ("c1 tok/s", "c1_tokens_per_s"), ("c4 tok/s", "c4_tokens_per_s"),
            ("c16 tok/s", "c16_tokens_per_s"), ("c16 TTFT p95 ms", "c16_ttft_ms_p95"),
            ("server peak RSS MB", "rss_mb")]
    print(f"{'metric':<28} {'npc-runtime':>12} {'llama.cpp':>12} {'ratio':>7}")
    for label, key in rows:
        ours = r.get(key)
        base = r.get(f"base_{key.replace('warm_spoken', 'warm')}")
        ratio = f"{ours / base:.2f}" if isinstance(base, float) and base else ""
        base_s = f"{base:.1f}" if isinstance(base, float) else "-"
        print(f"{label:<28} {ours:>12.1f} {base_s:>12} {ratio:>7}")
    for k, v in r.get("quality", {}).items():
        print(f"{k}: {v:.2f}")


if __name__ == "__main__":
    main()
