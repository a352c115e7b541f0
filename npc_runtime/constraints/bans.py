"""
Word bans for regenerating a rejected line: the words the checker objected to become
token sequences the decoder may not complete.

A word is banned in the spellings a reply would use (with and without a leading space,
as written, lower-case and capitalised). For a multi-token spelling only its last token
is masked, and only right after the earlier ones: banning a first piece such as " El"
outright would also forbid every other word that starts with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from npc_runtime.model.generate import LogitsProcessor
from npc_runtime.model.tokenizer import ChatTokenizer


def ban_words(tokenizer: ChatTokenizer, words: Iterable[str]) -> LogitsProcessor:
    """A logits processor that keeps the reply from producing any of ``words``."""
    sequences: set[tuple[int, ...]] = set()
    for word in words:
        for spelling in {word, word.lower(), word.capitalize()}:
            for text in (spelling, " " + spelling):
                ids = tuple(tokenizer.encode(text))
                if ids:
                    sequences.add(ids)
    always = np.array(sorted({s[0] for s in sequences if len(s) == 1}), dtype=np.int64)
    after = [(s[:-1], s[-1]) for s in sequences if len(s) > 1]

    def process(logits: np.ndarray, reply: Sequence[int]) -> np.ndarray:
        masked = [last for head, last in after
                  if len(reply) >= len(head) and tuple(reply[len(reply) - len(head):]) == head]
        if not len(always) and not masked:
            return logits
        logits = logits.copy()
        logits[always] = -np.inf
        logits[masked] = -np.inf
        return logits

    return process
