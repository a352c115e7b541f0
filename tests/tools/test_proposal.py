"""What an NPC's turn leaves pending (``tools/proposal.py``): the tool its offer points at,
the arguments the offer settled, and a yes that takes them."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from npc_runtime.lore.knowledge import view
from npc_runtime.lore.loader import load_world
from npc_runtime.lore.model import ToolParam, World, WorldState
from npc_runtime.tools.acts import Reading, SpeechActs
from npc_runtime.tools.calls import ground, stated
from npc_runtime.tools.choice import offer, wanted
from npc_runtime.tools.proposal import Proposal, proposed

WAYHOUSE = Path(__file__).parent / "wayhouse"


@pytest.fixture(scope="module")
def inn() -> World:
    return load_world(WAYHOUSE)


def _called(acts: SpeechActs, world: World, line: str) -> list[str]:
    """What Hesk calls for ``line``, said first in a conversation."""
    known = view(world, "hesk", WorldState())
    reading = acts.read(world, line, tools=known.tools)
    offered = offer(world, known, [("user", line)], line, set(), reading=reading)
    return wanted(world, known, [], line, offered, reading=reading)


def _offered(acts: SpeechActs, world: World, said: str, *, asked: str = "",
             calls: tuple[tuple[str, dict[str, object]], ...] = ()) -> Proposal | None:
    return proposed(world, view(world, "hesk", WorldState()), calls, said, acts, asked=asked)


@pytest.mark.parametrize(("said", "tool"), [
    ("Three coppers and the road is yours. Paying now?", "take_toll"),
    ("Your mare looks done in. A copper a night in the stable, shall I take her?",
     "stable_horse"),
])
def test_an_offer_naming_no_thing_points_at_its_tool_by_the_examples(
        speech_acts: SpeechActs, inn: World, said: str, tool: str) -> None:
    """Two tools take no thing: the one the offer means is the one its words point at."""
    pending = _offered(speech_acts, inn, said)
    assert pending is not None
    assert pending.tool == tool, pending


def test_the_thing_an_offer_means_was_named_by_the_player(speech_acts: SpeechActs,
                                                          inn: World) -> None:
    pending = _offered(speech_acts, inn, "Baked this morning. Two coppers. Want one?",
                       asked="Is the trail bread fresh?")
    assert pending is not None
    assert (pending.tool, pending.args.get("item")) == ("give_item", "trail_bread")


def test_an_offer_settles_the_count_it_states_and_a_yes_takes_it(speech_acts: SpeechActs,
                                                                 inn: World) -> None:
    pending = _offered(speech_acts, inn, "Cold up there. Two buns for the road?")
    assert pending is not None
    assert dict(pending.args) == {"item": "trail_bread", "count": 2}
    known = view(inn, "hesk", WorldState())
    history = [("user", "It's a long climb."), ("assistant", "Cold up there. Two loaves "
                                                              "for the road?")]
    line = "yes please"
    reading = speech_acts.read(inn, line, tools=known.tools, answering=True)
    offered = offer(inn, known, [*history, ("user", line)], line, set(), reading=reading,
                    proposal=pending)
    assert wanted(inn, known, history, line, offered, reading=reading,
                  proposal=pending) == ["give_item"]
    assert {p.name: values for p, values in offered["give_item"]} == {
        "item": ("trail_bread",), "count": ("2",)}


def test_a_turn_that_acted_and_asks_nothing_offers_nothing(speech_acts: SpeechActs,
                                                           inn: World) -> None:
    """"Then take it." after handing the lantern over tells what was done."""
    assert _offered(speech_acts, inn, "Then take it. Keep the wick short.",
                    calls=(("give_item", {"item": "lantern"}),)) is None


def test_an_offer_answered_no_is_not_taken_by_what_follows(inn: World) -> None:
    """A line whose answer is no, or a question, read whole as a request, does not take
    the offer."""
    known = view(inn, "hesk", WorldState())
    pending = Proposal("give_item", {"item": "trail_bread"}, "the NPC offered it")
    line = "no, let me see what my purse says first"
    declined = Reading("request", 0.7, acting=True, answer="no")
    assert "give_item" not in offer(inn, known, [("user", line)], line, set(),
                                    reading=declined, proposal=pending)
    asking = Reading("request", 0.7, acting=True, answer="question")  # "is it fresh? ..."
    assert "give_item" not in offer(inn, known, [("user", line)], line, set(),
                                    reading=asking, proposal=pending)
    accepted = Reading("request", 0.7, acting=True, answer="yes")
    assert "give_item" in offer(inn, known, [("user", line)], line, set(),
                                reading=accepted, proposal=pending)


@pytest.mark.parametrize(("said", "count"), [
    ("Two buns for the road?", ("2",)),
    ("The bun? Five coppers.", ()),  # a price is no count
    ("One copper a bun. How many?", ()),  # a rate is no count
])
def test_an_offer_states_a_count_only_before_the_thing(inn: World, said: str,
                                                       count: tuple[str, ...]) -> None:
    param = next(p for p in inn.tools["give_item"].params if p.name == "count")
    assert stated(inn, param, said, ["trail_bread"], loose=False) == count


def test_a_request_for_an_item_a_tool_does_not_take_is_not_that_tools(speech_acts: SpeechActs,
                                                                        inn: World) -> None:
    """"sell me a rope for the stable" shares a word with stabling, but asks for a rope."""
    def called(line: str) -> list[str]:
        return _called(speech_acts, inn, line)

    assert called("sell me a tow rope for the stable") == []
    assert called("Stable my horse for the night.") == ["stable_horse"]
    assert called("Stable my horse and hang my tow rope up.") == ["stable_horse"]  # the
    # player's own things are not asked for


@pytest.mark.parametrize(("line", "count"), [
    ("Buns. Three of them.", ("3",)),  # a number standing alone counts the thing named
    ("a bun for the road, say 5", ("5",)),
    ("Give me a couple of buns.", ("2",)),
    ("a bun. ten coppers, right?", ()),  # a number before another word counts that
    ("two buns, here is 4 coppers", ("2",)),
])
def test_a_player_states_a_count_before_the_thing_or_alone(inn: World, line: str,
                                                           count: tuple[str, ...]) -> None:
    param = next(p for p in inn.tools["give_item"].params if p.name == "count")
    assert stated(inn, param, line, ["trail_bread"]) == count


def test_the_players_own_thing_is_not_one_to_hand_over(speech_acts: SpeechActs,
                                                       inn: World) -> None:
    def called(line: str) -> list[str]:
        return _called(speech_acts, inn, line)

    assert called("Could you trim my tin lantern for me?") == []
    assert called("Could you hand me the tin lantern?") == ["give_item"]


def test_a_word_shared_with_a_description_does_not_vouch_for_a_tool(inn: World) -> None:
    """A request no example covers calls the one tool on offer only if that tool has no
    examples or takes a thing the player named: "copper" in "one copper a night" is not
    asking for the stable."""
    known = view(inn, "hesk", WorldState())
    line = "Keep this copper, friend."
    sure = Reading("request", 0.9, acting=True, acting_tools=frozenset({"stable_horse"}))
    offered = offer(inn, known, [("user", line)], line, set(), reading=sure)
    assert "stable_horse" in offered  # on offer by the shared word ...
    assert wanted(inn, known, [], line, offered, reading=sure) == []  # ... but not called


def test_a_tag_question_after_a_call_offers_nothing_more(speech_acts: SpeechActs,
                                                         inn: World) -> None:
    """The lower bar of an offer that asks is not for a turn that acted: its question
    mostly asks how the thing done went."""
    assert _offered(speech_acts, inn, "There we are, strung tight and slung over your "
                    "shoulder. Feels right, doesn't it?",
                    calls=(("give_item", {"item": "lantern"}),)) is None


def test_after_a_hand_over_only_its_question_offers(speech_acts: SpeechActs,
                                                   inn: World) -> None:
    """Read whole, "There you go. Anything else?" offers (as "Here, take this." does);
    after the call that handed the bread over, only its question asks, and "Anything
    else?" names nothing to offer again: the player's "yes" would have taken a second
    loaf. "Want another for the road?" still offers the same thing again."""
    handed = (("give_item", {"item": "trail_bread", "count": 1}),)
    assert _offered(speech_acts, inn, "There you go. Anything else?", calls=handed) is None
    again = _offered(speech_acts, inn, "Here's your trail bread. Want another for the road?",
                     calls=handed)
    assert again is not None
    assert (again.tool, again.args.get("item")) == ("give_item", "trail_bread")


def test_an_enum_value_is_named_by_its_words(inn: World) -> None:
    """A value that is no lore entity ("up", "one_way") is grounded by the words that say
    it; a line saying two of them settles neither."""
    tool = dataclasses.replace(inn.tools["stable_horse"], params=(ToolParam(
        "passage", "string", enum=("one_way", "there_and_back")),))
    known = view(inn, "hesk", WorldState())
    assert ground(inn, known, tool, "Just the one way, please.") == {"passage": ("one_way",)}
    assert ground(inn, known, tool, "There and back, we return Friday.") == {
        "passage": ("there_and_back",)}
    assert ground(inn, known, tool, "one way or there and back?") == {"passage": ()}
