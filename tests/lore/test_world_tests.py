"""Conversation tests in a world (`tests:`): read with their place, checked like the lore,
and `lore validate` stays quick and model-free unless it has tests to play."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from npc_runtime.cli import main
from npc_runtime.lore.diagnostics import Location
from npc_runtime.lore.loader import check_world_files, load_world
from npc_runtime.lore.model import Exchange, ToolCall, WorldState
from npc_runtime.lore.schema import json_schema
from npc_runtime.lore.world_tests import exchanges, expectation

EXAMPLES = Path(__file__).parents[2] / "examples" / "worlds"
BROKEN = Path(__file__).parent / "broken"

WORLD = """\
world: {name: Tiny}
characters:
  - id: maren
    name: Maren
    persona: {traits: [warm]}
    inventory: [{item: room_key}]
    knows: [room_price]
    tools: [give_item]
    fallback_lines: ["Not now."]
items:
  - {id: room_key, name: room key}
facts:
  - {id: room_price, text: A room costs five coppers.}
quests:
  - id: noises
    name: Noises
    stages:
      - {id: asked, next: [{to: done, when: {option: Go on.}}]}
      - {id: done, end: complete}
tools:
  - id: give_item
    description: Give an item.
    executes: engine
    params: {item: {type: string, from: npc.inventory}}
"""

TESTS = """\
tests:
  - npc: maren
    line: "  Good evening.  "
    expect: none
  - npc: maren
    line: "Yes please."
    state: {stages: {noises: asked}, has: [room_key], revealed: [room_price]}
    history:
      - {player: "A key?", npc: "Here.", called: {tool: give_item, args: {item: room_key}}}
      - {npc: "Another?", proposed: {tool: give_item, args: {item: room_key}}}
    expect: {tool: give_item, args: {item: room_key}}
    note: a yes takes the offer
"""


def _world(folder: Path, tests: str = TESTS) -> Path:
    (folder / "world.yaml").write_text(WORLD)
    if tests:
        (folder / "tests.yaml").write_text(tests)
    return folder


def test_tests_load_with_their_place_state_history_and_expectation(tmp_path: Path) -> None:
    """Each test keeps where it was written, the player's state, the history and the call."""
    world = load_world(_world(tmp_path))
    first, second = world.tests
    assert Location("tests.yaml", 2, 5) == first.where
    assert (first.line, first.expect) == ("Good evening.", None)
    assert WorldState() == first.state
    assert WorldState({"noises": "asked"}, frozenset({"room_price"}),
                      frozenset({"room_key"})) == second.state
    assert (Exchange("Here.", "A key?", called=ToolCall("give_item", {"item": "room_key"})),
            Exchange("Another?", proposed=ToolCall("give_item", {"item": "room_key"}))
            ) == second.history
    assert ToolCall("give_item", {"item": "room_key"}) == second.expect
    assert second.note == "a yes takes the offer"


@pytest.mark.parametrize("name", ["harbor", "saltmere"])
def test_example_worlds_carry_conversation_tests(name: str) -> None:
    """Both examples show writers the section, with lines that expect none and calls."""
    tests = load_world(EXAMPLES / name).tests
    assert len(tests) >= 8
    assert any(t.expect is None for t in tests)
    assert any(t.expect is not None for t in tests)


def test_the_schema_publishes_the_tests_section() -> None:
    """Editors autocomplete `tests:`; expect is `none` or a call."""
    test = json_schema()["properties"]["tests"]["items"]
    assert test["required"] == ["npc", "line", "expect"]
    assert test["properties"]["expect"]["anyOf"][0]["enum"] == ["none"]
    assert test["properties"]["expect"]["anyOf"][1]["required"] == ["tool"]


def test_a_test_naming_a_tool_the_npc_lacks_is_an_error_at_its_line(tmp_path: Path) -> None:
    """The diagnostic points at the tool id in tests.yaml, and names the NPC's tools."""
    _world(tmp_path, "tests:\n  - {npc: maren, line: Hi., expect: {tool: shrug}}\n")
    (tmp_path / "more.yaml").write_text(
        "tools:\n  - {id: shrug, description: Shrug., executes: engine}\n")
    world, diagnostics = check_world_files(tmp_path)
    assert world is None
    assert [str(d) for d in diagnostics] == [
        "tests.yaml:2:44: error[not-npc-tool]: 'maren' cannot call 'shrug' "
        "(its tools: give_item)"]


def test_reading_a_bad_expectation_or_history_says_what_is_wanted() -> None:
    """The benchmark reads its lines with the same functions; bad shapes raise ValueError."""
    assert expectation("none") is None
    assert expectation(None) is None
    with pytest.raises(ValueError, match="expect is `none`"):
        expectation("nothing")
    with pytest.raises(ValueError, match="history is a list of mappings"):
        exchanges(["Hello."])
    with pytest.raises(ValueError, match=r"a call is \{tool: ID"):
        exchanges([{"npc": "Here.", "called": "give_item"}])


def test_validate_without_tests_never_touches_the_model(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A world without tests validates even when the model folder does not exist."""
    folder = _world(tmp_path, tests="")
    assert main(["lore", "validate", str(folder), "--model", str(tmp_path / "none")]) == 0
    out = capsys.readouterr().out
    assert "0 conversation tests" in out
    assert "running" not in out


def test_no_tests_skips_them_and_says_so(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """--no-tests: valid, exit 0, the skipped tests counted; JSON lists no results."""
    folder = _world(tmp_path)
    missing = str(tmp_path / "none")
    assert main(["lore", "validate", str(folder), "--no-tests", "--model", missing]) == 0
    assert "2 conversation test(s) skipped (--no-tests)" in capsys.readouterr().out
    assert main(["lore", "validate", str(folder), "--no-tests", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["valid"], report["tests"]) == (True, [])


def test_tests_without_a_built_model_say_which_command_builds_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """No traceback: one error line naming `npc-runtime model build` and --no-tests."""
    folder = _world(tmp_path)
    monkeypatch.setenv("NPC_CACHE_DIR", str(tmp_path / "empty-cache"))  # nothing built
    assert main(["lore", "validate", str(folder)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: the world's 2 conversation test(s) need the default "
                          "model, which is not built")
    assert "build it with `npc-runtime model build`" in err
    assert "--no-tests" in err
    assert "Traceback" not in err


def test_broken_tests_fail_validation_before_any_test_runs(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A world whose tests are wrong is invalid: exit 1 with file:line, nothing played."""
    monkeypatch.chdir(BROKEN)
    assert main(["lore", "validate", "world_tests.yaml", "--model", "none"]) == 1
    out = capsys.readouterr().out
    assert "world_tests.yaml:37:49: error[not-npc-tool]" in out
    assert "running" not in out
