"""
LoRA fine-tuning on the CPU: the base model learns its NPCs' kept replies (``data.py``).

What it learns: the reply tokens only (and the end of turn), under the exact prompt the
serving engine built for them (the persona card, voice examples, the player's line, the
plan's note). The prompt stays the same as served: the first thing to measure is whether
the weights learn to say the plan in voice at the first draft; a shorter card is the next
step (issue 20).

Why the shared head is run without gradient: every example of one NPC at one story point
starts with the same card (~400-800 tokens) and differs only in its last ~100. A batch is
drawn from one such group; the head's keys and values are computed once, with the adapter
as it is now (so the forward pass is exact), and only the rest of each example is run
with gradient. The adapter then gets no gradient through the head's own activations (a
truncation, as in truncated backpropagation): it costs a few percent of the signal and
saves most of the compute (a full pass would run the head once per example, with
gradient). On this 2-core machine that is the difference between a few and tens of
seconds a step.

Needs the ``export`` extra (torch, transformers, peft); serving imports none of this.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
import shutil
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

Progress = Callable[[str], None]
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclasses.dataclass(frozen=True)
class TrainSettings:
    """How the adapter is trained; recorded in the tuned model's manifest."""

    rank: int = 16  # LoRA rank
    alpha: int = 32  # LoRA scale numerator (scale = alpha / rank)
    dropout: float = 0.05
    learning_rate: float = 2e-4
    batch: int = 4  # examples a step, all from one story point (they share a prompt head)
    epochs: float = 2.0  # passes over the data, unless ``minutes`` runs out first
    minutes: float = 15.0  # wall-clock budget for training
    seed: int = 0
    threads: int = 2  # torch intra-op threads (this machine is shared)
    lore_lines: bool = False  # train on replies said as written too (the model never is)
    targets: tuple[str, ...] = LORA_TARGETS


@dataclasses.dataclass(frozen=True)
class _Example:
    group: str  # the story point: examples of one group share a prompt head
    prompt: list[int]  # [prompt_len] the served prompt's tokens
    reply: list[int]  # [reply_len] the reply's tokens and the end of turn


