"""The KNUDGE importer, on a fixture of our own writing in KNUDGE's format."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from npc_runtime.lore.knudge import UNAVAILABLE, import_knudge
from npc_runtime.lore.loader import load_world

FIXTURE = Path(__file__).parent / "knudge_fixture" / "quest_files"
SHARED = Path(os.environ.get("NPC_KNUDGE_DATA",
                             Path(__file__).parents[3] / "shared" / "data" / "knudge-train"))


def test_fixture_quest_becomes_a_valid_world(tmp_path: Path) -> None:
    """Characters, stages, dialogue specs and gold trees come across; the world validates."""
    report = import_knudge(FIXTURE, tmp_path, progress=lambda _: None)
    assert (report["quests"], report["converted"], report["invalid"]) == (1, 1, 0)
    world = load_world(tmp_path / "lost_lamp")
    assert set(world.characters) == {"hobb_tallow", "pell_moor"}
    assert world.characters["hobb_tallow"].knows == ("hobb_tallow_01", "hobb_tallow_02")
    assert [s.id for s in world.quests["lost_lamp"].stages] == ["o0", "o1", "o2"]
    assert world.quests["lost_lamp"].stages[-1].end == "complete"
    spec = world.dialogues["lost_lamp_00"]
    assert (spec.entry_stage, spec.unlock_stage, spec.participants) == ("o0", "o1",
                                                                        ("hobb_tallow",))
    assert (tmp_path / "lost_lamp" / "gold" / "lost_lamp_00.json").is_file()


def test_redacted_objective_facts_are_marked_not_invented(tmp_path: Path) -> None:
    """offset:length rows become unavailable facts with placeholder text."""
    import_knudge(FIXTURE, tmp_path, progress=lambda _: None)
    world = load_world(tmp_path / "lost_lamp")
    assert world.facts["o0_b1"].available is False
    assert world.facts["o0_b1"].text == UNAVAILABLE
    assert world.facts["o0_s1"].available is True
    # The quest-log line is redacted, so the stage takes the walkthrough line instead.
    assert world.quests["lost_lamp"].stages[1].objective == (
        "Pell Moor sells lamp glass on the causeway.")
    assert world.facts["gannet_rock_01"].text == (
        'Gannet Rock is a bare island with a "lighthouse" and a thousand birds.')


@pytest.mark.skipif(not SHARED.is_dir(), reason="KNUDGE research data not present")
def test_every_knudge_train_quest_converts_and_validates(tmp_path: Path) -> None:
    """All quests of the research data convert into valid worlds."""
    report = import_knudge(SHARED, tmp_path, progress=lambda _: None)
    assert report["quests"] >= 29
    assert report["invalid"] == 0, report["errors"]
    assert report["converted"] == report["quests"]
