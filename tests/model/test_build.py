"""The model folder: manifest, reuse, and clear errors for missing or corrupt models."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from npc_runtime.errors import ModelCorruptError, ModelNotFoundError
from npc_runtime.model.build import build_model, source_from_path
from npc_runtime.model.loader import load_model
from npc_runtime.model.manifest import Manifest, verify_hashes


def test_manifest_describes_the_built_model(tiny_model_dir: Path) -> None:
    """The manifest names the source, precision, hashes, template and stop tokens."""
    manifest = Manifest.read(tiny_model_dir)
    assert manifest.precision == "fp32"
    assert manifest.source["kind"] == "hf"
    assert set(manifest.files) == {"model.onnx", "model.onnx.data", "tokenizer.json"}
    assert (manifest.kv_heads, manifest.head_dim) == (2, 16)
    assert "<|im_start|>" in manifest.chat_template
    assert manifest.stop_strings == ["<|im_end|>"]
    verify_hashes(tiny_model_dir, manifest)


def test_unchanged_source_is_not_rebuilt(tiny_model_dir: Path) -> None:
    """Building again with the same source returns the existing folder untouched."""
    before = (tiny_model_dir / "model.onnx").stat().st_mtime_ns
    source = source_from_path(tiny_model_dir.parent / "hf")
    build_model(source, tiny_model_dir, precision="fp32", progress=lambda _: None)
    assert (tiny_model_dir / "model.onnx").stat().st_mtime_ns == before


def test_int4_and_int8_builds_load_and_run(tmp_path: Path, tiny_model_dir: Path) -> None:
    """Quantized builds are valid models with the same interface."""
    source = source_from_path(tiny_model_dir.parent / "hf")
    for precision in ("int4", "int8"):
        out = tmp_path / precision
        build_model(source, out, precision=precision, progress=lambda _: None)
        model = load_model(out, threads=1)
        logits, cache = model.runner.forward([1, 2, 3], model.runner.empty_cache())
        assert cache.length == 3
        assert logits.shape == (model.tokenizer._tokenizer.get_vocab_size(),)


def test_missing_folder_names_it_and_the_fix(tmp_path: Path) -> None:
    """A missing model folder is reported with its path and the rebuild command."""
    with pytest.raises(ModelNotFoundError, match=r"does not exist.*npc-runtime model build"):
        load_model(tmp_path / "nope")


def test_truncated_model_is_reported_as_corrupt(tmp_path: Path, tiny_model_dir: Path) -> None:
    """A truncated model.onnx is caught before onnxruntime sees it."""
    copy = tmp_path / "copy"
    shutil.copytree(tiny_model_dir, copy)
    with (copy / "model.onnx").open("r+b") as fh:
        fh.truncate(100)
    with pytest.raises(ModelCorruptError, match=r"model\.onnx has 100 bytes.*model build"):
        load_model(copy)


def test_garbage_model_file_is_reported_as_corrupt(tmp_path: Path, tiny_model_dir: Path) -> None:
    """Right size, wrong bytes: onnxruntime's failure becomes a ModelCorruptError."""
    copy = tmp_path / "copy"
    shutil.copytree(tiny_model_dir, copy)
    size = (copy / "model.onnx").stat().st_size
    (copy / "model.onnx").write_bytes(b"\x00" * size)
    with pytest.raises(ModelCorruptError, match="cannot load"):
        load_model(copy)
    with pytest.raises(ModelCorruptError, match="hash mismatch"):
        verify_hashes(copy, Manifest.read(copy))


def test_folder_without_manifest_is_an_interrupted_build(tmp_path: Path) -> None:
    """An empty folder says it lacks a manifest and how to rebuild."""
    with pytest.raises(ModelCorruptError, match=r"no manifest\.json.*model build"):
        load_model(tmp_path)
