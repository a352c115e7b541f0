"""The lore compiler: exact file:line errors for broken worlds, hints, guards, examples."""

from __future__ import annotations

import json
import shutil
from collections import defaultdict
from pathlib import Path

import pytest
import yaml

from npc_runtime.cli import main
from npc_runtime.errors import LoreError
from npc_runtime.lore.diagnostics import WorldInvalidError
from npc_runtime.lore.loader import check_world_files, load_world

BROKEN = Path(__file__).parent / "broken"
EXAMPLES = Path(__file__).parents[2] / "examples" / "worlds"


def _expected() -> dict[str, list[str]]:
    cases: dict[str, list[str]] = defaultdict(list)
    for line in (BROKEN / "expected.txt").read_text().splitlines():
        case, error = line.split("\t")
        cases[case].append(error)
    return cases


EXPECTED = _expected()


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_broken_world_yields_exactly_the_expected_errors(
    case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each deliberately broken world gives these file:line:column errors and no others."""
    monkeypatch.chdir(BROKEN)
    world, diagnostics = check_world_files(Path(case))
    actual = sorted(f"{d.location} {d.code}" for d in diagnostics if d.severity == "error")
    assert world is None
    assert sorted(EXPECTED[case]) == actual


def test_every_broken_file_is_listed() -> None:
    """No broken fixture is left without expectations."""
    on_disk = {p.name for p in BROKEN.iterdir() if p.suffix == ".yaml" or p.is_dir()}
    assert set(EXPECTED) == on_disk


@pytest.mark.parametrize(("case", "hint"), [
    ("unknown_reference.yaml", "did you mean 'silent_bell'?"),
    ("unknown_key.yaml", "did you mean 'persona'?"),
    ("bad_id.yaml", "try 'maren_ashveil'"),
    ("tool_choice.yaml", "did you mean 'npc.inventory'?"),
    ("duplicate_id.yaml", "first defined at duplicate_id.yaml:4:9"),
    ("two_files", "did you mean 'maren'?"),
])
def test_errors_carry_an_actionable_hint(case: str, hint: str,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Misspellings get a suggestion; duplicates point at the first definition."""
    monkeypatch.chdir(BROKEN)
    _, diagnostics = check_world_files(Path(case))
    assert any(hint in d.hint for d in diagnostics), [str(d) for d in diagnostics]


@pytest.mark.parametrize("name", ["harbor", "saltmere"])
def test_example_worlds_are_valid_without_warnings(name: str) -> None:
    """The shipped examples compile cleanly."""
    world, diagnostics = check_world_files(EXAMPLES / name)
    assert world is not None
    assert [str(d) for d in diagnostics] == []


def test_load_world_raises_with_every_diagnostic(monkeypatch: pytest.MonkeyPatch) -> None:
    """load_world never returns a partial world: it raises with all errors."""
    monkeypatch.chdir(BROKEN)
    with pytest.raises(WorldInvalidError) as info:
        load_world(Path("quest_graph.yaml"))
    assert len(info.value.diagnostics) >= 6
    assert "quest_graph.yaml:10:13" in str(info.value)


def test_validate_cli_exit_codes_and_json(capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Exit 0 when valid, 1 when not; --format json is machine-readable."""
    assert main(["lore", "validate", str(EXAMPLES / "harbor"), "--no-tests"]) == 0
    capsys.readouterr()
    monkeypatch.chdir(BROKEN)
    assert main(["lore", "validate", "tools.yaml", "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is False
    assert report["errors"] == 3
    assert {d["code"] for d in report["diagnostics"]} >= {"empty-range", "unknown-param"}


def test_yaml_bomb_is_refused_quickly(tmp_path: Path) -> None:
    """Nested aliases that would expand to billions of values are stopped by a budget."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    lines.append("characters: *a8")
    (tmp_path / "bomb.yaml").write_text("\n".join(lines))
    world, diagnostics = check_world_files(tmp_path)
    assert world is None
    assert [d.code for d in diagnostics] == ["too-large"]


def test_huge_file_is_refused(tmp_path: Path) -> None:
    """A file over the size limit is refused before it is parsed."""
    (tmp_path / "big.yaml").write_text("facts: []\n" + "# padding\n" * 200_000)
    _, diagnostics = check_world_files(tmp_path)
    assert [d.code for d in diagnostics] == ["file-too-large"]


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    """Pathological nesting is an error, not a RecursionError."""
    (tmp_path / "deep.yaml").write_text("characters: " + "[" * 5000 + "]" * 5000)
    _, diagnostics = check_world_files(tmp_path)
    assert [d.code for d in diagnostics] in (["too-deep"], ["too-large"])


def test_non_utf8_is_refused(tmp_path: Path) -> None:
    """Bytes that are not UTF-8 give a clear error with the file name."""
    (tmp_path / "latin1.yaml").write_bytes("world: {name: Caf\xe9}".encode("latin-1"))
    _, diagnostics = check_world_files(tmp_path)
    assert [str(d.location) for d in diagnostics] == ["latin1.yaml:1:1"]
    assert diagnostics[0].code == "not-utf8"


@pytest.mark.parametrize(("text", "code"), [
    ("", "empty-world"),
    ("# only a comment\n", "empty-world"),
    ("world: {name: Ghost Town}\nitems:\n  - {id: lantern, name: Lantern}\n", "no-characters"),
    ("characters: []\n", "no-characters"),
])
def test_a_world_without_characters_is_an_error(tmp_path: Path, text: str, code: str) -> None:
    """An empty world, or one with no NPC, is invalid and the hint says what to add."""
    (tmp_path / "world.yaml").write_text(text)
    world, diagnostics = check_world_files(tmp_path)
    errors = [d for d in diagnostics if d.severity == "error"]
    assert world is None
    assert [code] == [d.code for d in errors]
    assert str(errors[0].location) == "world.yaml:1:1"
    assert "characters:" in errors[0].hint


def test_load_world_refuses_a_world_without_characters(tmp_path: Path) -> None:
    """serve's first load raises a LoreError naming the missing characters."""
    (tmp_path / "world.yaml").write_text("world: {name: Ghost Town}\n")
    with pytest.raises(LoreError, match="no characters"):
        load_world(tmp_path)


def test_validate_cli_fails_a_world_without_characters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """lore validate exits 1 and tells the writer to add a character."""
    (tmp_path / "world.yaml").write_text("world: {name: Ghost Town}\n")
    assert main(["lore", "validate", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "error[no-characters]" in out
    assert "add a character under characters:" in out


def test_an_item_a_quest_tool_guards_but_another_tool_sells_is_a_warning(tmp_path: Path
                                                                         ) -> None:
    """Wren sells from her stock; a quest tool hands the rope over only from a stage on:
    selling it would skip the quest, so validate says so where her tools are listed, and
    says nothing once the sale waits for a stage too."""
    world = tmp_path / "saltmere"
    shutil.copytree(EXAMPLES / "saltmere", world)
    tools = yaml.safe_load((world / "tools.yaml").read_text())
    tools["tools"].append({
        "id": "hand_rope", "description": "Hand over the rope for the bell tower.",
        "params": {"item": {"type": "string", "enum": ["rope"]}},
        "requires": {"stage": {"quest": "the_hidden_courier", "stage": "ask_around"},
                     "has_item": "item"},
        "executes": "engine", "effects": [{"give_player": "item"}]})
    (world / "tools.yaml").write_text(yaml.safe_dump(tools))
    characters = (world / "characters.yaml").read_text()
    (world / "characters.yaml").write_text(characters.replace(
        "tools: [open_shop, sell_item]", "tools: [open_shop, sell_item, hand_rope]"))
    _, diagnostics = check_world_files(world)
    found = [d for d in diagnostics if d.code == "quest-item-sold"]
    assert [(d.severity, d.location.line) for d in found] == [("warning", 72)], found
    assert "'wren' can give 'rope' through 'sell_item'" in found[0].message
    assert "ask_around" in found[0].message
    sale = next(t for t in tools["tools"] if t["id"] == "sell_item")
    sale["requires"]["stage"] = {"quest": "the_hidden_courier", "stage": "ask_around"}
    (world / "tools.yaml").write_text(yaml.safe_dump(tools))
    _, diagnostics = check_world_files(world)
    assert not [d for d in diagnostics if d.code == "quest-item-sold"]
