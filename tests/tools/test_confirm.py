"""Asking before acting (``tools/confirm.py``): a line read as a request, too unsurely to
act on, gets the NPC's offer of the call it may ask for; a sure one, an unlikely one, or
one naming nothing gets none."""

from __future__ import annotations

from pathlib import Path

import pytest

from npc_runtime.lore.knowledge import view
from npc_runtime.lore.loader import load_world
from npc_runtime.lore.model import World, WorldState
from npc_runtime.tools.acts import Reading
from npc_runtime.tools.confirm import ask_first, thing
from npc_runtime.tools.proposal import Proposal

WAYHOUSE = Path(__file__).parent / "wayhouse"


@pytest.fixture(scope="module")
def inn() -> World:
    return load_world(WAYHOUSE)


def _read(p: float, *, act: str = "request") -> Reading:
    """A line read as ``act`` at ``p`` (acting as the reader would: a request at >= 0.5)."""
    return Reading(act, p, ((act, p), ("remark", 1 - p)), acting=act == "request" and p >= 0.5,
                   acting_tools=frozenset({"give_item"}))


def _asks(inn: World, line: str, reading: Reading,
          proposal: Proposal | None = None) -> Proposal | None:
    return ask_first(inn, view(inn, "hesk", WorldState()), [], line, reading,
                     proposal=proposal)


def test_an_unsure_request_for_a_named_thing_is_offered_first(inn: World) -> None:
    pending = _asks(inn, "a bun, if you've one going", _read(0.42))
    assert pending is not None
    assert (pending.tool, pending.args) == ("give_item", {"item": "trail_bread"})
    assert thing(inn, pending.args) == "trail bread"


@pytest.mark.parametrize("reading", [_read(0.9), _read(0.2), _read(0.45, act="question")])
def test_a_sure_an_unlikely_or_another_act_is_not_asked_about(inn: World,
                                                             reading: Reading) -> None:
    """Sure: the turn acts as it is. Under the bar, or likelier a question: nothing."""
    assert _asks(inn, "a bun, if you've one going", reading) is None


def test_nothing_named_or_an_offer_waiting_is_not_asked_about(inn: World) -> None:
    assert _asks(inn, "well, if you've something going", _read(0.42)) is None
    waiting = Proposal("take_toll", {}, "the NPC offered it")
    assert _asks(inn, "a bun, if you've one going", _read(0.42), waiting) is None
