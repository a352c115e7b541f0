"""
The CUDA path: KV buffers stay on the GPU and give the same results as on the host.

Skipped on machines without onnxruntime-gpu and an NVIDIA GPU (CI); run on one with
``pytest tests/model/test_cuda.py`` (see benchmarks/gpu_check.sh).
"""

from __future__ import annotations

import numpy as np
import pytest

from npc_runtime.model.generate import Generation, SamplingParams
from npc_runtime.model.kv_tensor import CudaTensor, HostTensor
from npc_runtime.model.loader import LoadedModel
from npc_runtime.testing import greedy_in_batch

LINES = ["A room?", "Any stew tonight, and how much is it?", "Bell?"]


def _prompt(model: LoadedModel, line: str) -> list[int]:
    return model.tokenizer.encode_chat([("system", "You keep an inn."), ("user", line)])


def test_device_tensor_operations_match_the_host(tiny_cuda_model: LoadedModel) -> None:
    """Row views, token copies (host->GPU, GPU->GPU) and zeroing act as numpy does."""
    del tiny_cuda_model  # only for the skip and the loaded CUDA runtime
    rng = np.random.default_rng(0)
    values = rng.standard_normal((3, 2, 8, 4)).astype(np.float16)
    host = HostTensor(values.copy())
    device = CudaTensor.zeros((3, 2, 8, 4), np.float16)
    assert not device.numpy().any()
    device.copy_tokens(host, 5)
    expected = np.zeros_like(values)
    expected[:, :, :5] = values[:, :, :5]
    np.testing.assert_array_equal(device.numpy(), expected)
    wider = device.alike(2, 16)
    wider.rows(1, 2).copy_tokens(device.rows(2, 3), 5)  # GPU to GPU, different capacity
    np.testing.assert_array_equal(wider.numpy()[1, :, :5], values[2, :, :5])
    assert not wider.numpy()[0].any()
    assert not wider.numpy()[1, :, 5:].any()
    device.rows(1, 2).zero()
    assert not device.numpy()[1].any()
    assert device.numpy()[0].any()


def test_kv_stays_on_the_gpu_and_batched_equals_unbatched(tiny_cuda_model: LoadedModel
                                                          ) -> None:
    """Greedy decoding in a batch on the GPU gives each row its solo tokens."""
    runner = tiny_cuda_model.runner
    assert runner.device == "cuda"
    steps = 10
    solo = [list(Generation(runner, _prompt(tiny_cuda_model, line),
                            SamplingParams(max_new_tokens=steps), frozenset()))
            for line in LINES]
    got, batch = greedy_in_batch(runner, [_prompt(tiny_cuda_model, line) for line in LINES],
                                 steps)
    assert got == solo
    assert all(isinstance(t, CudaTensor) for t in batch._tensors)
    left = batch.leave(0)
    assert isinstance(left.tensors[0], CudaTensor)


def test_gpu_logits_match_cpu(tiny_cuda_model: LoadedModel, tiny_model: LoadedModel) -> None:
    """The fp16 GPU graph computes what the fp32 CPU graph does, to fp16 precision."""
    ids = _prompt(tiny_model, LINES[1])
    cpu, cpu_cache = tiny_model.runner.forward(ids, tiny_model.runner.empty_cache())
    gpu, gpu_cache = tiny_cuda_model.runner.forward(ids, tiny_cuda_model.runner.empty_cache())
    np.testing.assert_allclose(gpu, cpu, atol=3e-2, rtol=3e-2)
    token = int(np.argmax(cpu))
    cpu, _ = tiny_model.runner.forward([token], cpu_cache)
    gpu, _ = tiny_cuda_model.runner.forward([token], gpu_cache)
    np.testing.assert_allclose(gpu, cpu, atol=3e-2, rtol=3e-2)


@pytest.mark.parametrize("covered", [0, 7])
def test_rewind_on_the_gpu_regenerates_the_same_tokens(tiny_cuda_model: LoadedModel,
                                                       covered: int) -> None:
    """Rewinding a GPU cache and running the same tokens again gives the same logits."""
    runner = tiny_cuda_model.runner
    ids = _prompt(tiny_cuda_model, LINES[0])
    first, cache = runner.forward(ids, runner.empty_cache())
    runner.forward([int(np.argmax(first))], cache)
    again, _ = runner.forward(ids[covered:], cache.rewind(covered))
    np.testing.assert_allclose(again, first, atol=1e-3, rtol=1e-3)
