"""Whether a tree's answer is in the NPC's own words (trees/wording.py): pastes are caught
even with words changed or added around them; a rephrasing is not a paste."""

from __future__ import annotations

from pathlib import Path

from npc_runtime.dialogue.trees.wording import longest_run, own_words, pasted
from npc_runtime.lore.loader import load_world
from npc_runtime.lore.model import Fact

MAREN = load_world(Path(__file__).parents[3] / "examples" / "worlds" / "saltmere"
                  ).characters["maren"]  # her facts below are ours, for this test
LAMP = Fact("maren_x", "Maren Ashveil keeps the lighthouse on Gannet Rock and trims its lamp "
                       "every night.", about=("maren",))
SHORT = Fact("pell_02", "Pell sells glass cheaply.", about=("pell",))


def test_the_fact_itself_is_a_paste() -> None:
    """The text, and the NPC's first-person form of it, are both pastes."""
    assert pasted(LAMP.text, LAMP, MAREN)
    assert pasted("I keep the lighthouse on Gannet Rock, love.", LAMP, MAREN)  # voice.says


def test_a_paste_with_words_around_it_is_still_a_paste() -> None:
    """Exact comparison missed these: a clause added, a word dropped."""
    assert pasted("Aye, Maren Ashveil keeps the lighthouse on Gannet Rock, and the gulls know.",
                  LAMP, MAREN)
    assert not own_words("Well, Pell sells glass cheaply, they say.", [SHORT], MAREN)


def test_a_rephrasing_in_the_first_person_is_own_words() -> None:
    """Names and key words may recur; the sentence is the NPC's."""
    assert own_words("Every night I climb up to trim the lamp; Gannet Rock's light is mine.",
                     [LAMP], MAREN)
    assert own_words("Glass? Pell lets it go for next to nothing.", [SHORT], MAREN)


def test_naming_itself_in_the_third_person_is_not_own_words() -> None:
    """An NPC speaking of itself by name is a persona break, however it is worded."""
    assert not own_words("Every night Maren climbs up to trim that lamp of his.", [LAMP], MAREN)


def test_longest_run_counts_words_in_a_row() -> None:
    """The longest common run of words, not the words in common."""
    assert longest_run(["a", "b", "c", "x", "d", "e"], ["a", "b", "c", "d", "e"]) == 3
    assert longest_run([], ["a"]) == 0
