"""What a line does, read by the sentence encoder; a tool that changes the game waits for a
request or a yes (issue 18's misfires: prices, remarks with numbers, hesitations)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from npc_runtime.lore.knowledge import view
from npc_runtime.lore.loader import load_world
from npc_runtime.lore.model import Tool, World, WorldState
from npc_runtime.model.tokenizer import Message
from npc_runtime.tools.acts import (
    Reading,
    SpeechActs,
    acting_at,
    changes_game,
    waits_for_asking,
)
from npc_runtime.tools.calls import meant
from npc_runtime.tools.choice import offer, wanted
from npc_runtime.tools.intents import KIND_EXAMPLES, examples
from npc_runtime.tools.proposal import Proposal, proposed

SALTMERE = Path(__file__).parents[2] / "examples" / "worlds" / "saltmere"


@pytest.fixture(scope="module")
def saltmere() -> World:
    return load_world(SALTMERE)


@pytest.fixture(scope="module")
def acts(speech_acts: SpeechActs) -> SpeechActs:
    return speech_acts


@pytest.mark.parametrize("line", [
    "Could you hand me the rope? Here's four coppers.",
    "I'll take a flask of lamp oil.",
    "Sell me two of those salves.",
])
def test_a_request_is_read_as_one(acts: SpeechActs, saltmere: World, line: str) -> None:
    reading = acts.read(saltmere, line)
    assert reading.acting, reading


@pytest.mark.parametrize("line", [
    "How much is the eel stew?",  # a price asked is no purchase
    "Is the lamp oil any good?",
    "I would rather not.",  # after an offer: no
    "I will think about it.",
    "I am fine, thanks.",
    "Don't you have anything cheaper?",
    "I walked over 2 miles to get here.",  # numbers in a remark bound nothing
    "I met a man under a bridge.",
    "Good morning, harbour master.",
])
def test_lines_that_ask_for_nothing_are_not_read_as_acting(acts: SpeechActs, saltmere: World,
                                                           line: str) -> None:
    reading = acts.read(saltmere, line)
    assert not reading.acting, reading


@pytest.mark.parametrize("line", ["aye go on then", "it's done. oskar has your letter"])
def test_a_yes_that_answers_no_offer_does_not_act(acts: SpeechActs, saltmere: World,
                                                  line: str) -> None:
    """Yes answers only a pending offer: with none, "it's done" (read as a yes) had Elin
    hand her letter over to the player who had just delivered it."""
    assert not acts.read(saltmere, line).acting
    assert acts.read(saltmere, line, answering=True).acting


def test_what_follows_a_yes_that_answers_no_offer_is_read(acts: SpeechActs,
                                                          saltmere: World) -> None:
    reading = acts.read(saltmere, "fine, here's your silver, take it")
    assert reading.acting, reading
    assert reading.after_yes == "here's your silver, take it"


@pytest.mark.parametrize("line", ["I'll have it.", "I'll take it", "yeah go on, I'll have it"])
def test_short_requests_are_requests(acts: SpeechActs, saltmere: World, line: str) -> None:
    """They read as a no once ("I'll have it": no 0.59), like "I'll leave it"."""
    assert acts.read(saltmere, line).act == "request"


def test_only_tools_that_give_or_move_a_quest_change_the_game(saltmere: World) -> None:
    tools = saltmere.tools
    assert changes_game(tools["give_item"])
    assert changes_game(tools["collect_harbour_fee"])
    assert not changes_game(tools["open_shop"])


def test_a_tool_that_changes_the_game_waits_for_a_line_that_acts(saltmere: World) -> None:
    """Maren holds the stew and it is named: offered only when the line acts; then, with no
    example matching, the one such tool on offer is what the line asks for."""
    known = view(saltmere, "maren")
    line = "One eel stew, love."
    talk = [("user", line)]
    assert "give_item" not in offer(saltmere, known, talk, line, set(), acting=False)
    offered = offer(saltmere, known, talk, line, set(), acting=True)
    assert "give_item" in offered
    request = Reading("request", 0.9, acting=True)
    assert wanted(saltmere, known, [], line, offered, reading=request) == ["give_item"]
    remark = Reading("remark", 0.9)
    assert wanted(saltmere, known, [], line, offered, reading=remark) == []


def test_a_count_the_player_states_is_the_count_offered(saltmere: World) -> None:
    """"Two flasks" offers the count 2 only; of two numbers, the one before the thing's
    name; a number that is not before it counts nothing."""
    known = view(saltmere, "wren")
    line = "I'll take two flasks of lamp oil."
    offered = offer(saltmere, known, [("user", line)], line, set(), acting=True)
    counts = {p.name: v for p, v in offered["sell_item"]}
    assert counts["count"] == ("2",)
    line = "Here's 9 coppers, three flasks of lamp oil."
    offered = offer(saltmere, known, [("user", line)], line, set(), acting=True)
    assert {p.name: v for p, v in offered["sell_item"]}["count"] == ("3",)
    line = "I walked 2 miles for your lamp oil. Sell me some."
    offered = offer(saltmere, known, [("user", line)], line, set(), acting=True)
    assert {p.name: v for p, v in offered["sell_item"]}["count"] == ()


def test_the_answer_to_an_offer_is_read_from_its_first_clause(acts: SpeechActs,
                                                                saltmere: World) -> None:
    """While the NPC's offer waits, the line's first clause is its answer: "sure" or
    "yes" there accepts the offer whatever the rest says; "hmm, not yet" or "no" does not,
    even when a later clause asks for something."""
    for line in ("sure, I'll carry it home myself and try it on the way",
                 "yes, twelve it is", "Yes please, I'm starving."):
        reading = acts.read(saltmere, line, answering=True)
        assert reading.accepts, (line, reading)
        assert reading.acting
    for line in ("Hmm, not yet, I'd feel daft wearing it. Could you just wrap it?",
                 "No, not today.", "Not today, thanks."):
        reading = acts.read(saltmere, line, answering=True)
        assert not reading.accepts, (line, reading)
    assert acts.read(saltmere, "yes, twelve it is").answer == ""  # no offer: not read


def test_tools_explain_says_why_each_tool_is_called_or_not(
        capsys: pytest.CaptureFixture[str], default_encoder_dir: Path) -> None:
    """The designer's view: the reading, each tool's fate, the call."""
    from npc_runtime.cli import main

    base = ["tools", "explain", "--world", str(SALTMERE), "--npc", "wren",
            "--encoder", str(default_encoder_dir)]
    assert main([*base, "Is the lamp oil any good?"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("the line reads as question")
    assert any(line.startswith("sell_item: not offered: it gives") for line in out)
    assert out[-1] == "the NPC calls nothing and speaks"
    assert main([*base, "I'll take two flasks of lamp oil."]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "'count': ('2',)" in next(line for line in out if line.startswith("sell_item"))
    assert out[-1] == "the NPC calls sell_item"


def test_an_npcs_own_request_examples_are_learnt_as_requests(acts: SpeechActs,
                                                             saltmere: World) -> None:
    """A game-changing tool's authored examples join the requests for that NPC: its
    players' way of asking ("Oi, bag me up a portion.") is read as a request."""
    give = saltmere.tools["give_item"]
    slang = ("Oi, bag me up a portion.", "Bag me up a portion, go on.",
             "Bag us a portion, mate.")
    tool = dataclasses.replace(give, examples=slang)
    assert acts.read(saltmere, "Oi, bag me up a portion, mate.", tools=[tool]).act == "request"


