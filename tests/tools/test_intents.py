"""Which tool a line asks for: authored examples, confirmations, yes, first mentions."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from npc_runtime.config import Settings
from npc_runtime.lore.knowledge import KnowledgeView, view
from npc_runtime.lore.loader import check_world_files, load_world
from npc_runtime.lore.mentions import refers
from npc_runtime.lore.model import World
from npc_runtime.model.tokenizer import Message
from npc_runtime.tools.acts import SpeechActs
from npc_runtime.tools.choice import offer, wanted
from npc_runtime.tools.intents import (
    bounds,
    chances,
    intents,
    questions,
    refuses,
    sentences,
)
from npc_runtime.tools.proposal import Proposal, last_turn, proposed
from tests.conftest import default_embed

FORGE = Path(__file__).parent / "forge"


@pytest.fixture(scope="module")
def forge() -> World:
    return load_world(FORGE)


@pytest.fixture(scope="module")
def known(forge: World) -> KnowledgeView:
    return view(forge, "brann")


def _asked(world: World, known: KnowledgeView, line: str) -> list[str]:
    remarks = _acts().read(world, line).remarks
    return [i.tool for i in intents(world, known.tools, line, remarks=remarks)]


@functools.cache
def _acts() -> SpeechActs:
    return SpeechActs(default_embed(), Settings.load().cache_dir)


def _offered(world: World, known: KnowledgeView, history: list[Message]) -> Proposal | None:
    """What the NPC's last turn in ``history`` left pending, as the engine keeps it."""
    calls, said = last_turn(history)
    return proposed(world, known, calls, said, _acts())


def _wanted(world: World, known: KnowledgeView, history: list[Message], line: str,
            *, again: bool = False) -> list[str]:
    """What a turn would call for ``line`` after ``history`` (the NPC's offer kept)."""
    proposal = _offered(world, known, history)
    reading = _acts().read(world, line, tools=known.tools, answering=proposal is not None)
    conversation = [*history, ("user", line)]
    offered = offer(world, known, conversation, line, set(), acting=reading.acting,
                    proposal=proposal)
    return wanted(world, known, history, line, offered, reading=reading, proposal=proposal,
                  again=again)


def test_a_line_asks_for_the_tool_whose_examples_it_matches(forge: World,
                                                            known: KnowledgeView) -> None:
    assert _asked(forge, known, "How much does the Frost Axe cost?") == ["price_of"]
    assert _asked(forge, known, "I'd like to buy the Reed Bow.") == ["buy"]
    assert _asked(forge, known, "Do you have anything light for a beginner?") == ["find"]


def test_small_talk_and_unrelated_lines_ask_for_nothing(forge: World,
                                                        known: KnowledgeView) -> None:
    for line in ["Thank you.", "Good morning!", "Nice weather today.", "zxqv blorp"]:
        assert _asked(forge, known, line) == [], line


def test_each_sentence_can_ask_for_its_own_tool(forge: World, known: KnowledgeView) -> None:
    assert sentences("How much is it? I'll take it.") == ["How much is it?", "I'll take it."]
    assert set(_asked(forge, known, "How much is it? I'll take it.")) == {"price_of", "buy"}


def test_names_of_things_are_masked_before_matching(forge: World,
                                                    known: KnowledgeView) -> None:
    with_name = intents(forge, known.tools, "How much is the Frost Axe?")
    without = intents(forge, known.tools, "How much is it?")
    assert [i.tool for i in with_name] == [i.tool for i in without] == ["price_of"]


def test_a_confirmed_tool_is_asked_about_first_and_runs_on_yes(forge: World,
                                                               known: KnowledgeView) -> None:
    history: list[Message] = [("user", "Tell me about the Frost Axe."),
                              ("assistant", "A fine axe.")]
    assert _wanted(forge, known, history, "I'd like to buy the Frost Axe.") == ["confirm_buy"]
    asked: list[Message] = [*history, ("user", "I'd like to buy the Frost Axe."),
                            ("assistant", '[confirm_buy] {"item": "frost_axe"}'),
                            ("tool", "{}"), ("assistant", "The Frost Axe, then. Sure?")]
    assert _offered(forge, known, asked) == Proposal(
        "buy", {"item": "frost_axe"}, "buy is confirmed by confirm_buy")
    assert _wanted(forge, known, asked, "Yes, please.") == ["buy"]
    assert _wanted(forge, known, asked, "No, I changed my mind.") == []


