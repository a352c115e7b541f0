"""
A copy ban while decoding: the line may not copy more than a few words in a row from the
text it was told to get across, so the model has to put it in its own words.

Handed "What you say next must include this: <fact>", the 135M model mostly repeats the
fact; ``dialogue/trees/wording.py`` calls such a line a paste. Here, at each step, the line
so far is split into words as that metric splits them; wherever its last words are a run
of a source's words, the source's next word is the one that would lengthen the run, and
once the run is ``limit`` words long, the tokens that would complete that word are masked.
The model is left to rephrase (or to stop copying and go on differently). Key words (names
and numbers, ``key_words``) are never masked: a fact is not told without them, and the
scorer looks for them (``dialogue/score.py``).

Word-faithful at the token level: a word may be written in several tokens (" light",
"house"), so a token is masked when the word being written, with the token's leading
letters added, is the banned word; a token that starts with a space or a stop ends the
word being written and starts the next, masked when it starts a banned word after that
one. A token that writes a banned word whole is masked even if the word might have gone
on (" harbour" before "master"): a rare over-ban, and one the model can spell around.

Rejected: checking finished lines and drafting again (``score.py`` does that for faults):
a 135M model told the fact copies it in nearly every sample, so drafts alone rarely find a
line in its own words; the mask makes every draft one.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Collection, Iterable, Sequence

import numpy as np

from npc_runtime.lore.mentions import NUMBER_WORDS
from npc_runtime.model.generate import LogitsProcessor
from npc_runtime.model.tokenizer import ChatTokenizer

#: Words in a row a line may share with its source: fewer than any paste
#: (``wording.py``: four at least), and enough for the phrases any telling shares ("in
#: the harbour").
COPY_LIMIT = 3
WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_LETTERS = re.compile(r"[a-z0-9]*(?:'[a-z]+)?")  # what a token adds to the word being written
_LETTER = re.compile(r"[a-z0-9]")
_OPENS = re.compile(r"[^a-z0-9]+([a-z0-9]+(?:'[a-z]+)?)")  # a token that starts a new word
_NUMBER_WORDS = frozenset(NUMBER_WORDS) | {"hundred", "thousand"}
_SENTENCE_START = re.compile(r"(?:^|[.!?:;]\s+|[\"(]\s*)$")


def words(text: str) -> list[str]:
    """The lower-cased words of ``text``, as the copy ban and the paste metric count them."""
    return WORD.findall(text.lower())


def key_words(text: str) -> set[str]:
    """
    The words of ``text`` a telling must keep: numbers (digits or number words) and names
    (capitalised where no sentence starts, "I" aside), lower-cased.
    """
    keep = {w for w in words(text) if any(c.isdigit() for c in w) or w in _NUMBER_WORDS}
    for match in re.finditer(r"[A-Z][\w']*", text):
        if match.group(0) != "I" and not _SENTENCE_START.search(text[:match.start()]):
            keep.update(words(match.group(0)))
    return keep


@dataclasses.dataclass(frozen=True)
class CopyBan:
    """What a line must not copy: ``sources`` (a fact's text, the NPC's form of it), more
    than ``limit`` words in a row of any, ``keep`` words (lower-cased) aside."""

    sources: tuple[str, ...]
    keep: frozenset[str]
    limit: int = COPY_LIMIT

    @classmethod
    def of(cls, sources: Iterable[str], limit: int = COPY_LIMIT) -> CopyBan:
        """The ban on copying ``sources``, their key words (``key_words``) kept."""
        sources = tuple(sources)
        return cls(sources, frozenset(w for s in sources for w in key_words(s)), limit)

    def processor(self, tokenizer: ChatTokenizer, before: str = "") -> LogitsProcessor:
        """The ban as a logits processor for a reply that goes on after ``before``."""
        return ban_copying(tokenizer, self.sources, limit=self.limit, keep=self.keep,
                           before=before)


def ban_copying(tokenizer: ChatTokenizer, sources: Iterable[str], *, limit: int = COPY_LIMIT,
                keep: Collection[str] = (), before: str = "") -> LogitsProcessor:
    """
    A logits processor that keeps a line from copying more than ``limit`` words in a row
    from any of ``sources``, ``keep`` words (lower-cased) aside: they may always be said.
    ``before``: the line's text already said (the reply goes on after it).
    """
    runs = [w for w in (words(s) for s in sources) if w]
    pieces = _pieces(tokenizer)
    keep = frozenset(keep)

    def process(logits: np.ndarray, reply: Sequence[int]) -> np.ndarray:
        text = (before + tokenizer.decode(reply)).lower()
        done = words(text)
        # The word being written, if the text ends inside one: the next token may go on.
        partial = done.pop() if done and _LETTER.fullmatch(text[-1:]) else ""
        masked: list[int] = []
        for word in _next_words(done, runs, limit, keep):
            if not partial:  # any token with the word's letters first starts it
                masked += pieces.rest.get(word, []) + pieces.opens.get(word, [])
            elif word.startswith(partial) and word != partial:
                masked += pieces.rest.get(word[len(partial):], [])
        if partial:  # a token that ends the word being written opens the one after it
            masked += [t for word in _next_words([*done, partial], runs, limit, keep)
                       for t in pieces.opens.get(word, [])]
        if not masked:
            return logits
        logits = logits.copy()
        logits[..., masked] = -np.inf
        return logits

    return process


def _next_words(line: list[str], runs: list[list[str]], limit: int, keep: frozenset[str]
                ) -> set[str]:
    """The words that would make ``line`` end in a run of more than ``limit`` words of one
    of ``runs`` (each a source's words), ``keep`` words aside."""
    banned: set[str] = set()
    for source in runs:
        # Never as much as half of a short source (a paste, wording.py), at least three
        # words where it has more: "in the harbour" is no copy.
        most = min(limit, max(3, (len(source) + 1) // 2 - 1), len(source) - 1)
        # run[j]: how many of the line's last words are the source's words up to j.
        run = [0] * len(source)
        for word in line:
            run = [(run[j - 1] if j else 0) + 1 if word == w else 0
                   for j, w in enumerate(source)]
        banned.update(source[j + 1] for j in range(len(source) - 1)
                      if run[j] >= most and source[j + 1] not in keep)
    return banned


@dataclasses.dataclass(frozen=True)
class _Pieces:
    """The vocabulary by the letters each token writes first: ``rest[letters]``: tokens
    that start with letters (they go on with the word being written, or start a word
    where none is); ``opens[word]``: tokens that end the word being written (a space, a
    stop) and then start ``word``."""

    rest: dict[str, list[int]]
    opens: dict[str, list[int]]


@functools.lru_cache(maxsize=4)
def _pieces(tokenizer: ChatTokenizer) -> _Pieces:
    rest: dict[str, list[int]] = {}
    opens: dict[str, list[int]] = {}
    for token, piece in enumerate(tokenizer.pieces()):
        low = piece.lower()
        letters = _LETTERS.match(low)
        if letters and letters.group(0):
            rest.setdefault(letters.group(0), []).append(token)
        elif after := _OPENS.match(low):
            opens.setdefault(after.group(1), []).append(token)
    return _Pieces(rest, opens)
