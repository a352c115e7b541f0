"""A character's voice in the lore: persona.speech.examples and a fact's `says`."""

from __future__ import annotations

from pathlib import Path

import pytest

from npc_runtime.cli import main
from npc_runtime.lore.loader import check_world_files, load_world

VOICE = Path(__file__).parent / "voice_fixture"
BROKEN = Path(__file__).parent / "broken"
HARBOR = Path(__file__).parents[2] / "examples" / "worlds" / "harbor"
TOBIN_SAYS = "My Tobin went out with the herring fleet and never came back."


def test_examples_load_as_player_npc_pairs_in_order() -> None:
    """Each example exchange becomes a (player, npc) pair on the persona, in YAML order."""
    world = load_world(VOICE)
    expected = (
        ("Do you have a room for the night?",
         "Aye, the one over the kitchen. Warm, if you don't mind the smell of fish."),
        ("Where is everyone?", "Out with the boats, love. Back by dark, the ones that come back."),
    )
    assert expected == world.characters["maren"].persona.examples
    assert world.characters["old_pell"].persona.examples == ()


def test_says_loads_on_the_fact_and_defaults_to_empty() -> None:
    """A fact's says is its own line; a fact without one has the empty string."""
    world = load_world(VOICE)
    assert world.facts["tobin_lost"].says == TOBIN_SAYS
    assert world.facts["inn_rooms"].says == ""


def test_a_world_without_the_fields_loads_with_their_defaults() -> None:
    """The example world, which has neither field, gets no examples and no says."""
    world = load_world(HARBOR)
    assert set() == {c.id for c in world.characters.values() if c.persona.examples}
    assert set() == {f.id for f in world.facts.values() if f.says}


@pytest.mark.parametrize(("where", "message"), [
    ("voice_fields.yaml:9:11", "examples has 7 entries; the limit is 6"),
    ("voice_fields.yaml:9:13", "examples[0] needs 'npc'"),
    ("voice_fields.yaml:10:39", "examples[1].npc must be text, not a number"),
    ("voice_fields.yaml:11:22", "examples[2].player is empty"),
    ("voice_fields.yaml:12:39", "examples[3].npc is 309 characters; the limit is 300"),
    ("voice_fields.yaml:13:13", "examples[4] must be a mapping of keys, not text"),
    ("voice_fields.yaml:20:11", "facts[0].says must be text, not a list"),
    ("voice_fields.yaml:23:11", "facts[1].says is 565 characters; the limit is 500"),
])
def test_each_mistake_is_an_error_at_its_file_and_line(
    where: str, message: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every malformed example or says is reported where it is written, saying what's wrong."""
    monkeypatch.chdir(BROKEN)
    world, diagnostics = check_world_files(Path("voice_fields.yaml"))
    assert world is None
    errors = [f"{d.location} {d.message}" for d in diagnostics if d.severity == "error"]
    assert any(e.startswith(where) and message in e for e in errors), errors


def test_lore_show_prints_the_examples_and_says_lines(capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    """`lore show` lists the exchanges and the says of each fact the NPC knows, secrets marked."""
    assert main(["lore", "show", str(VOICE), "--npc", "maren"]) == 0
    out = capsys.readouterr().out
    card_end = out.index("## Example exchanges")
    assert out.index("## Prompt the model sees") < card_end
    assert ("- Player: Where is everyone? -> Maren: Out with the boats, love. Back by dark, "
            "the ones that come back.") in out
    assert f"## In their words\n- tobin_lost: {TOBIN_SAYS}\n" in out
    assert "- smugglers_cellar (withheld): There's a cellar under my kitchen." in out
    assert "inn_rooms:" not in out[card_end:]


def test_lore_show_gives_a_shared_says_to_every_npc_who_knows_the_fact(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """One says line serves all the fact's knowers: Old Pell (known_by) gets it too."""
    assert main(["lore", "show", str(VOICE), "--npc", "old_pell"]) == 0
    out = capsys.readouterr().out
    assert f"- tobin_lost: {TOBIN_SAYS}" in out
    assert "## Example exchanges\n- (none)\n" in out
