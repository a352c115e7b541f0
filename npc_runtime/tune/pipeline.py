"""
``npc-runtime model tune``: a world's persona model, in three resumable stages.

1. **data**: the world's player lines (``lines.py``) answered by the serving pipeline on
   the base model and judged (``data.py``) -> ``data.jsonl`` in the work folder.
2. **train**: LoRA on the base model's Hugging Face weights (a GGUF dequantized as
   ``model build`` does), merged (``train.py``) -> ``merged/``.
3. **export**: the merged weights through the same builder as ``model build`` (int4 by
   default) -> the model folder, whose manifest's ``tuned`` records the base model, the
   world and its version, the data's hash and counts, and the training settings.

A stage whose output is there and was made from the same inputs (recorded beside it in
``stages.json``) is skipped, so an interrupted tune picks up where it stopped; change the
world, the base, or a setting and the stages after it run again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from npc_runtime.config import Settings
from npc_runtime.errors import ModelBuildError
from npc_runtime.lore.loader import load_world
from npc_runtime.lore.model import World
from npc_runtime.model.build import (
    ModelSource,
    build_model,
    hf_folder,
    model_dir_for,
    require_modules,
)
from npc_runtime.model.manifest import MANIFEST_NAME, Manifest
from npc_runtime.tune.lines import PlayerLine, player_lines
from npc_runtime.tune.train import TrainSettings

Progress = Callable[[str], None]


@dataclasses.dataclass(frozen=True)
class TuneJob:
    """One ``model tune`` run: what to tune on what, and where it goes."""

    world_dir: Path
    base: ModelSource
    out_dir: Path
    work_dir: Path  # stage outputs, kept for resuming
    settings: Settings  # cache folder, precision, candidates for the data stage
    train: TrainSettings
    max_examples: int = 0  # stop the data stage once this many replies are kept (0: all)
    max_points: int = 4  # story points per NPC
    samples: int = 1  # answers per line (the first greedy, the rest sampled)


def default_out(settings: Settings, base: ModelSource, world_dir: Path) -> Path:
    """Where a world's persona model goes without --out: beside the built models."""
    slug = re.sub(r"[^a-z0-9]+", "-", world_dir.resolve().name.lower()).strip("-") or "world"
    return settings.cache_dir / "models" / f"{base.name}-{slug}-{settings.precision}-tuned"


def tune(job: TuneJob, progress: Progress) -> Manifest:
    """
    Run the stages (see the module); returns the tuned model's manifest.

    Raises:
        ModelBuildError: The export extra (or peft) is missing, no reply was kept, or a
            stage failed; the message says which and what to do.
        LoreError: The world does not load.
    """
    require_modules(("torch", "transformers", "peft", "onnxruntime_genai"), "model tune")
    started = time.monotonic()
    world = load_world(job.world_dir)
    job.work_dir.mkdir(parents=True, exist_ok=True)
    stages = _Stages(job.work_dir / "stages.json")
    base_key = job.base.fingerprint()
    lines = list(player_lines(world, max_points=job.max_points))
    said = json.dumps([[x.npc, x.text, x.kind, x.source] for x in lines]).encode()
    data_inputs = {"world": world.name, "world_version": world.version, "base": base_key,
                   "lines_sha256": hashlib.sha256(said).hexdigest(),
                   "candidates": job.settings.candidates, "max_examples": job.max_examples,
                   "max_points": job.max_points, "samples": job.samples, "format": 1}
    data_file = job.work_dir / "data.jsonl"
    if stages.done("data", data_inputs) and data_file.is_file():
        progress(f"[1/3] data: kept from an earlier run ({data_file})")
    else:
        _data_stage(job, world, lines, data_file, stages=stages, inputs=data_inputs,
                    progress=progress)
    data = stages.outputs("data")
    train_inputs = {"data": data["sha256"], "base": base_key,
                    "train": dataclasses.asdict(job.train)}
    merged = job.work_dir / "merged"
    if stages.done("train", train_inputs) and (merged / "config.json").is_file():
        progress(f"[2/3] train: kept from an earlier run ({merged})")
    else:
        _train_stage(job, data_file, merged, stages=stages, inputs=train_inputs,
                     progress=progress)
    trained = stages.outputs("train")
    progress(f"[3/3] export: building the {job.settings.precision} ONNX model ...")
    source = ModelSource("hf", merged, job.out_dir.name)
    manifest = build_model(source, job.out_dir, precision=job.settings.precision, force=True,
                           progress=lambda m: progress(f"      {m}"))
    manifest = dataclasses.replace(manifest, tuned={
        "base": {"kind": job.base.kind, "name": job.base.name, "path": str(job.base.path),
                 "sha256": base_key},
        "world": world.name, "world_dir": str(job.world_dir), "world_version": world.version,
        "data": data, "training": trained,
        "minutes": round((time.monotonic() - started) / 60, 1),
    })
    (job.out_dir / MANIFEST_NAME).write_text(manifest.to_json(), encoding="utf-8")
    manifest = Manifest.read(job.out_dir)  # as serving will read it (JSON: lists, not tuples)
    progress(f"tuned model ready in {job.out_dir} "
             f"({(time.monotonic() - started) / 60:.1f} min in all)")
    return manifest


