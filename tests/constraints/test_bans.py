"""Word bans: a banned word's tokens cannot be completed; other words stay possible."""

from __future__ import annotations

import numpy as np

from npc_runtime.constraints.bans import ban_words
from npc_runtime.model.loader import LoadedModel


def test_single_token_spellings_are_always_masked(tiny_model: LoadedModel) -> None:
    tokenizer = tiny_model.tokenizer
    process = ban_words(tokenizer, ["the"])
    logits = np.zeros(tokenizer.vocab_size, dtype=np.float32)
    out = process(logits, [])
    singles = [ids[0] for text in (" the", "the", " The", "The")
               if len(ids := tokenizer.encode(text)) == 1]
    assert singles  # the test needs at least one one-token spelling
    assert (out[singles] == -np.inf).all()
    assert np.isfinite(out[tokenizer.encode(" cat")[-1]])
    assert np.isfinite(logits).all()  # the caller's logits are not modified


def test_multi_token_words_are_masked_only_after_their_start(tiny_model: LoadedModel) -> None:
    tokenizer = tiny_model.tokenizer
    ids = tokenizer.encode(" Varroxq")
    assert len(ids) > 1
    process = ban_words(tokenizer, ["Varroxq"])
    logits = np.zeros(tokenizer.vocab_size, dtype=np.float32)
    assert process(logits, [])[ids[-1]] == 0  # not yet: the word has not started
    assert process(logits, ids[:-1])[ids[-1]] == -np.inf
