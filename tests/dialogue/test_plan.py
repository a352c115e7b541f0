"""The reply plan: what a line should do, decided from the NPC's knowledge and the line,
with the real sentence encoder (lines here are ours, not the persona benchmark's)."""

from __future__ import annotations

from pathlib import Path

import pytest

from npc_runtime.dialogue.fact_forms import fact_forms
from npc_runtime.dialogue.plan import IDENTITY, Act, Planner, untold
from npc_runtime.lore.knowledge import view
from npc_runtime.lore.loader import load_world
from npc_runtime.lore.model import World, WorldState
from npc_runtime.lore.voice import to_player
from npc_runtime.tools.acts import Embed

SALTMERE = Path(__file__).resolve().parents[2] / "examples" / "worlds" / "saltmere"


@pytest.fixture(scope="module")
def planner(embed: Embed) -> Planner:
    return Planner(embed)


@pytest.mark.parametrize(("line", "fact"), [
    ("What do I owe you for a bed tonight?", "room_price"),
    ("Is the tower always this quiet?", "silent_bell"),
    ("What's cooking tonight, and is it dear?", "eel_stew_price"),
    ("Are you married?", "tobin_lost"),  # Tobin is Maren's spouse in the lore
    ("Where is your husband these days?", "tobin_lost"),
])
def test_a_paraphrased_question_is_answered_with_the_fact_it_asks_about(
        planner: Planner, world: World, line: str, fact: str) -> None:
    """Retrieval by meaning: these share (almost) no word with their fact."""
    plan = planner.plan(world, view(world, "maren"), line)
    assert plan.act is Act.ANSWER
    assert plan.facts[0].id == fact
    assert fact in plan.why


@pytest.mark.parametrize(("line", "act", "kind"), [
    ("Good evening to you!", Act.GREETING, "greeting"),
    ("Right, I'm off. Be seeing you.", Act.FAREWELL, "farewell"),
    ("Much obliged, truly.", Act.SMALL_TALK, "thanks"),
    ("Where could I hire a horse and cart?", Act.DOES_NOT_KNOW, "question"),
    ("Are you some kind of computer program?", Act.SMALL_TALK, "meta"),
])
def test_lines_that_ask_about_no_fact_get_the_act_of_their_kind(
        planner: Planner, world: World, line: str, act: Act, kind: str) -> None:
    plan = planner.plan(world, view(world, "maren"), line)
    assert (plan.act, plan.kind) == (act, kind), plan.why
    assert plan.facts == ()


def test_who_are_you_is_answered_with_who_the_npc_is(planner: Planner, world: World) -> None:
    plan = planner.plan(world, view(world, "maren"), "And who might you be?")
    assert plan.act is Act.ANSWER
    assert [f.id for f in plan.facts] == [IDENTITY]
    assert "Maren Ashveil" in plan.facts[0].text


def test_a_line_about_what_the_npc_may_not_tell_yet_is_refused_not_denied(
        planner: Planner, world: World) -> None:
    """Before the quest starts, the cellar is Maren's to keep quiet about (she would be
    lying with "I don't know"); at 'trusted' she answers."""
    line = "Who is the stowaway hiding down in your cellar?"
    assert "cellar_stowaway" in {f.id for f in untold(world, view(world, "maren"))}
    plan = planner.plan(world, view(world, "maren"), line)
    assert plan.act is Act.WILL_NOT_TELL
    assert plan.facts == ()
    assert "cellar_" in plan.why
    later = planner.plan(world, view(world, "maren", WorldState({"noises_below": "trusted"})),
                         line)
    assert later.act is Act.ANSWER
    assert {f.id for f in later.facts} <= {"cellar_noises", "cellar_stowaway"}


def test_the_callers_facts_decide_the_plan(planner: Planner, world: World) -> None:
    """Tree generation names the facts a line must tell."""
    stew = world.facts["eel_stew_price"]
    plan = planner.plan(world, view(world, "maren"), "Hello.", (stew,))
    assert (plan.act, plan.facts) == (Act.ANSWER, (stew,))


@pytest.fixture(scope="module")
def saltmere() -> World:
    return load_world(SALTMERE)


def test_a_fact_about_the_player_is_matched_as_told_to_them(
        planner: Planner, saltmere: World) -> None:
    """"The player's boat is cleared" is read as "Your boat is cleared": a player asking
    about their own boat gets that, not the fee (which the third-person text lost to)."""
    known = view(saltmere, "oskar", WorldState({"harbour_dues": "cleared"}))
    plan = planner.plan(saltmere, known, "Is my boat free to stay at the docks now?")
    assert plan.act is Act.ANSWER
    assert plan.facts[0].id == "dues_paid", plan.why