def test_only_a_line_read_as_a_yes_accepts_the_npcs_offer(acts: SpeechActs) -> None:
    """After a sale and "Shall I equip it now?", "I would rather not." (it starts like
    "I would") and the like do not equip the weapon; a real yes does."""
    forge = load_world(Path(__file__).parent / "forge")
    known = view(forge, "brann")
    history: list[Message] = [("user", "I'll take the Reed Bow."),
                              ("assistant", "Sold! It's yours. Shall I equip it now?")]

    pending = Proposal("equip", {"item": "reed_bow"}, "equip follows buy")

    def called(line: str) -> list[str]:
        reading = acts.read(forge, line, tools=known.tools, answering=True)
        offered = offer(forge, known, [*history, ("user", line)], line, set(),
                        reading=reading, proposal=pending)
        return wanted(forge, known, history, line, offered, reading=reading, proposal=pending)

    for line in ("I would rather not.", "I will think about it.", "I am fine, thanks."):
        assert called(line) == [], line
    assert called("Sure, go ahead.") == ["equip"]


def _proposal(acts: SpeechActs, world: World, npc: str, said: str, *,
              calls: tuple[tuple[str, dict[str, object]], ...] = (),
              state: WorldState | None = None) -> Proposal | None:
    known = view(world, npc, state or WorldState())
    return proposed(world, known, calls, said, acts)


