"""The token trie behind constrained choices."""

from __future__ import annotations

import numpy as np
import pytest

from npc_runtime.constraints.grammar import TokenTrie


def test_only_tokens_continuing_an_option_are_allowed() -> None:
    trie = TokenTrie({"rope,": [5, 9], "rope ladder,": [5, 7, 9], "oil,": [3, 9]})
    assert trie.allowed([]) == [3, 5]
    assert trie.allowed([5]) == [7, 9]
    assert trie.value([5, 9]) == "rope,"
    assert trie.value([5]) is None
    assert trie.allowed([5, 9]) == []


def test_pick_takes_the_likeliest_allowed_token() -> None:
    trie = TokenTrie({"a": [1], "b": [2]})
    logits = np.array([10.0, 1.0, 2.0, 50.0])  # token 3 is likelier but not allowed
    assert trie.pick(logits, []) == 2


def test_a_choice_needs_options_with_tokens() -> None:
    with pytest.raises(ValueError, match="at least one"):
        TokenTrie({})
    with pytest.raises(ValueError, match="no tokens"):
        TokenTrie({"x": []})