def test_yes_answers_the_npcs_last_question(forge: World, known: KnowledgeView) -> None:
    history: list[Message] = [("user", "I'll take the Reed Bow."),
                              ("assistant", "Sold! It's yours. Shall I equip it now?")]
    assert _offered(forge, known, history) is not None
    assert _wanted(forge, known, history, "Sure, go ahead.") == ["equip"]
    assert _wanted(forge, known, history, "No thanks.") == []
    # The question comes first, even when the yes also sounds like another request.
    assert _wanted(forge, known, history, "Yes please, I'll take it!")[0] == "equip"


def test_a_thing_brought_up_first_calls_the_on_mention_tool(forge: World,
                                                            known: KnowledgeView) -> None:
    assert _wanted(forge, known, [], "Oh, the Reed Bow on the wall!") == ["appraise"]
    # A remark about it asks for nothing.
    assert _wanted(forge, known, [], "The Reed Bow looks too light for me.") == []
    # Named before: nothing new is brought up.
    seen: list[Message] = [("user", "And the Reed Bow?"), ("assistant", "A light bow.")]
    assert _wanted(forge, known, seen, "Oh, the Reed Bow on the wall!") == []
    # A named thing is not searched for.
    assert _wanted(forge, known, [], "Do you have anything like the Frost Axe?") == ["appraise"]


def test_a_second_call_needs_a_closer_match(forge: World, known: KnowledgeView) -> None:
    line = "What does the Frost Axe cost? I think I'll take it maybe, not sure."
    assert "price_of" in _wanted(forge, known, [], line)
    assert _wanted(forge, known, [], "Thank you.", again=True) == []


def test_confirm_with_and_on_mention_are_validated(tmp_path: Path) -> None:
    text = (FORGE / "world.yaml").read_text()
    broken = text.replace("confirm_with: confirm_buy", "confirm_with: buy") + (
        "  - id: chat\n    description: Just talk.\n    executes: engine\n"
        "    on_mention: true\n")
    (tmp_path / "world.yaml").write_text(broken)
    _, diagnostics = check_world_files(tmp_path)
    codes = {d.code for d in diagnostics if d.severity == "error"}
    assert {"confirms-itself", "mention-needs-param"} <= codes


def test_a_bound_on_an_amount_asks_the_finder(forge: World, known: KnowledgeView) -> None:
    assert bounds("Any axes under 300 gold?")
    assert bounds("Something that hits for 40 or more.")
    assert not bounds("What about the axe over there?")
    assert _wanted(forge, known, [], "Any axes under 300 gold?") == ["find"]
    assert _wanted(forge, known, [], "I walked over the pass today.") == []


def test_a_yes_after_a_call_runs_the_tool_that_follows_it(forge: World,
                                                          known: KnowledgeView) -> None:
    sold: list[Message] = [("user", "Yes, the Reed Bow."),
                           ("assistant", '[buy] {"item": "reed_bow"}'), ("tool", "{}"),
                           ("assistant", "It's yours. Anything else I can do?")]
    assert _wanted(forge, known, sold, "Yes please.") == ["equip"]
    # The yes is answered by that call: its words ask for nothing more.
    assert _wanted(forge, known, sold, "Yes, I'd like to buy it.") == ["equip"]
    assert _wanted(forge, known, sold, "Yes, I'd like to buy it.", again=True) == []


def test_one_sentence_asking_several_things_gets_the_overview(forge: World,
                                                              known: KnowledgeView) -> None:
    several = intents(forge, known.tools, "How much is it, and can I equip it now?")
    assert {"price_of", "equip"} <= set(several[0].aspects)
    assert _wanted(forge, known, [], "The Frost Axe: how much is it, and can I equip it now?"
                   ) == ["appraise"]
    # A statement is not asking: its clauses are not aspects of one question.
    assert intents(forge, known.tools, "I'll take it now, I can equip it later.")[0].aspects == ()
    # Separate sentences are separate requests.
    assert "appraise" not in _wanted(forge, known, [("user", "The Frost Axe?"),
                                                    ("assistant", "A fine axe.")],
                                     "How much is it? Can I equip it now?")