def test_an_npc_line_that_offers_a_thing_leaves_its_tool_pending(acts: SpeechActs,
                                                                 saltmere: World) -> None:
    """The NPC named the thing and offered it: the yes that follows hands it over."""
    stew = _proposal(acts, saltmere, "maren", "Bowl of eel stew, love? Two coppers.")
    assert stew is not None
    assert (stew.tool, dict(stew.args)) == ("give_item", {"item": "eel_stew"})
    owed = WorldState(stages={"harbour_dues": "owed"})
    fee = _proposal(acts, saltmere, "oskar", "One silver piece to tie up. Pay now?",
                    state=owed)
    assert fee is not None
    assert fee.tool == "collect_harbour_fee"


@pytest.mark.parametrize("said", [
    "What brings you to Saltmere, stranger?",  # a question that proposes nothing
    "The stew is two coppers; the eel came in this morning.",  # a price told
    "My husband sailed with the herring fleet.",
])
def test_an_npc_line_that_offers_nothing_leaves_nothing_pending(acts: SpeechActs,
                                                                saltmere: World,
                                                                said: str) -> None:
    assert _proposal(acts, saltmere, "maren", said) is None


def test_a_call_that_asks_for_confirmation_leaves_its_tool_pending(acts: SpeechActs) -> None:
    forge = load_world(Path(__file__).parent / "forge")
    pending = _proposal(acts, forge, "brann", "The Frost Axe, then?",
                        calls=(("confirm_buy", {"item": "frost_axe"}),))
    assert pending == Proposal("buy", {"item": "frost_axe"}, "buy is confirmed by confirm_buy")
    assert Proposal.from_json(pending.to_json()) == pending
    assert Proposal.from_json("") is None
    assert Proposal.from_json("{not json") is None


def test_a_tools_own_acting_at_sets_how_sure_the_reading_must_be(saltmere: World) -> None:
    """A designer lowers the bar for one tool ("Here is my silver.") and raises it for
    another; a line that is not a request or a yes never acts, whatever the bar."""
    fee = saltmere.tools["collect_harbour_fee"]
    assert fee.acting_at == 40  # set in the example world
    oskar = saltmere.characters["oskar"]
    assert acting_at(saltmere, oskar, fee) == 40
    unsure = Reading("request", 0.45, acting=False)
    assert unsure.acts_for(40)
    assert not unsure.acts_for(None)  # the default bar
    assert not Reading("request", 0.6, acting=True).acts_for(70)
    assert not Reading("question", 0.99).acts_for(1)
    assert Reading("remark", 0.4, answer="yes").acts_for(40)  # "sure, ...": the offer
    # The tool's own bar wins, then the NPC's, then the world's.
    plain = dataclasses.replace(fee, acting_at=None)
    assert acting_at(saltmere, oskar, plain) is None
    assert acting_at(dataclasses.replace(saltmere, acting_at=60), oskar, plain) == 60
    assert acting_at(dataclasses.replace(saltmere, acting_at=60),
                     dataclasses.replace(oskar, acting_at=45), plain) == 45



def test_a_tools_own_examples_make_a_less_sure_request_enough(acts: SpeechActs,
                                                              saltmere: World) -> None:
    """Read as a request below the bar, a line that matches a game-changing tool's
    examples still asks for it; one that matches none does not."""
    wren = view(saltmere, "wren")
    line = "Here's eight coppers, I'll have one of those salves."
    reading = Reading("request", 0.45)
    offered = offer(saltmere, wren, [("user", line)], line, set(), reading=reading)
    assert "sell_item" in offered
    line = "The salves look fine, eight coppers is fair."
    assert "sell_item" not in offer(saltmere, wren, [("user", line)], line, set(),
                                    reading=Reading("remark", 0.45))


def test_a_quest_moving_tool_without_examples_is_asked_by_its_kinds_lines(
        acts: SpeechActs, saltmere: World) -> None:
    """The harbour fee moves a quest, hands nothing over and has no examples: the built-in
    lines of its kind ask for it (not the model), and only at the full bar, as a request;
    a greeting or a question about the fee never does. A tool's own examples stay its
    own."""
    fee = saltmere.tools["collect_harbour_fee"]
    assert examples(fee) == KIND_EXAMPLES["moves_quest"]
    assert examples(saltmere.tools["open_shop"]) == saltmere.tools["open_shop"].examples
    oskar = view(saltmere, "oskar", WorldState(stages={"harbour_dues": "owed"}))

    def called(line: str, reading: Reading | None = None) -> list[str]:
        reading = reading or acts.read(saltmere, line, tools=oskar.tools)
        offered = offer(saltmere, oskar, [("user", line)], line, set(), reading=reading)
        return wanted(saltmere, oskar, [], line, offered, reading=reading)

    assert called("Here you are, take it, and settle my papers.") == ["collect_harbour_fee"]
    for line in ("Good morning, harbour master.", "How much is the fee to tie up here?"):
        assert called(line) == [], line
    # Matching the built-in lines does not lower the bar as a writer's examples do.
    assert called("Here you are, take it.", Reading("request", 0.3)) == []


