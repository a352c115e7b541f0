"""
``npc-runtime lore validate``: the compiler's checks, then the world's conversation tests.

The checks need no model and stay quick; the tests (``tests:`` in the YAML) need the
default model and the sentence encoder, which are only loaded when the world has tests
and ``--no-tests`` was not given. A missing model is not built here (minutes, and the
export extra): the error says which command builds it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import shlex
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from npc_runtime.config import Settings
from npc_runtime.errors import ModelError, ModelNotFoundError
from npc_runtime.lore.diagnostics import document, render
from npc_runtime.lore.loader import check_world_files
from npc_runtime.lore.model import ToolCall, World, WorldTest

if TYPE_CHECKING:
    from npc_runtime.dialogue.engine import DialogueEngine
    from npc_runtime.dialogue.world_tests import Outcome

MAX_NEW_TOKENS = 24  # the reply after the calls is not judged: keep it short


def validate(path: Path, *, fmt: str, tests: bool, settings: Settings) -> int:
    """
    Check the world at ``path``; then, with ``tests``, play its conversation tests.
    Prints the report (``fmt``: text or json); returns the exit code: 1 on an error or
    a failing test.

    Raises:
        ModelError: The world has tests and the model or encoder is not built or broken.
    """
    world, diagnostics = check_world_files(path)
    if fmt == "text":
        print(render(diagnostics, fmt))
        if world is not None:
            print(f"valid: {world.name!r}, {len(world.characters)} characters, "
                  f"{len(world.facts)} facts, {len(world.quests)} quests, "
                  f"{len(world.tests)} conversation tests, version {world.version}")
    outcomes: list[Outcome] = []
    if world is not None and world.tests:
        if tests:
            outcomes = _run(world, path, fmt, settings)
        else:
            _say(fmt, f"{len(world.tests)} conversation test(s) skipped (--no-tests)")
    if fmt == "json":
        print(json.dumps({**document(diagnostics),
                          "tests": [_as_dict(o) for o in outcomes]}, indent=2))
    return 0 if world is not None and all(o.passed for o in outcomes) else 1


def _run(world: World, path: Path, fmt: str, settings: Settings) -> list[Outcome]:
    from npc_runtime.dialogue.world_tests import run_tests

    count = len(world.tests)
    _say(fmt, f"running {count} conversation test(s) with the default model "
         "(--no-tests skips them) ...")
    started = time.perf_counter()
    engine = _engine(world, settings, count)
    try:
        def done(n: int, outcome: Outcome) -> None:
            _say(fmt, f"[{n + 1}/{count}] {'ok  ' if outcome.passed else 'FAIL'} "
                 f"{outcome.test.where}  {outcome.test.npc}: {outcome.test.line!r}")
            if not outcome.passed:
                _say(fmt, "\n".join(f"      {line}" for line in _failure(outcome, path)))

        outcomes = asyncio.run(run_tests(engine, world.tests, done))
    finally:
        engine.shutdown()
    failed = [o for o in outcomes if not o.passed]
    _say(fmt, f"conversation tests: {count - len(failed)} passed, {len(failed)} failed "
         f"({time.perf_counter() - started:.0f} s)")
    return outcomes


def _engine(world: World, settings: Settings, count: int) -> DialogueEngine:
    """An engine over the default model that keeps no state on disk."""
    from npc_runtime.dialogue.engine import DialogueEngine
    from npc_runtime.model.build import default_source, model_dir_for
    from npc_runtime.model.encoder import load_encoder
    from npc_runtime.model.encoder_build import encoder_dir_for, encoder_source
    from npc_runtime.model.loader import load_model

    why = f"the world's {count} conversation test(s) need"
    skip = "or skip the tests with --no-tests"
    which = "the model" if settings.model_dir else "the default model"
    try:
        model = load_model(settings.model_dir or model_dir_for(
            settings.cache_dir, default_source(), settings.precision),
            device=settings.device, threads=settings.threads)
    except ModelNotFoundError as exc:
        raise ModelNotFoundError(f"{why} {which}, which is not built ({exc}); "
                                 f"build it with `npc-runtime model build`, {skip}") from exc
    except ModelError as exc:
        raise ModelError(f"{why} {which}: {exc}; {skip}") from exc
    try:
        embed = load_encoder(settings.encoder_dir or encoder_dir_for(
            settings.cache_dir, encoder_source())).embed
    except ModelNotFoundError as exc:
        raise ModelNotFoundError(f"{why} the sentence encoder, which is not built ({exc}); "
                                 f"build it with `npc-runtime model build-encoder`, {skip}"
                                 ) from exc
    except ModelError as exc:
        raise ModelError(f"{why} the sentence encoder: {exc}; {skip}") from exc
    # Greedy whatever NPC_TEMPERATURE says, so a test passes or fails the same every run.
    quiet = dataclasses.replace(settings, state_db=None, state_url=None,
                                max_new_tokens=MAX_NEW_TOKENS,
                                temperature=0.0, top_p=1.0, max_active_turns=1,
                                candidates=1, tool_timeout_s=5)
    return DialogueEngine(world, model, quiet, embed=embed)


def _failure(outcome: Outcome, path: Path) -> list[str]:
    """What a failing test expected, what the NPC did, and how to see why."""
    test, played = outcome.test, outcome.played
    expected = _call(test.expect) if test.expect else "no call"
    got = ", then ".join(map(_call, played.calls)) or "no call"
    lines = [f"expected {expected}; got {got}"]
    if played.error:
        lines.append(f"error: {played.error}")
    if test.note:
        lines.append(f"note: {test.note}")
    lines.append(f"why: {_explain_command(test, path)}")
    return lines


def _explain_command(test: WorldTest, path: Path) -> str:
    """The ``tools explain`` command that shows this test's tool choice step by step."""
    words = ["npc-runtime", "tools", "explain", "--world", str(path), "--npc", test.npc]
    for quest, stage in list(test.state.stages.items())[:1]:  # it takes one quest
        words += ["--quest", quest, "--stage", stage]
    for fact in sorted(test.state.revealed):
        words += ["--revealed", fact]
    for item in sorted(test.state.player_items):
        words += ["--has", item]
    if test.history and test.history[-1].npc:
        words += ["--after", test.history[-1].npc]
    return shlex.join([*words, test.line])


def _call(call: ToolCall) -> str:
    return f"{call.tool} {json.dumps(dict(call.args))}" if call.args else call.tool


def _as_dict(outcome: Outcome) -> dict[str, object]:
    test, played = outcome.test, outcome.played
    return {"where": str(test.where), "npc": test.npc, "line": test.line,
            "expect": dataclasses.asdict(test.expect) if test.expect else None,
            "calls": [dataclasses.asdict(c) for c in played.calls],
            "verdict": outcome.verdict, "passed": outcome.passed, "error": played.error}


def _say(fmt: str, text: str) -> None:
    """Progress and results: on stdout for text, on stderr beside a JSON document."""
    print(text, file=sys.stdout if fmt == "text" else sys.stderr, flush=True)
