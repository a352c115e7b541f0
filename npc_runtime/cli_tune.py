"""``npc-runtime model tune``: the command line of ``npc_runtime.tune`` (export extra)."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

_DESCRIPTION = (
    "Build a persona model for a world: the world's NPCs are asked player lines made from "
    "its lore (facts, items, places, people, tool examples, and built-in greetings, small "
    "talk, unknowns and AI bait), answered by the serving pipeline on the base model, and "
    "only the replies the runtime's checker and scorer pass are kept; a LoRA adapter is "
    "trained on them on the CPU, merged, and exported like `model build` (int4). Stages "
    "(data, train, export) are kept in the work folder and skipped when rerun with the "
    "same inputs. Progress goes to stderr; the model folder is printed last; serve it "
    "with `npc-runtime serve --model DIR`. Needs the export extra and peft.")


def add_tune(model_sub: Any, settings_of: Any, progress: Any) -> None:
    """Add ``tune`` under ``npc-runtime model``; ``settings_of(args)`` builds Settings,
    ``progress`` prints a progress line."""
    tune = model_sub.add_parser("tune", help="build a persona model for a world (LoRA)",
                                description=_DESCRIPTION)
    tune.add_argument("--world", type=Path, required=True, help="the world folder")
    tune.add_argument("--base", type=Path,
                      help="base weights: a .gguf file or a Hugging Face folder "
                           "(default: the built-in SmolLM2-135M-Instruct)")
    tune.add_argument("--out", type=Path,
                      help="the tuned model folder (default: in the cache folder)")
    tune.add_argument("--work", type=Path,
                      help="where stages are kept (default: OUT's folder, .tune-NAME)")
    tune.add_argument("--minutes", type=float, default=15.0,
                      help="training time budget in minutes (default 15)")
    tune.add_argument("--max-examples", type=int, default=0,
                      help="stop making data once this many replies are kept (default: all)")
    tune.add_argument("--epochs", type=float, default=2.0,
                      help="passes over the data, unless --minutes runs out (default 2)")
    tune.add_argument("--rank", type=int, default=16, help="LoRA rank (default 16)")
    tune.add_argument("--learning-rate", type=float, default=2e-4,
                      help="peak learning rate of the adapter (default 2e-4)")
    tune.add_argument("--samples", type=int, default=1,
                      help="answers per player line while making data: the first greedy, "
                           "the rest sampled at 0.7 (default 1)")
    tune.add_argument("--candidates", type=int, default=3,
                      help="drafts per answer while making data (default 3)")
    tune.add_argument("--threads", type=int, default=2,
                      help="CPU threads for the model and training (default 2)")
    tune.add_argument("--precision", choices=["int4", "int8", "fp32"])
    tune.set_defaults(run=lambda args: _run(args, settings_of, progress))


def _run(args: argparse.Namespace, settings_of: Any, progress: Any) -> int:
    from npc_runtime.logs import configure_logging
    from npc_runtime.model.build import default_source, source_from_path
    from npc_runtime.tune.pipeline import TuneJob, default_out, tune
    from npc_runtime.tune.train import TrainSettings

    if (min(args.minutes, args.epochs, args.learning_rate) <= 0 or args.rank < 1
            or args.max_examples < 0 or args.samples < 1):
        print("error: --minutes, --epochs and --learning-rate must be above 0, --rank at "
              "least 1, --max-examples 0 or more, --samples 1 or more", file=sys.stderr)
        return 2
    configure_logging("console", "warning")  # progress lines only, not every turn's log
    settings = dataclasses.replace(settings_of(args), candidates=max(1, min(8, args.candidates)))
    base = source_from_path(args.base) if args.base else default_source()
    out = args.out or default_out(settings, base, args.world)
    work = args.work or out.parent / f".tune-{out.name}"
    job = TuneJob(args.world, base, out, work, settings,
                  TrainSettings(rank=args.rank, alpha=2 * args.rank, epochs=args.epochs,
                                learning_rate=args.learning_rate,
                                minutes=args.minutes, threads=args.threads),
                  max_examples=args.max_examples, samples=args.samples)
    tune(job, progress)
    print(out)
    return 0