def test_a_thing_asked_about_by_its_description_finds_its_fact_and_why_says_so(
        planner: Planner, saltmere: World) -> None:
    """Fog eels are "pale eels that come up the harbour in thick fog" in the lore; asked
    about by that, Wren tells the fact about them, and ``why`` names the description."""
    plan = planner.plan(saltmere, view(saltmere, "wren"),
                        "What are those pale things swimming in the harbour?")
    assert plan.act is Act.ANSWER
    assert plan.facts[0].id == "fog_eels_warning"
    assert "by the description of fog eel" in plan.why


def test_what_the_npc_may_not_tell_is_matched_by_its_own_words_only(
        planner: Planner, saltmere: World) -> None:
    """The clapper's description ("the iron tongue of the storm bell") is no form of the
    clapper facts Alder may not tell yet: a fair question about the bell is answered."""
    plan = planner.plan(saltmere, view(saltmere, "alder"), "What made the bell go quiet, brother?")
    assert plan.act is Act.ANSWER
    assert plan.facts[0].id == "silent_bell", plan.why


def test_a_question_after_small_talk_is_read_as_closely_as_on_its_own(
        planner: Planner, saltmere: World) -> None:
    """A line is read by sentence too: talk before the question does not dilute it."""
    known = view(saltmere, "alder")
    bare = planner.plan(saltmere, known, "When did the bell go quiet?")
    padded = planner.plan(saltmere, known,
                          "These stairs go on forever. My knees are done. "
                          "When did the bell go quiet?")
    assert padded.facts[:1] == bare.facts[:1] == (saltmere.facts["silent_bell"],)
    assert dict(padded.matches)["silent_bell"] >= dict(bare.matches)["silent_bell"] - 1e-6


def test_a_clause_after_a_semicolon_is_read_on_its_own(planner: Planner, saltmere: World
                                                       ) -> None:
    """Read whole, the line was nearer the cellar's noises (a secret: refused) than a
    room's price; its question, read on its own, is not."""
    plan = planner.plan(saltmere, view(saltmere, "maren"),
                        "Evening. I've walked all day; how much for a room, and is there "
                        "anything hot to eat?")
    assert plan.act is Act.ANSWER
    assert plan.facts[:1] == (saltmere.facts["room_price"],)


@pytest.mark.parametrize(("npc", "line"), [
    ("wren", "Lovely shop you've got."),
    ("oskar", "Nice ledgers."),
    ("alder", "These stairs will be the death of me."),
    ("elin_varro", "You look worn out."),
])
def test_remarks_that_name_the_npcs_things_get_no_fact(
        planner: Planner, saltmere: World, npc: str, line: str) -> None:
    plan = planner.plan(saltmere, view(saltmere, npc), line)
    assert plan.facts == (), plan.why


def test_fact_forms_are_the_lores_own_sentences_without_repeats(saltmere: World) -> None:
    fact, npc = saltmere.facts["dues_paid"], saltmere.character("oskar")
    forms = fact_forms(fact, npc, saltmere)
    texts = [f.text for f in forms]
    assert texts[0] == fact.text
    assert "Your boat is cleared to tie up at Saltmere's docks." in texts
    assert len(texts) == len(set(texts))
    eels = fact_forms(saltmere.facts["fog_eels_warning"], saltmere.character("wren"), saltmere)
    described = [f for f in eels if f.source]
    assert [f.source for f in described] == ["the description of fog eel"]
    assert saltmere.entities["fog_eel"].description in described[0].text
    assert to_player("The player owes the player's fee.") == "You owes your fee."


def test_a_request_shaped_like_ai_bait_is_not_read_as_real_world_talk(
        planner: Planner, saltmere: World) -> None:
    """"Can you teach me to sail?" is a question Wren cannot answer, not talk of the real
    world (it read so beside "Can you book me a flight?"); "Are you an AI?" is."""
    known = view(saltmere, "wren")
    assert planner.plan(saltmere, known, "Can you teach me to sail?").act is Act.DOES_NOT_KNOW
    bait = planner.plan(saltmere, known, "Are you an AI?")
    assert (bait.act, bait.kind) == (Act.SMALL_TALK, "meta")


def test_a_follow_up_is_read_with_the_line_before_it(planner: Planner, saltmere: World
                                                     ) -> None:
    """"where is he now?" names no fact on its own (Maren does not know); after "Are you
    married?" it asks about her husband. A remark after a question stays a remark."""
    known = view(saltmere, "maren")
    assert planner.plan(saltmere, known, "where is he now?").act is not Act.ANSWER
    plan = planner.plan(saltmere, known, "where is he now?", previous="Are you married?")
    assert [f.id for f in plan.facts] == ["tobin_lost"], plan.why
    assert "read with the line before it" in plan.why
    plan = planner.plan(saltmere, known, "how long ago?",
                        previous="Why doesn't the bell ring any more?")
    assert [f.id for f in plan.facts] == ["silent_bell"], plan.why
    chat = planner.plan(saltmere, known, "what a shame. anyway, nice weather",
                        previous="Why doesn't the bell ring any more?")
    assert chat.act is Act.SMALL_TALK
