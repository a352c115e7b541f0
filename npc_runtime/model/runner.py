"""
The ONNX causal LM: one onnxruntime session and its KV cache.

Only this module and ``kv_tensor`` (where KV buffers live) import onnxruntime. The
graph (from the onnxruntime-genai builder, or any export with the same names) takes
``input_ids``, ``attention_mask``, optionally ``position_ids``, and
``past_key_values.{i}.key|value``; it returns ``logits`` and ``present.{i}.key|value``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort
import structlog

from npc_runtime.errors import ModelCorruptError
from npc_runtime.model import kv_tensor
from npc_runtime.model.kv_tensor import KVTensor
from npc_runtime.model.manifest import REBUILD_HINT

log = structlog.get_logger(__name__)

_ORT_TYPES: dict[str, type[np.generic]] = {"tensor(float)": np.float32,
                                            "tensor(float16)": np.float16}


CAPACITY_STEP = 256  # KV buffers grow in chunks of this many tokens


class KVCache:
    """
    The attention keys and values of one sequence's first ``length`` tokens.

    The buffers have room for ``capacity`` tokens: GroupQueryAttention writes each new
    token's keys and values in place (the same buffer is bound as past and present), so a
    decode step copies nothing and allocates nothing. Mutable: a cache belongs to one
    sequence at a time; shared prefixes are copied before use.
    """

    def __init__(self, tensors: list[KVTensor], length: int) -> None:
        self.tensors = tensors  # per past input, session order: [1, kv_heads, capacity, head_dim]
        self.length = length

    @property
    def capacity(self) -> int:
        """Tokens the buffers can hold before they must grow."""
        return self.tensors[0].shape[2] if self.tensors else 0

    @property
    def nbytes(self) -> int:
        """Memory held by the buffers."""
        return sum(t.nbytes for t in self.tensors)

    def rewind(self, length: int) -> KVCache:
        """Forget every token after the first ``length`` (no copy), e.g. to regenerate."""
        if not 0 <= length <= self.length:
            raise ValueError(f"cannot rewind a {self.length}-token cache to {length}")
        self.length = length
        return self

    def clear(self) -> None:
        """Free the buffers (the tokens live on elsewhere, e.g. in a decode batch row)."""
        self.tensors, self.length = [], 0

    def copy(self, capacity: int = 0, *, lazy: bool = False, start: int = 0) -> KVCache:
        """
        A new cache with this one's tokens from ``start`` on (e.g. all but a shared
        prefix), with room for ``capacity`` tokens (and one more than it holds); without
        ``capacity``, exactly the room it needs (a copy to keep, not to extend).
        """
        kept = self.length - start
        size = _round_up(max(capacity, kept + 1)) if capacity else max(kept, 1)
        tensors = []
        for old in self.tensors:
            new = old.alike(1, size, lazy=lazy)
            new.copy_tokens(old, kept, source_at=start)
            tensors.append(new)
        return KVCache(tensors, kept)


def _round_up(tokens: int) -> int:
    return -(-tokens // CAPACITY_STEP) * CAPACITY_STEP


def choose_providers(device: str) -> list[str]:
    """Execution providers for ``device`` (auto picks CUDA when onnxruntime-gpu has it)."""
    available = ort.get_available_providers()
    if device == "cuda" and "CUDAExecutionProvider" not in available:
        raise ModelCorruptError(
            "device=cuda but this onnxruntime has no CUDA provider; "
            "install npc-runtime[gpu] (onnxruntime-gpu) instead of onnxruntime"
        )
    if device != "cpu" and "CUDAExecutionProvider" in available:
        if hasattr(ort, "preload_dlls"):  # CUDA and cuDNN from the nvidia-* wheels
            ort.preload_dlls()
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


class OnnxCausalLM:
    """Runs forward passes of an exported causal LM, one sequence at a time."""

    # The graph must use GroupQueryAttention (the onnxruntime-genai builder's), which
    # accepts a past buffer larger than the past and writes present into it in place.

    def __init__(self, model_path: Path, *, kv_heads: int, head_dim: int,
                 device: str = "auto", threads: int = 0, spin: bool = True) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or (os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        if not spin:  # workers sleep between ops: slower wake-ups, no core burnt waiting
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self._session = ort.InferenceSession(
                str(model_path), options, providers=choose_providers(device)
            )
        except (ort.capi.onnxruntime_pybind11_state.Fail,
                ort.capi.onnxruntime_pybind11_state.InvalidGraph,
                ort.capi.onnxruntime_pybind11_state.InvalidProtobuf,
                ort.capi.onnxruntime_pybind11_state.NoSuchFile) as exc:
            raise ModelCorruptError(f"cannot load {model_path}: {exc}; {REBUILD_HINT}") from exc
        self.providers: list[str] = self._session.get_providers()
        self.device = "cuda" if self.providers[0] == "CUDAExecutionProvider" else "cpu"
        inputs = {i.name: i for i in self._session.get_inputs()}
        self._past_names = [n for n in inputs if n.startswith("past_key_values.")]
        self._present_names = [n.replace("past_key_values.", "present.") for n in self._past_names]
        if "input_ids" not in inputs or not self._past_names:
            raise ModelCorruptError(
                f"{model_path} is not a causal LM with KV cache inputs; {REBUILD_HINT}"
            )
        first = inputs[self._past_names[0]]
        self._kv_dtype = _ORT_TYPES.get(first.type, np.float32)
        self._kv_heads, self._head_dim = kv_heads, head_dim
        self._has_position_ids = "position_ids" in inputs
        log.info("model_loaded", path=str(model_path), providers=self.providers,
                 layers=len(self._past_names) // 2)

    @property
    def kv_bytes_per_token(self) -> int:
        """Bytes of KV one token of one sequence takes, over every layer."""
        return len(self._past_names) * self._kv_heads * self._head_dim * np.dtype(
            self._kv_dtype).itemsize

    def empty_cache(self, capacity: int = CAPACITY_STEP, *, shareable: bool = False
                    ) -> KVCache:
        """
        A cache holding no tokens, with room for ``capacity``. ``shareable``: for a
        prefix that many sequences start from, whose pages copies may then share (it must
        not be written once copied from; see ``HostTensor.zeros``).
        """
        shape = (1, self._kv_heads, _round_up(max(capacity, 1)), self._head_dim)
        # Zeros, not empty: attention reads the buffer and masks the unused part; garbage
        # there could hold NaNs that survive a zero weight.
        return KVCache([kv_tensor.zeros(self.device, shape, self._kv_dtype, shareable=shareable)
                         for _ in self._past_names], 0)

    def forward(self, token_ids: Sequence[int], cache: KVCache) -> tuple[np.ndarray, KVCache]:
        """
        Run ``token_ids`` after the tokens in ``cache``, extending it in place.

        Returns:
            The logits for the token after the last one (``[vocab]``, float32) and
            ``cache``, now covering ``token_ids`` too (grown first if it had no room).
        """
        n, past = len(token_ids), cache.length
        if past + n > cache.capacity:
            cache.tensors = cache.copy(past + n + CAPACITY_STEP).tensors
        # [1, past + n]: attention derives each token's position and the valid length here
        mask = np.ones((1, past + n), dtype=np.int64)
        logits = self.forward_rows([list(token_ids)], mask, cache.tensors)
        cache.length = past + n
        return logits[0], cache

    def forward_rows(self, token_ids: list[list[int]], attention_mask: np.ndarray,
                     tensors: Sequence[KVTensor]) -> np.ndarray:
        """
        One forward pass over rows of KV buffers, written in place.

        Args:
            token_ids: ``[rows, n]`` new tokens.
            attention_mask: ``[rows, total]``; row r has ones over its past and new tokens.
            tensors: per past input, ``[rows, kv_heads, capacity, head_dim]`` buffers.

        Returns:
            ``[rows, vocab]`` float32 logits for each row's next token.
        """
        binding = self._session.io_binding()
        binding.bind_cpu_input("input_ids", np.asarray(token_ids, dtype=np.int64))
        binding.bind_cpu_input("attention_mask", attention_mask)
        if self._has_position_ids:
            first = attention_mask.sum(axis=1, keepdims=True) - len(token_ids[0])
            binding.bind_cpu_input("position_ids",
                                   first + np.arange(len(token_ids[0]), dtype=np.int64))
        binding.bind_output("logits")  # on the host; first, so it is get_outputs()[0]
        for past, present, tensor in zip(self._past_names, self._present_names, tensors,
                                         strict=True):
            tensor.bind(binding, past, present)
        self._session.run_with_iobinding(binding)
        logits = binding.get_outputs()[0].numpy()  # [rows, 1, vocab]: the graph keeps the last
        return np.asarray(logits[:, -1], dtype=np.float32)
