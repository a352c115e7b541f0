"""
Cost of one batched decode step as rows are added: is the model or the server the limit?

Prefills one persona-sized prompt per row, joins the rows into a DecodeBatch and times
``step`` (one token for every row) for 1, 2, 4, 8 and 16 rows. Prints ms per step and
aggregate tokens/s; compare with the c1/c4/c16 figures of latency.py, which include
gRPC, scheduling and prefill.

    python benchmarks/batch_scaling.py [--device cuda --model DIR]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from npc_runtime.config import EXAMPLE_WORLD, Settings
from npc_runtime.dialogue.prompt import build_messages, persona_card
from npc_runtime.logs import configure_logging
from npc_runtime.lore.knowledge import view
from npc_runtime.lore.loader import load_world
from npc_runtime.model.batch import DecodeBatch
from npc_runtime.model.build import build_model, default_source, model_dir_for
from npc_runtime.model.loader import load_model

STEPS = 32
THREADS = 2


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--model", type=Path, help="a built model folder (default: int4)")
    args = parser.parse_args()
    configure_logging("console", "warning")
    model_dir = args.model
    if model_dir is None:
        model_dir = model_dir_for(Settings.load().cache_dir, default_source(), "int4")
        build_model(default_source(), model_dir, precision="int4", progress=lambda _: None)
    model = load_model(model_dir, device=args.device, threads=THREADS)
    world = load_world(EXAMPLE_WORLD)
    card = persona_card(world, view(world, "maren"))
    prompt = model.tokenizer.encode(model.tokenizer.render(
        build_messages(card, "x", [("user", "How much for a room, and is there anything hot?")])))
    print(f"# {model.runner.providers[0]}, prompt {len(prompt)} tokens, {STEPS} steps")
    print(f"{'rows':>5} {'ms/step':>9} {'tok/s':>9}")
    for rows in (1, 2, 4, 8, 16):
        batch = DecodeBatch(model.runner)
        tokens = {}
        for _ in range(rows):
            logits, cache = model.runner.forward(prompt, model.runner.empty_cache())
            tokens[batch.join(cache)] = int(np.argmax(logits))
        batch.step(tokens)  # warm-up
        times = []
        for _ in range(STEPS):
            started = time.perf_counter()
            logits_by_row = batch.step(tokens)
            times.append(time.perf_counter() - started)
            tokens = {h: int(np.argmax(lg)) for h, lg in logits_by_row.items()}
        ms = statistics.median(times) * 1000
        print(f"{rows:>5} {ms:>9.2f} {rows * 1000 / ms:>9.0f}")


if __name__ == "__main__":
    main()