def test_a_question_in_the_first_clause_does_not_accept_an_offer(acts: SpeechActs,
                                                                 saltmere: World) -> None:
    """"a whole silver? for that rotten pier?" after "Will you pay now?" haggles: its
    first clause is read with its question mark, as a question, not as a yes."""
    reading = acts.read(saltmere, "a whole silver? for that rotten pier?", answering=True)
    assert not reading.accepts
    assert acts.read(saltmere, "fine, take it", answering=True).accepts


def test_a_price_told_as_an_answer_is_no_offer(acts: SpeechActs) -> None:
    """Maren answering what a room costs offers nothing a "That sounds fine." could
    accept: the key is not handed over (it was, once the NPC reader learnt words)."""
    harbor = load_world(Path(__file__).parents[2] / "examples" / "worlds" / "harbor")
    said = "A room at Gull and Lantern for a night costs five copper coins."
    assert _proposal(acts, harbor, "maren", said) is None


def _with_tools(world: World, npc: str, *tools: Tool) -> World:
    """``world`` with ``tools`` added (or replaced) and given to ``npc``."""
    character = world.characters[npc]
    ids = tuple(dict.fromkeys([*character.tools, *(t.id for t in tools)]))
    return dataclasses.replace(
        world, tools={**world.tools, **{t.id: t for t in tools}},
        characters={**world.characters, npc: dataclasses.replace(character, tools=ids)})


def test_a_tool_without_examples_waits_for_a_line_that_asks(acts: SpeechActs,
                                                            saltmere: World) -> None:
    """An action with no examples is not left to the model on any line naming its thing:
    a fitter of gear fitted mittens for "what do they cost?"."""
    fit = dataclasses.replace(saltmere.tools["sell_item"], id="fit_gear", examples=(),
                              gives_player=None, requires_has_item=None, description="Fit gear.")
    world = _with_tools(saltmere, "wren", fit)
    wren = view(world, "wren")
    assert fit in wren.tools
    for line in ("How much is the lamp oil?", "I'd rather not.", "Is the salve any good?"):
        reading = acts.read(world, line, tools=wren.tools)
        assert "fit_gear" not in offer(world, wren, [("user", line)], line, set(),
                                       reading=reading), line


def test_a_tool_asked_for_with_requests_waits_for_one(acts: SpeechActs,
                                                      saltmere: World) -> None:
    """A tool whose examples are requests (mending) is not set off by a question that
    shares its words; a tool asked for with questions still is."""
    mend = dataclasses.replace(
        saltmere.tools["sell_item"], id="mend_gear", gives_player=None, requires_has_item=None,
        examples=("Mend it, please.", "Fix my lamp.", "Repair this for me.",
                  "Patch it up, would you?", "Sort out this broken strap."))
    world = _with_tools(saltmere, "wren", mend)
    wren = view(world, "wren")
    assert acts.acts_on(world, mend)
    assert not acts.acts_on(world, world.tools["open_shop"])  # "What do you have for sale?"
    line = "what would you charge to mend the lamp oil flask?"
    reading = acts.read(world, line, tools=wren.tools)
    assert "mend_gear" not in offer(world, wren, [("user", line)], line, set(),
                                    reading=reading)


def test_a_tool_that_follows_another_waits_for_its_call(saltmere: World) -> None:
    """Fitting follows a sale: "I'll take two" before any sale is the sale, not a fitting."""
    fit = dataclasses.replace(saltmere.tools["sell_item"], id="fit_gear", examples=(),
                              gives_player=None, requires_has_item=None, follows="sell_item")
    world = _with_tools(saltmere, "wren", fit)
    wren = view(world, "wren")
    line = "I'll take two flasks of lamp oil."
    request = Reading("request", 0.95, acting=True)
    offered = offer(world, wren, [("user", line)], line, set(), reading=request)
    assert "fit_gear" not in offered
    assert wanted(world, wren, [], line, offered, reading=request) == ["sell_item"]
    sold = [("user", "Two flasks of oil."), ("assistant", '[sell_item] {"item": "lamp_oil"}'),
            ("user", line)]
    assert "fit_gear" in offer(world, wren, sold, line, set(), reading=request)


