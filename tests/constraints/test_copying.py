"""The copy ban: a line cannot copy more than a few words in a row from its source, word by
word however the words are split into tokens, and names and numbers can still be said."""

from __future__ import annotations

import numpy as np

from npc_runtime.constraints.copying import CopyBan, ban_copying, key_words, words
from npc_runtime.dialogue.trees.wording import longest_run
from npc_runtime.model.generate import LogitsProcessor
from npc_runtime.model.loader import LoadedModel
from npc_runtime.model.tokenizer import ChatTokenizer


def _copier(tokenizer: ChatTokenizer, source: str, process: LogitsProcessor) -> str:
    """What a model that wants nothing but to copy ``source`` writes under ``process``:
    each step the source's next token scores highest, a filler word next; a masked
    source token leaves the filler, and the copy goes on after it."""
    target, filler = tokenizer.encode(source), tokenizer.encode(" love")[0]
    reply: list[int] = []
    at = 0
    while at < len(target) and len(reply) < 4 * len(target):
        logits = np.zeros(tokenizer.vocab_size, dtype=np.float32)
        logits[filler] = 5.0
        logits[target[at]] = 10.0
        token = int(np.argmax(process(logits, reply)))
        reply.append(token)
        at += token == target[at]
    return tokenizer.decode(reply)


def test_a_copy_never_runs_past_the_limit(tiny_model: LoadedModel) -> None:
    """A line bent on copying a fact gets at most ``limit`` of its words in a row."""
    tokenizer = tiny_model.tokenizer
    source = "the lantern burns in the quiet harbour when the fog rolls in"
    assert max(len(tokenizer.encode(f" {w}")) for w in words(source)) > 1  # words in pieces
    for limit in (2, 3, 4):
        line = _copier(tokenizer, source, ban_copying(tokenizer, [source], limit=limit))
        assert limit == longest_run(words(line), words(source)), line


def test_without_the_ban_the_copier_copies(tiny_model: LoadedModel) -> None:
    """The copier is a real test of the ban: unbanned, it writes the source whole."""
    tokenizer = tiny_model.tokenizer
    source = "the lantern burns in the quiet harbour when the fog rolls in"
    assert source == _copier(tokenizer, source, lambda logits, _: logits)


def test_names_and_numbers_may_extend_a_run(tiny_model: LoadedModel) -> None:
    """Key words are said even where they lengthen a copied run; the word after is not."""
    tokenizer = tiny_model.tokenizer
    source = "A room costs five coppers at the Eel Stew tonight"
    ban = CopyBan.of([source], limit=2)
    line = words(_copier(tokenizer, source, ban.processor(tokenizer)))
    assert {"five", "eel", "stew"} <= set(line), line
    assert "five coppers" not in " ".join(line)  # "costs five": the run ends at the number
    assert "the eel stew" in " ".join(line)  # the name goes one word past the limit
    assert longest_run(line, words(source)) == 3


def test_the_line_said_before_counts(tiny_model: LoadedModel) -> None:
    """A reply that goes on after released text carries its run on: the word that would
    lengthen it is masked at once."""
    tokenizer = tiny_model.tokenizer
    process = ban_copying(tokenizer, ["the old tower has been silent"], limit=3,
                          before="Aye, the old tower")
    out = process(np.zeros(tokenizer.vocab_size, dtype=np.float32), [])
    assert -np.inf == out[tokenizer.encode(" has")[0]]
    assert np.isfinite(out[tokenizer.encode(" is")[0]])


def test_other_words_that_share_a_first_piece_stay_possible(tiny_model: LoadedModel) -> None:
    """Only the banned word is masked, not every word its first token starts."""
    tokenizer = tiny_model.tokenizer
    process = ban_copying(tokenizer, ["the bell in the harbour tower"], limit=3)
    head = tokenizer.encode("the bell in the")
    harbour = tokenizer.encode(" harbour")
    assert len(harbour) > 1
    logits = np.zeros(tokenizer.vocab_size, dtype=np.float32)
    assert np.isfinite(process(logits, head)[harbour[0]])  # " h..." may start "has"
    assert -np.inf == process(logits, head + harbour[:-1])[harbour[-1]]
    assert np.isfinite(process(logits, head + harbour[:-1])[tokenizer.encode("s")[0]])


def test_key_words_are_names_and_numbers() -> None:
    """Numbers in digits or words and capitalised names count; a sentence's first word,
    and "I", do not."""
    expected = {"12th", "two", "maren", "ashveil", "saltmere"}
    assert expected == key_words("The boat left Saltmere on the 12th. I paid two coins to "
                                 "Maren Ashveil. Boats are cheap.")