def encode_examples(records: Sequence[dict[str, Any]], tokenizer_file: Path, eos: int,
                    *, lore_lines: bool = False) -> list[_Example]:
    """Token ids of each record's prompt and reply (+ ``eos``); lore lines only if asked."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_file))

    def ids(text: str) -> list[int]:
        return list(tokenizer.encode(text, add_special_tokens=False).ids)

    return [_Example(f"{r['npc']} {json.dumps(r['state'], sort_keys=True)}", ids(r["prompt"]),
                     [*ids(r["reply"]), eos])
            for r in records if lore_lines or r.get("realised_by") == "model"]


def _batches(examples: list[_Example], size: int, rng: random.Random
             ) -> list[list[_Example]]:
    """One epoch: each story point's examples shuffled and cut into batches; batches
    shuffled."""
    groups: dict[str, list[_Example]] = {}
    for example in examples:
        groups.setdefault(example.group, []).append(example)
    batches: list[list[_Example]] = []
    for members in groups.values():
        rng.shuffle(members)
        batches += [members[i:i + size] for i in range(0, len(members), size)]
    rng.shuffle(batches)
    return batches


def _head_length(batch: Sequence[_Example]) -> int:
    """Tokens every prompt of ``batch`` starts with, leaving each at least one of its own."""
    first = batch[0].prompt
    n = min(len(e.prompt) for e in batch) - 1
    for example in batch[1:]:
        n = next((i for i in range(n) if example.prompt[i] != first[i]), n)
    return max(n, 0)


def train_lora(hf_dir: Path, records: Sequence[dict[str, Any]], out_dir: Path,
               settings: TrainSettings, *, progress: Progress = lambda _: None
               ) -> dict[str, Any]:
    """
    Train a LoRA adapter on ``records`` over the model in ``hf_dir``, merge it and save the
    merged model (with the base's tokenizer files) to ``out_dir``; returns the run's
    figures (steps, examples seen, loss first/last, seconds).

    Raises:
        ValueError: No example the model wrote (nothing to learn).
    """
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(max(1, settings.threads))
    torch.manual_seed(settings.seed)
    rng = random.Random(settings.seed)
    config = json.loads((hf_dir / "config.json").read_text(encoding="utf-8"))
    eos = config["eos_token_id"]
    eos = int(eos[0] if isinstance(eos, list) else eos)
    examples = encode_examples(records, hf_dir / "tokenizer.json", eos,
                               lore_lines=settings.lore_lines)
    if not examples:
        raise ValueError("no reply written by the model among the kept examples")
    base = AutoModelForCausalLM.from_pretrained(str(hf_dir), dtype=torch.float32)
    model = get_peft_model(base, LoraConfig(
        r=settings.rank, lora_alpha=settings.alpha, lora_dropout=settings.dropout,
        target_modules=list(settings.targets), task_type="CAUSAL_LM"))
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=settings.learning_rate, weight_decay=0.0)
    per_epoch = math.ceil(len(examples) / settings.batch)
    total = max(1, round(per_epoch * settings.epochs))
    started = time.monotonic()
    losses: list[float] = []
    seen = step = 0
    budget = settings.minutes * 60
    while step < total and time.monotonic() - started < budget:
        for batch in _batches(examples, settings.batch, rng):
            if step >= total or time.monotonic() - started >= budget:
                break
            # Linear warm-up over the first tenth, then linear decay to a tenth, by steps
            # or by time, whichever runs out first (a loaded machine ends on time).
            done = max(step / total, (time.monotonic() - started) / budget)
            scale = min(1.0, (step + 1) / max(1, total // 10)) * max(0.1, 1 - done)
            for group in optimizer.param_groups:
                group["lr"] = settings.learning_rate * scale
            loss = _step(model, batch, eos)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(float(loss.detach()))
            step, seen = step + 1, seen + len(batch)
            if step % 5 == 0 or step == 1:
                recent = losses[-5:]
                progress(f"train: step {step}/{total}, loss {sum(recent) / len(recent):.3f}, "
                         f"{time.monotonic() - started:.0f} s")
    merged: Any = model.merge_and_unload()
    if out_dir.exists():
        shutil.rmtree(out_dir)
    merged.save_pretrained(str(out_dir))
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        if (hf_dir / name).is_file():
            shutil.copy(hf_dir / name, out_dir / name)
    head = losses[:5] or [float("nan")]
    tail = losses[-5:] or [float("nan")]
    return {"steps": step, "examples": len(examples), "examples_seen": seen,
            "loss_first": round(sum(head) / len(head), 4),
            "loss_last": round(sum(tail) / len(tail), 4),
            "seconds": round(time.monotonic() - started, 1)}


def _step(model: Any, batch: Sequence[_Example], eos: int) -> Any:
    """The mean reply-token loss of ``batch``: the shared head without gradient, the rest
    of each example with it (see the module docstring)."""
    import torch

    # transformers 5.2x renames past_key_values to cache, with a FutureWarning per call;
    # the old name works across the 5.x line the export extra allows.
    warnings.filterwarnings("ignore", message=".*past_key_values.*deprecated",
                            category=FutureWarning)
    head = _head_length(batch)
    cache = None
    if head:
        model.eval()  # no dropout: the head's keys and values as served
        with torch.no_grad():
            cache = model(input_ids=torch.tensor([batch[0].prompt[:head]]),
                          use_cache=True).past_key_values
        cache.batch_repeat_interleave(len(batch))
    model.train()
    rows = [e.prompt[head:] + e.reply for e in batch]
    width = max(len(r) for r in rows)
    ids = torch.full((len(batch), width), eos, dtype=torch.long)
    labels = torch.full((len(batch), width), -100, dtype=torch.long)
    mask = torch.zeros((len(batch), head + width), dtype=torch.long)
    for i, (example, row) in enumerate(zip(batch, rows, strict=True)):
        ids[i, :len(row)] = torch.tensor(row)
        start = len(example.prompt) - head
        labels[i, start:len(row)] = torch.tensor(example.reply)
        mask[i, :head + len(row)] = 1
    out = model(input_ids=ids, attention_mask=mask, past_key_values=cache, use_cache=False)
    logits = out.logits[:, :-1].float()  # position t predicts token t + 1
    return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                             labels[:, 1:].reshape(-1), ignore_index=-100)
