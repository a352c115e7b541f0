#!/usr/bin/env bash
# The CUDA checks as one run on a machine with an NVIDIA GPU: the CUDA tests, then the
# latency benchmark with our runtime on the GPU (no llama.cpp baseline there).
#
# Needs onnxruntime-gpu (CUDA 13 build) importable, the nvidia-* CUDA/cuDNN wheels (a CUDA
# build of PyTorch brings them), a CUDA-built model and the tiny test models:
#   npc-runtime model build --target cuda --precision int4 --out DIR
#   python -c 'from npc_runtime.testing import build_tiny_model as b; from pathlib import Path as P;
#              b(P("t"), precision="fp16", device="cuda"); b(P("t"))'
# Usage: benchmarks/gpu_check.sh MODEL_DIR TINY_CUDA_DIR TINY_CPU_DIR
set -euo pipefail
model=$1
export NPC_TEST_CUDA_TINY_MODEL=$2 NPC_TEST_TINY_MODEL=$3 PYTHONUNBUFFERED=1
out=${OUT:-.}

# onnxruntime-gpu looks for CUDA and cuDNN on the library path: add every nvidia-* lib folder.
nvidia_libs=$(python3 -c '
import glob, os, site
found = {os.path.dirname(p) for base in site.getsitepackages()
         for p in glob.glob(base + "/nvidia/**/lib*.so*", recursive=True)}
print(":".join(sorted(found)))')
export LD_LIBRARY_PATH=$nvidia_libs:${LD_LIBRARY_PATH:-}

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
python3 -c 'import onnxruntime as o; print("onnxruntime", o.__version__, o.get_available_providers())'
python3 -m pytest -q -p no:cacheprovider tests/model/test_cuda.py 2>&1 | tee "$out/gpu_tests.log"
python3 benchmarks/latency.py --device cuda --model "$model" --runs 5 --json \
    | tee "$out/gpu_latency.json"
