"""
Roofline for batch-1 decode on this machine: how fast can any runtime go?

Each generated token reads every weight once (batch 1, no reuse across tokens), so decode
is bounded by memory bandwidth: tokens/s <= bandwidth / bytes of weights read per token.
Prints the measured copy bandwidth, the bytes per token of our int4 graph and of the
llama.cpp Q4_1 GGUF, and the resulting ceilings next to what benchmarks/latency.py
measures. Also the compute bound (2 FLOPs per parameter per token). Measured on the
reference machine: 25 GB/s, ceilings ~290 tok/s (ours) and ~260 (llama.cpp), while both
decode at ~95-105 tok/s: the 1.3x target is not excluded by physics; per-step overhead is
what to remove.

    python benchmarks/roofline.py
"""

from __future__ import annotations

import os
import time

import numpy as np

from npc_runtime.config import Settings
from npc_runtime.model.build import default_source, model_dir_for

# Knobs.
COPY_MB = 512  # larger than any cache, so the copy measures DRAM
REPEATS = 7
PARAMS = 134.5e6  # SmolLM2-135M
THREADS = 2


def copy_bandwidth_gb_s() -> float:
    """Best of REPEATS: bytes read + bytes written per second for a large copy."""
    src = np.ones(COPY_MB << 18, dtype=np.float32)  # COPY_MB MiB
    dst = np.empty_like(src)
    best = float("inf")
    for _ in range(REPEATS):
        started = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - started)
    return 2 * src.nbytes / best / 1e9


def main() -> None:
    settings = Settings.load()
    source = default_source()
    model_dir = model_dir_for(settings.cache_dir, source, "int4")
    ours = sum(p.stat().st_size for p in model_dir.glob("model.onnx*"))
    gguf = source.path.stat().st_size
    bandwidth = copy_bandwidth_gb_s()
    print(f"cores {os.cpu_count()}, copy bandwidth {bandwidth:.1f} GB/s (read+write, 1 thread)")
    for name, size in (("npc-runtime int4 graph", ours), ("llama.cpp Q4_1 GGUF", gguf)):
        print(f"{name:<24} {size / 2**20:6.1f} MiB/token -> ceiling "
              f"{bandwidth * 1e9 / size:6.0f} tok/s")
    print(f"compute: {2 * PARAMS / 1e9:.2f} GFLOP/token; at 16 FP32 FLOPs/cycle/core (AVX2 "
          f"FMA) x {THREADS} cores x 3 GHz = {16 * THREADS * 3:.0f} GFLOP/s -> "
          f"{16 * THREADS * 3e9 / (2 * PARAMS):.0f} tok/s")
    print("A runtime decoding well below both ceilings is bound by overhead (per-op dispatch,"
          " KV copies, the Python loop), not by the hardware.")


if __name__ == "__main__":
    main()
