"""End to end: `npc-runtime lore validate` plays a world's conversation tests with the real
default model and fails, naming the test, when one does not hold."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

WORLD = """\
world: {name: Tiny Inn, setting: A small inn by a cold harbour.}
characters:
  - id: maren
    name: Maren
    role: innkeeper
    persona: {traits: [warm, blunt]}
    inventory: [{item: room_key, count: 2}]
    knows: [room_price]
    tools: [give_item]
    fallback_lines: ["Not now, love."]
items:
  - {id: room_key, name: room key, aliases: [key], price: 5}
facts:
  - {id: room_price, text: A room costs five copper pieces a night.}
tools:
  - id: give_item
    description: Give the player an item from the NPC's inventory.
    params: {item: {type: string, from: npc.inventory}}
    requires: {has_item: item}
    executes: engine
    effects: [{give_player: item}]
    examples: ["Could you hand it over?", "May I have it?", "Give it to me, please."]
"""

TESTS = """\
tests:
  - npc: maren
    line: "Good evening, Maren."
    expect: none
  - npc: maren
    line: "How much is a room?"
    expect: {tool: give_item, args: {item: room_key}}
    note: wrong on purpose
"""


def test_a_failing_conversation_test_fails_validation_and_is_named(
        tmp_path: Path, default_model_dir: Path, default_encoder_dir: Path) -> None:
    """Exit 1; the failing test by file:line with its line, what was expected and what
    happened, and the command that shows why; the passing one is reported ok."""
    (tmp_path / "world.yaml").write_text(WORLD)
    (tmp_path / "tests.yaml").write_text(TESTS)
    run = subprocess.run(
        [sys.executable, "-m", "npc_runtime", "lore", "validate", str(tmp_path),
         "--model", str(default_model_dir), "--encoder", str(default_encoder_dir)],
        capture_output=True, text=True, timeout=300, check=False)
    out = run.stdout
    assert run.returncode == 1, run.stdout + run.stderr
    assert "[1/2] ok   tests.yaml:2:5  maren: 'Good evening, Maren.'" in out
    assert "[2/2] FAIL tests.yaml:5:5  maren: 'How much is a room?'" in out
    assert 'expected give_item {"item": "room_key"}; got no call' in out
    assert "note: wrong on purpose" in out
    assert f"why: npc-runtime tools explain --world {tmp_path} --npc maren" in out
    assert "conversation tests: 1 passed, 1 failed" in out
    assert "Traceback" not in run.stderr
