"""The learnt readers of what a line does: they generalise to lines written apart from
their examples, and their weights are kept on disk and read back alike."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from npc_runtime.lore.model import World
from npc_runtime.tools.act_model import ActModel
from npc_runtime.tools.acts import ACTING, Embed, SpeechActs

DATA = Path(__file__).parent / "data"


def _check(name: str) -> dict[str, list[str]]:
    return dict(yaml.safe_load((DATA / name).read_text(encoding="utf-8")))


def test_player_acts_are_read_right_on_lines_written_apart(speech_acts: SpeechActs,
                                                           world: World) -> None:
    """speech_acts_check.yaml: ~20 lines per act by the examples' writer, written after
    and apart from them. Most are read right; almost no line that asks for nothing acts.
    The yeses are read as answers to an offer (a yes answering none does nothing)."""
    lines = _check("speech_acts_check.yaml")
    right = acting_others = acting_asks = asks = 0
    for act, texts in lines.items():
        for text in texts:
            reading = speech_acts.read(world, text, answering=act == "yes")
            right += reading.act == act
            if act in ACTING:
                asks += 1
                acting_asks += reading.acting
            else:
                acting_others += reading.acting
    total = sum(map(len, lines.values()))
    assert right / total >= 0.85, (right, total)  # 90 % with the words beside the vector
    assert acting_others <= 5, acting_others  # of 141 (4 when written, 3 with the words)
    assert acting_asks / asks >= 0.75, (acting_asks, asks)  # 26 of 41 when written, 34
    # with the words; the rest are read less surely, and the NPC asks (no call is made)


def test_npc_offers_are_told_from_other_npc_lines(speech_acts: SpeechActs,
                                                  world: World) -> None:
    lines = _check("npc_acts_check.yaml")
    offers = [speech_acts.offers(world, text) >= 0.5 for text in lines["offer"]]
    others = [speech_acts.offers(world, text) >= 0.5 for text in lines["other"]]
    assert sum(offers) / len(offers) >= 0.9
    assert sum(others) <= 3


def test_weights_are_kept_on_disk_and_read_back_alike(embed: Embed, tmp_path: Path) -> None:
    first = ActModel(embed, "npc_acts.yaml", tmp_path)
    kept = list(tmp_path.glob("*.npz"))
    assert len(kept) == 1
    again = ActModel(embed, "npc_acts.yaml", tmp_path)
    line = "Fancy a bowl of soup? Two coins."
    assert np.allclose([p for _, p in first.probabilities(line)],
                       [p for _, p in again.probabilities(line)])
    # A world's extra lines make a second file, learnt from the first weights.
    again.probabilities(line, ("Soup me up, friend.",), "offer")
    assert len(list(tmp_path.glob("*.npz"))) == 2


def test_a_damaged_cache_file_is_learnt_again(embed: Embed, tmp_path: Path) -> None:
    ActModel(embed, "npc_acts.yaml", tmp_path)
    kept = next(tmp_path.glob("*.npz"))
    kept.write_bytes(b"not a numpy file")
    model = ActModel(embed, "npc_acts.yaml", tmp_path)
    assert model.probabilities("Want the key?")[0][0] == "offer"
    with np.load(kept) as again:  # rewritten whole
        assert again["weights"].shape[1] == len(model.acts)
