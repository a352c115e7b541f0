"""
Grammar-constrained choices: the model picks one of a fixed set of strings, token by
token, and cannot produce anything else.

Each allowed string is tokenized once; the token sequences form a prefix tree, and at
each step only tokens that continue some allowed sequence keep their logits. Greedy
within the tree: the most likely allowed token wins each step. A terminator (the text
that must follow, e.g. a closing quote) is part of every sequence, so a string that is
a prefix of another ("rope" / "rope ladder") is still a distinct, final choice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


class TokenTrie:
    """Allowed token sequences as a prefix tree; leaves carry the string they spell."""

    def __init__(self, sequences: Mapping[str, Sequence[int]]) -> None:
        if not sequences:
            raise ValueError("a choice needs at least one option")
        self._children: dict[tuple[int, ...], set[int]] = {}
        self._values: dict[tuple[int, ...], str] = {}
        for value, tokens in sequences.items():
            path = tuple(tokens)
            if not path:
                raise ValueError(f"option {value!r} has no tokens")
            if path in self._values or path in self._children:
                continue  # two options spelled the same: the first wins
            for i in range(len(path)):
                self._children.setdefault(path[:i], set()).add(path[i])
            self._values[path] = value

    def allowed(self, prefix: Sequence[int]) -> list[int]:
        """Tokens that may come after ``prefix`` (empty once an option is complete)."""
        return sorted(self._children.get(tuple(prefix), ()))

    def value(self, prefix: Sequence[int]) -> str | None:
        """The option ``prefix`` spells completely, or None."""
        return self._values.get(tuple(prefix))

    def pick(self, logits: np.ndarray, prefix: Sequence[int],
             bias: Mapping[str, float] | None = None) -> int:
        """
        The most likely token among those allowed after ``prefix``; ``bias`` adds to a
        token's logit the largest bias of the options it still leads to.
        """
        allowed = self.allowed(prefix)
        if not allowed:
            raise ValueError("the option is already complete")
        scores = logits[allowed].astype(np.float64)
        if bias:
            for i, token in enumerate(allowed):
                reachable = self._below((*prefix, token))
                scores[i] += max((bias.get(v, 0.0) for v in reachable), default=0.0)
        return allowed[int(np.argmax(scores))]

    def _below(self, prefix: tuple[int, ...]) -> list[str]:
        """The options whose sequences start with ``prefix``."""
        return [v for path, v in self._values.items() if path[: len(prefix)] == prefix]
