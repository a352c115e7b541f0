"""Chat rendering and streaming detokenization."""

from __future__ import annotations

from pathlib import Path

import pytest

from npc_runtime.model.loader import LoadedModel, load_model
from npc_runtime.model.tokenizer import StreamDecoder


def test_chat_template_renders_chatml(tiny_model: LoadedModel) -> None:
    """Messages render in the model's template, ending with the assistant header."""
    text = tiny_model.tokenizer.render([("system", "S"), ("user", "U")])
    assert text == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n" \
        "<|im_start|>assistant\n"


def test_stream_decoder_holds_back_split_characters(tiny_model: LoadedModel) -> None:
    """Deltas never contain half a character, and they add up to the full text."""
    text = "Café crème? 🙂 Eel stew."
    ids = tiny_model.tokenizer.encode(text)
    decoder = StreamDecoder(tiny_model.tokenizer)
    deltas = [decoder.push(i) for i in ids]
    assert "".join(deltas) == text
    assert all("\ufffd" not in d for d in deltas)


@pytest.mark.e2e
def test_default_tokenizer_matches_the_gguf_vocabulary(default_model_dir: Path) -> None:
    """SmolLM2's ids: ChatML markers are single special tokens, no BOS, digits split."""
    tokenizer = load_model(default_model_dir, threads=1).tokenizer
    assert tokenizer.encode("<|im_start|>user\nhi<|im_end|>")[0] == 1
    assert tokenizer.encode("<|im_end|>") == [2]
    assert tokenizer.eos_token_ids == frozenset({2})
    assert tokenizer.encode("Hello world, 123") == [19556, 905, 28, 216, 33, 34, 35]
    assert tokenizer.decode(tokenizer.encode("café 🙂")) == "café 🙂"