def test_a_request_closing_a_line_after_a_remark_acts(acts: SpeechActs,
                                                      saltmere: World) -> None:
    """Read whole, the remark first made the line a remark; a question closing it still
    asks nothing."""
    line = "Money is no worry today, so the rope seems a good choice. I would like to buy it."
    assert acts.read(saltmere, line).acting
    line = "Eight coppers for a pot of salve... don't you have a smaller one, cheaper?"
    assert not acts.read(saltmere, line).acting


def test_an_aside_closing_a_remark_is_no_request(acts: SpeechActs) -> None:
    """"Clumsy me." alone reads as an order; after a remark it asks for nothing (Maren
    handed over the room key the player said they had lost once)."""
    harbor = load_world(Path(__file__).parents[2] / "examples" / "worlds" / "harbor")
    line = "Ha, I lost my room key the last time I stayed here. Clumsy me."
    assert not acts.read(harbor, line).acting


def test_an_offer_of_a_tool_that_acts_without_changing_the_game_is_pending(
        acts: SpeechActs, saltmere: World) -> None:
    """Mending changes nothing in the game's state, but it acts for the player: the
    NPC offering it leaves the mending pending, as an offer to sell would."""
    mend = dataclasses.replace(
        saltmere.tools["sell_item"], id="mend_gear", gives_player=None, requires_has_item=None,
        params=(), examples=("Mend it, please.", "Fix my lamp.", "Repair this for me.",
                             "Patch it up, would you?", "Sort out this broken strap."))
    world = _with_tools(saltmere, "wren", mend)
    assert not waits_for_asking(mend)
    pending = _proposal(acts, world, "wren", "I can patch that up for you. Three coppers?")
    assert pending is not None
    assert pending.tool == "mend_gear"


def test_more_of_what_was_just_sold_is_offered_for_the_same_thing(acts: SpeechActs,
                                                                   saltmere: World) -> None:
    """After a sale, "Another for the road?" offers the same thing again, one more: not
    the count just sold."""
    pending = _proposal(acts, saltmere, "wren", "There you are. Another for the road?",
                        calls=(("sell_item", {"item": "lamp_oil", "count": 2}),))
    assert pending is not None
    assert (pending.tool, dict(pending.args)) == ("sell_item", {"item": "lamp_oil"})
    told = _proposal(acts, saltmere, "wren", "There you are. Mind the wick.",
                     calls=(("sell_item", {"item": "lamp_oil", "count": 2}),))
    assert told is None or told.tool != "sell_item"


@pytest.mark.parametrize("line", ["hold on, let me finish my drink",
                                  "not yet, let me sort my pack first",
                                  "after supper, let me eat first"])
def test_putting_an_offer_off_to_do_something_first_does_not_accept_it(
        acts: SpeechActs, saltmere: World, line: str) -> None:
    reading = acts.read(saltmere, line, answering=True)
    assert not reading.accepts, (line, reading)
    assert not reading.acting, (line, reading)


def test_a_request_that_means_a_thing_without_naming_it_gets_that_thing(
        acts: SpeechActs, saltmere: World) -> None:
    """"A bed" is no word of the room key's name, but the room is what the line means:
    by the sentence encoder, the key's name and facts lie nearest, and far nearer than
    the stew's. The line's one number is the price, not a count, when the thing is only
    meant. A line that means nothing in particular gets no guess."""
    maren = view(saltmere, "maren")
    line = "I need a bed tonight, here's five coppers."
    reading = acts.read(saltmere, line, tools=maren.tools)
    offered = offer(saltmere, maren, [("user", line)], line, set(), reading=reading)
    assert {p.name: v for p, v in offered["give_item"]} == {"item": ("room_key",)}
    assert wanted(saltmere, maren, [], line, offered, reading=reading) == ["give_item"]
    item = saltmere.tools["give_item"].params[0]
    assert acts.embed is not None
    assert meant(saltmere, maren, item, "give me something", acts.embed) == ()
    line = "Give me something, quick."
    reading = acts.read(saltmere, line, tools=maren.tools)
    assert "give_item" not in offer(saltmere, maren, [("user", line)], line, set(),
                                    reading=reading)


def test_courtesy_before_an_answer_is_not_the_answer(acts: SpeechActs,
                                                     saltmere: World) -> None:
    """Thanks or a greeting first is said before the answer: what follows answers."""
    for line in ("Thank you, brother, I'll take it gladly.", "Hello, yes please."):
        assert acts.read(saltmere, line, answering=True).accepts, line
    for line in ("Thank you.", "Thanks, but no.", "Thanks, I'll think about it.",
                 "thanks! how much is it?"):
        assert not acts.read(saltmere, line, answering=True).accepts, line