def _data_stage(job: TuneJob, world: World, lines: list[PlayerLine], data_file: Path, *,
                stages: _Stages, inputs: dict[str, Any], progress: Progress) -> None:
    from npc_runtime.model.encoder import load_encoder
    from npc_runtime.model.encoder_build import ensure_default_encoder
    from npc_runtime.model.loader import load_model
    from npc_runtime.tune.data import make_examples, write_jsonl
    started = time.monotonic()
    base_dir = model_dir_for(job.settings.cache_dir, job.base, job.settings.precision)
    build_model(job.base, base_dir, precision=job.settings.precision,
                progress=lambda m: progress(f"      {m}"))
    encoder_dir = job.settings.encoder_dir or ensure_default_encoder(
        job.settings.cache_dir, progress=lambda m: progress(f"      {m}"))
    model = load_model(base_dir, device="cpu", threads=job.train.threads)
    progress(f"[1/3] data: {len(lines)} player lines from the lore of {world.name}, each "
             f"answered by the pipeline with {job.settings.candidates} candidates ...")
    settings = dataclasses.replace(job.settings, state_db=None, state_url=None, watch=False,
                                   max_active_turns=1, max_queued_turns=8)
    kept, dropped = make_examples(world, model, load_encoder(encoder_dir).embed, lines,
                                  settings=settings, samples=job.samples,
                                  max_examples=job.max_examples,
                                  progress=lambda m: progress(f"      {m}"))
    by_model = sum(1 for k in kept if k["realised_by"] == "model")
    if not (by_model or (job.train.lore_lines and kept)):
        raise ModelBuildError(
            f"no reply the model wrote passed the judge ({len(kept)} lore lines kept; "
            f"dropped: {dropped}); check the world with `npc-runtime lore validate`")
    digest = write_jsonl(data_file, kept)
    stages.record("data", inputs, {
        "sha256": digest, "lines": len(lines), "kept": len(kept), "by_model": by_model,
        "dropped": dropped, "seconds": round(time.monotonic() - started, 1)})
    progress(f"[1/3] data: {len(kept)} replies kept ({by_model} written by the model), "
             f"dropped {sum(dropped.values())} ({time.monotonic() - started:.0f} s)")


def _train_stage(job: TuneJob, data_file: Path, merged: Path, *, stages: _Stages,
                 inputs: dict[str, Any], progress: Progress) -> None:
    from npc_runtime.tune.data import read_jsonl
    from npc_runtime.tune.train import train_lora

    hf_dir = job.work_dir / "hf-base"
    if not (hf_dir / "config.json").is_file() or stages.outputs("hf").get(
            "base") != job.base.fingerprint():
        progress("[2/3] train: loading the base weights as fp32 ...")
        if hf_dir.exists():
            shutil.rmtree(hf_dir)
        folder = hf_folder(job.base, hf_dir)
        if folder != hf_dir:  # a Hugging Face folder is used where it is
            shutil.copytree(folder, hf_dir)
        stages.record("hf", {}, {"base": job.base.fingerprint()})
    progress(f"[2/3] train: LoRA rank {job.train.rank}, at most {job.train.epochs} epochs "
             f"or {job.train.minutes} min, {job.train.threads} threads ...")
    try:
        figures = train_lora(hf_dir, read_jsonl(data_file), merged, job.train,
                             progress=lambda m: progress(f"      {m}"))
    except ValueError as exc:
        raise ModelBuildError(f"training failed: {exc}") from exc
    stages.record("train", inputs, {**dataclasses.asdict(job.train), **figures})
    progress(f"[2/3] train: {figures['steps']} steps, loss {figures['loss_first']} -> "
             f"{figures['loss_last']} ({figures['seconds']:.0f} s)")


class _Stages:
    """What each finished stage was made from and what it made (``stages.json``)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._data: dict[str, Any] = (json.loads(path.read_text(encoding="utf-8"))
                                      if path.is_file() else {})

    def done(self, stage: str, inputs: dict[str, Any]) -> bool:
        return bool(self._data.get(stage, {}).get("inputs_sha256") == _digest(inputs))

    def outputs(self, stage: str) -> dict[str, Any]:
        return dict(self._data.get(stage, {}).get("outputs", {}))

    def record(self, stage: str, inputs: dict[str, Any], outputs: dict[str, Any]) -> None:
        self._data[stage] = {"inputs_sha256": _digest(inputs), "inputs": inputs,
                             "outputs": outputs}
        # A later stage made from an earlier version of this one no longer counts.
        for later in {"data": ("train",), "hf": ("train",)}.get(stage, ()):
            self._data.pop(later, None)
        tmp = self._path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._data, indent=2, sort_keys=True), encoding="utf-8")
        tmp.rename(self._path)


def _digest(value: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()
