"""
Sentence embeddings: all-MiniLM-L6-v2 in onnxruntime, for finding facts by meaning.

A player asks "what do I owe you for a bed tonight?" and the fact says "A room at the inn
costs five copper pieces a night": no shared content word, so lexical recall misses it; a
sentence encoder puts both near each other. The folder comes from
``npc-runtime model build-encoder`` (``model/encoder_build.py``); serving needs only
onnxruntime, tokenizers and numpy.

The graph is the plain BERT export (``last_hidden_state``); mean pooling over the attention
mask and L2 normalisation happen here in numpy, as sentence-transformers does for this
model. Rows are unit vectors, so cosine similarity is a dot product.

One session, ``threads`` intra-op threads (1 by default: it runs beside the LM's decode
thread) and no spinning, so an idle encoder costs no CPU. ``embed`` may be called from
several threads at once: onnxruntime's ``run`` is thread-safe, and the tokenizer is only
configured (padding, truncation) at load and read afterwards.

Measured on a 2-core AMD EPYC VM shared with other workers (load ~1.8, so noisy),
onnxruntime 1.32, fp32, threads=1, median (p90) of 50 calls after warm-up:
``embed([one short line])`` 4.4 ms (4.6); ``embed(20 fact sentences)`` (up to 17 tokens each)
76 ms (79). ``load_encoder`` takes 0.24 s, most of it hashing the 86 MB graph.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import structlog
from tokenizers import Tokenizer

from npc_runtime.errors import ModelCorruptError, ModelNotFoundError
from npc_runtime.model.manifest import MANIFEST_NAME, FileRecord, check_file

log = structlog.get_logger(__name__)

ENCODER_KIND = "sentence-encoder"
ENCODER_FORMAT = 1
REBUILD_HINT = "rebuild it with `npc-runtime model build-encoder --force`"
_BATCH = 32  # texts per forward pass: bounds the [batch, seq, 384] activations


@dataclasses.dataclass(frozen=True)
class EncoderManifest:
    """What a built encoder folder holds; ``manifest.json``, written last by the build."""

    name: str
    source: dict[str, str]  # package, version, sha256 of the package's model.zip
    files: dict[str, FileRecord]  # model.onnx, tokenizer.json
    dim: int  # embedding width (384)
    max_seq_length: int  # tokens per text, [CLS] and [SEP] included; longer is truncated
    pooling: str  # "mean": attention-masked mean of last_hidden_state, then L2 norm
    built_with: dict[str, str]
    kind: str = ENCODER_KIND
    format: int = ENCODER_FORMAT

    def to_json(self) -> str:
        """Serialise for ``manifest.json``."""
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def read(cls, folder: Path, *, check_hashes: bool = True) -> EncoderManifest:
        """
        Read ``folder/manifest.json`` and check the files it lists.

        Args:
            folder: An encoder folder.
            check_hashes: Also compare each file's SHA-256 (about 0.2 s for the 90 MB
                graph), not only its size.

        Raises:
            ModelNotFoundError: The folder does not exist.
            ModelCorruptError: The manifest is missing, malformed or not an encoder's, or
                a file is missing, has the wrong size or (``check_hashes``) wrong content.
        """
        if not folder.is_dir():
            raise ModelNotFoundError(
                f"encoder folder {folder} does not exist; build it with `npc-runtime model "
                f"build-encoder --out {folder}` (`npc-runtime model build` builds the default)")
        path = folder / MANIFEST_NAME
        try:
            raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            if raw.get("kind") != ENCODER_KIND:
                raise ValueError(f"kind {raw.get('kind')!r}: not a sentence encoder folder")
            if raw.get("format") != ENCODER_FORMAT:
                raise ValueError(f"format {raw.get('format')!r}, expected {ENCODER_FORMAT}")
            raw["files"] = {k: FileRecord(**v) for k, v in raw["files"].items()}
            manifest = cls(**raw)
        except FileNotFoundError as exc:
            raise ModelCorruptError(f"encoder folder {folder} has no {MANIFEST_NAME} "
                                    f"(interrupted build?); {REBUILD_HINT}") from exc
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ModelCorruptError(f"{path} is malformed ({exc}); {REBUILD_HINT}") from exc
        for name, record in manifest.files.items():
            check_file(folder / name, record, REBUILD_HINT, check_hash=check_hashes)
        return manifest


class SentenceEncoder:
    """Maps texts to unit vectors whose dot product is their similarity in meaning."""

    def __init__(self, session: ort.InferenceSession, tokenizer: Tokenizer,
                 manifest: EncoderManifest) -> None:
        self._session = session
        self._tokenizer = tokenizer
        self.manifest = manifest

    @property
    def dim(self) -> int:
        """Width of each embedding (384 for all-MiniLM-L6-v2)."""
        return self.manifest.dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """
        Embed ``texts``.

        Args:
            texts: The texts; each is truncated to the manifest's ``max_seq_length`` tokens.

        Returns:
            ``[len(texts), dim]`` float32, each row L2-normalised (an empty input gives an
            empty ``[0, dim]`` array).
        """
        if isinstance(texts, str):
            raise TypeError("embed takes a sequence of texts; wrap one line as [line]")
        rows = [self._embed_batch(list(texts[i:i + _BATCH]))
                for i in range(0, len(texts), _BATCH)]
        return np.concatenate(rows) if rows else np.zeros((0, self.dim), dtype=np.float32)

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        # Tokenize: [CLS] text [SEP], padded to the longest in the batch.
        encodings = self._tokenizer.encode_batch(texts)
        feeds = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),  # [batch, seq]
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
        (hidden,) = self._session.run(["last_hidden_state"], feeds)  # [batch, seq, dim]
        return mean_pool(np.asarray(hidden, dtype=np.float32), feeds["attention_mask"])


def mean_pool(hidden: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
    """
    sentence-transformers' mean pooling then L2 normalisation, in numpy.

    Args:
        hidden: ``[batch, seq, dim]`` token states.
        attention_mask: ``[batch, seq]``, 1 on real tokens, 0 on padding.

    Returns:
        ``[batch, dim]`` float32 unit rows.
    """
    mask = attention_mask[:, :, None].astype(np.float32)
    summed = (hidden * mask).sum(axis=1)
    means = summed / np.maximum(mask.sum(axis=1), 1e-9)
    norms = np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-12)
    unit: np.ndarray = (means / norms).astype(np.float32)
    return unit


def load_encoder(folder: Path, threads: int = 1) -> SentenceEncoder:
    """
    Open an encoder folder built by ``npc-runtime model build-encoder``.

    Args:
        folder: The folder (``manifest.json``, ``model.onnx``, ``tokenizer.json``).
        threads: onnxruntime intra-op threads; 1 leaves the other cores to the LM.

    Raises:
        ModelNotFoundError: The folder does not exist.
        ModelCorruptError: Its files are missing, altered or unloadable.
    """
    manifest = EncoderManifest.read(folder)
    tokenizer = _tokenizer(folder / "tokenizer.json", manifest.max_seq_length)
    options = ort.SessionOptions()
    options.intra_op_num_threads = max(threads, 1)
    options.inter_op_num_threads = 1
    # Threads sleep between calls instead of spinning: lookups come once per player line.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    try:
        session = ort.InferenceSession(str(folder / "model.onnx"), options,
                                       providers=["CPUExecutionProvider"])
    except (ort.capi.onnxruntime_pybind11_state.Fail,
            ort.capi.onnxruntime_pybind11_state.InvalidGraph,
            ort.capi.onnxruntime_pybind11_state.InvalidProtobuf,
            ort.capi.onnxruntime_pybind11_state.NoSuchFile) as exc:
        raise ModelCorruptError(f"cannot load {folder / 'model.onnx'}: {exc}; "
                                f"{REBUILD_HINT}") from exc
    log.info("encoder_loaded", path=str(folder), dim=manifest.dim, threads=threads)
    return SentenceEncoder(session, tokenizer, manifest)


def _tokenizer(path: Path, max_seq_length: int) -> Tokenizer:
    """The BERT tokenizer, truncating to ``max_seq_length`` and padding to the batch's longest."""
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:  # the tokenizers library raises a bare Exception
        raise ModelCorruptError(f"{path} cannot be loaded ({exc}); {REBUILD_HINT}") from exc
    # tokenizer.json pads every text to a fixed 128 and truncates at 128; sentence-
    # transformers uses max_seq_length (256) and pads to the longest in the batch.
    tokenizer.enable_truncation(max_length=max_seq_length)
    pad_id = tokenizer.token_to_id("[PAD]")
    tokenizer.enable_padding(pad_id=0 if pad_id is None else pad_id, pad_token="[PAD]")
    return tokenizer
