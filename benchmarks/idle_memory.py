"""
KV memory of idle sessions: N players each had one turn with the same NPC and now wait.

Prints the KV pool's bytes with sessions kept behind the NPC's shared prefix (what the
server does) and, in the same run, with each session keeping its whole KV (the baseline).

    .venv/bin/python benchmarks/idle_memory.py [--sessions 16]
"""

from __future__ import annotations

import argparse
import asyncio

from npc_runtime.config import EXAMPLE_WORLD, Settings
from npc_runtime.dialogue.engine import DialogueEngine
from npc_runtime.logs import configure_logging
from npc_runtime.lore.loader import load_world
from npc_runtime.model.build import build_model, default_source, model_dir_for
from npc_runtime.model.encoder_build import load_default_encoder
from npc_runtime.model.loader import LoadedModel, load_model

LINES = ["How much is a room?", "Is the stew any good?", "Any news tonight?"]


async def _idle_bytes(model: LoadedModel, sessions: int, whole: bool) -> tuple[int, int, int]:
    engine = DialogueEngine(load_world(EXAMPLE_WORLD), model,
                            Settings(max_new_tokens=24, kv_cache_mb=2048),
                            embed=load_default_encoder(Settings.load().cache_dir).embed)
    if whole:  # the baseline: as if no prefix were cached, every session keeps all its KV
        engine.kv.has_prefix = lambda ids: False  # type: ignore[method-assign]
    try:
        params = engine.sampling(max_new_tokens=24)
        for i in range(sessions):
            session = engine.open_session("maren", f"player{i}")
            async for _ in engine.say(session.id, LINES[i % len(LINES)], params,
                                      tool_choice="none"):
                pass
        entries = engine.kv._entries
        prefixes = sum(1 for key in entries if key[0] == "prefix")
        return engine.kv.nbytes, sum(e.kv.length for e in entries.values()), prefixes
    finally:
        engine.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=16)
    args = parser.parse_args()
    configure_logging("console", "warning")
    out = model_dir_for(Settings.load().cache_dir, default_source(), "int4")
    build_model(default_source(), out, precision="int4", progress=lambda _: None)
    model = load_model(out, device="cpu")
    ours, ours_tokens, prefixes = asyncio.run(_idle_bytes(model, args.sessions, whole=False))
    baseline, baseline_tokens, _ = asyncio.run(_idle_bytes(model, args.sessions, whole=True))
    mb = 1 << 20
    print(f"{args.sessions} idle sessions of one NPC, one turn each; KV pool "
          f"(allocated MB, tokens held):")
    print(f"  behind the shared prefix ({prefixes} prefix): {ours / mb:7.1f} MB "
          f"{ours_tokens:6d} tokens")
    print(f"  whole KV per session (baseline):    {baseline / mb:7.1f} MB "
          f"{baseline_tokens:6d} tokens")
    print(f"  ratio: {ours / baseline:.2f} allocated, {ours_tokens / baseline_tokens:.2f} held")


if __name__ == "__main__":
    main()
