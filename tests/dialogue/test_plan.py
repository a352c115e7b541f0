"""The reply plan: what a line should do, decided from the NPC's knowledge and the line,
with the real sentence encoder (lines here are ours, not the persona benchmark's)."""

from __future__ import annotations

import pytest

from npc_runtime.dialogue.plan import IDENTITY, Act, Embed, Planner, untold
from npc_runtime.lore.knowledge import view
from npc_runtime.lore.model import World, WorldState


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
