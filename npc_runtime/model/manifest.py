"""
The model folder's manifest: what a built model is, where it came from, how to talk to it.

A model folder holds ``model.onnx`` (a causal LM with KV-cache inputs; weights in
``model.onnx.data``), ``tokenizer.json`` and ``manifest.json``. The manifest is written
last, so a folder without one is an interrupted build.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

from npc_runtime.errors import ModelCorruptError, ModelNotFoundError

MANIFEST_NAME = "manifest.json"
FORMAT_VERSION = 2
REBUILD_HINT = "rebuild it with `npc-runtime model build --force`"


@dataclasses.dataclass(frozen=True)
class FileRecord:
    """Size and content hash of one file in the model folder."""

    bytes: int
    sha256: str


@dataclasses.dataclass(frozen=True)
class Manifest:
    """Everything the runtime needs to know about a built model folder."""

    name: str
    precision: str  # int4 | int8 | fp32
    source: dict[str, str]  # kind ("gguf" | "hf"), path, sha256 of the source
    files: dict[str, FileRecord]
    chat_template: str  # Jinja, Hugging Face conventions (messages, add_generation_prompt)
    eos_token_ids: list[int]  # any of these ends the NPC's turn
    stop_strings: list[str]  # text that ends the turn if the model writes it out
    context_length: int
    built_with: dict[str, str]
    kv_heads: int  # the graph leaves KV shapes symbolic; these size an empty cache
    head_dim: int
    device: str = "cpu"  # the execution provider the graph was built for
    format: int = FORMAT_VERSION
    # A persona model (``model tune``): the base model, the world and its version, the
    # training data's hash and the training settings; None for a model built as released.
    tuned: dict[str, Any] | None = None

    def to_json(self) -> str:
        """Serialise for ``manifest.json``."""
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def read(cls, model_dir: Path) -> Manifest:
        """
        Read and sanity-check ``model_dir/manifest.json`` and the files it lists.

        Checks existence and sizes (cheap); :func:`verify_hashes` checks contents.

        Raises:
            ModelNotFoundError: The folder does not exist.
            ModelCorruptError: The manifest is missing or malformed, or a file is missing
                or has the wrong size.
        """
        if not model_dir.is_dir():
            raise ModelNotFoundError(f"model folder {model_dir} does not exist; {REBUILD_HINT}")
        path = model_dir / MANIFEST_NAME
        try:
            raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            if raw.get("format") != FORMAT_VERSION:
                raise ValueError(f"format {raw.get('format')!r}, expected {FORMAT_VERSION}")
            raw["files"] = {k: FileRecord(**v) for k, v in raw["files"].items()}
            manifest = cls(**raw)
        except FileNotFoundError as exc:
            raise ModelCorruptError(
                f"model folder {model_dir} has no {MANIFEST_NAME} (interrupted build?); "
                f"{REBUILD_HINT}"
            ) from exc
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ModelCorruptError(f"{path} is malformed ({exc}); {REBUILD_HINT}") from exc
        for name, record in manifest.files.items():
            check_file(model_dir / name, record, REBUILD_HINT)
        return manifest


def check_file(file: Path, record: FileRecord, hint: str, *, check_hash: bool = False
               ) -> None:
    """
    Raises:
        ModelCorruptError: ``file`` is missing, has another size than ``record`` or (with
            ``check_hash``) other content; the message ends with ``hint``.
    """
    size = file.stat().st_size if file.is_file() else -1
    if size != record.bytes:
        state = "is missing" if size < 0 else f"has {size} bytes, expected {record.bytes}"
        raise ModelCorruptError(f"{file} {state}; {hint}")
    if check_hash and sha256_of(file) != record.sha256:
        raise ModelCorruptError(f"{file} is corrupt (hash mismatch); {hint}")


def file_record(path: Path) -> FileRecord:
    """Hash one file for the manifest."""
    return FileRecord(bytes=path.stat().st_size, sha256=sha256_of(path))


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def verify_hashes(model_dir: Path, manifest: Manifest) -> None:
    """
    Check every listed file's SHA-256.

    Raises:
        ModelCorruptError: A file's content differs from what was built.
    """
    for name, record in manifest.files.items():
        check_file(model_dir / name, record, REBUILD_HINT, check_hash=True)