def test_a_sentence_that_says_no_asks_for_nothing(forge: World, known: KnowledgeView) -> None:
    assert refuses("Not now, I'll equip it later.")
    assert refuses("No thanks.")
    assert refuses("Hmm, not yet.")
    assert not refuses("Nice, how much is it?")
    assert _asked(forge, known, "Not now, I'll equip it later.") == []
    assert _asked(forge, known, "Not now. How much is the Frost Axe?") == ["price_of"]


def test_questions_are_told_from_statements() -> None:
    assert questions("How much is it?")
    assert questions("whats the price on that one")  # no question mark
    assert questions("Is it sharp? (pointing at: Frost Axe)")
    assert questions("hmm and the bow, how strong is that one")
    assert not questions("I'll take it.")


def test_a_remark_asks_for_nothing_that_is_asked_about(forge: World,
                                                       known: KnowledgeView) -> None:
    """The speech-act reader tells a remark from a request, whatever its words: "Let's
    see your stock." asks, though no question or request word is in it."""
    for sentence in ("It looks pricey, though.", "The blade is well made."):
        assert _acts().read(forge, sentence).remarks(sentence), sentence
    for sentence in ("Tell me the price.", "I'll take it.", "Let's see your stock.",
                     "What's the price?", "Oh, the axe on the wall!"):
        assert not _acts().read(forge, sentence).remarks(sentence), sentence
    assert _asked(forge, known, "The price is steep, though.") == []
    assert _asked(forge, known, "What's the price?") == ["price_of"]
    assert _asked(forge, known, "I'd like to buy it.") == ["buy"]  # actions are said so


def test_a_need_put_loosely_asks_the_finder_when_nothing_is_named(
        forge: World, known: KnowledgeView) -> None:
    line = "I need something for the pass, anything that is light enough."
    assert _asked(forge, known, line) == []  # no example is that close
    assert _wanted(forge, known, [], line) == ["find"]
    assert _wanted(forge, known, [], "I walked over the pass today.") == []


def test_a_part_of_a_name_points_at_a_thing_only_when_definite(forge: World) -> None:
    reed_bow = ["reed_bow"]
    assert refers(forge, reed_bow, "I'll take the reed one.") == reed_bow
    assert refers(forge, reed_bow, "Reed one, how much?") == reed_bow
    assert refers(forge, reed_bow, "Do you have a bow?") == []  # any bow
    assert refers(forge, reed_bow, "Reeds grow by the river.") == []


def test_a_thing_first_asked_about_after_the_npc_listed_it_gets_the_overview(
        forge: World, known: KnowledgeView) -> None:
    listed: list[Message] = [("user", "Anything light?"),
                             ("assistant", '[find] {"description": "light"}'), ("tool", "{}"),
                             ("assistant", "The Reed Bow is light.")]
    assert _wanted(forge, known, listed, "The Reed Bow? Go on.") == ["appraise"]
    asked: list[Message] = [*listed, ("user", "The Reed Bow?"),
                            ("assistant", '[appraise] {"item": "reed_bow"}'), ("tool", "{}"),
                            ("assistant", "A light bow of river reed.")]
    assert _wanted(forge, known, asked, "The Reed Bow, go on.") == []


def test_the_encoder_reads_a_request_that_shares_no_word_with_the_examples() -> None:
    """With the sentence encoder, the classifier weighs meaning beside the words: "Lemme
    see the merchandise." shares no content word with open_shop's examples ("Show me your
    wares."), and is likelier to ask for it than by the words alone; a line that does share
    them still asks for the tool."""
    saltmere = load_world(Path(__file__).parents[2] / "examples" / "worlds" / "saltmere")
    wren = view(saltmere, "wren")
    embed = default_embed()
    line = "Lemme see the merchandise."
    by_words = chances(saltmere, wren.tools, line)[0]["open_shop"]
    by_meaning = chances(saltmere, wren.tools, line, embed=embed)[0]["open_shop"]
    assert by_meaning > by_words
    asked = intents(saltmere, wren.tools, "Any goods for sale?", embed=embed)
    assert [i.tool for i in asked] == ["open_shop"]
