"""
Helpers for testing code that uses npc-runtime: a tiny real model, built in seconds.

The model has random weights (its text is gibberish) but is a genuine Llama-architecture
causal LM exported and run exactly like the default one. Needs the ``export`` extra.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from npc_runtime.model.batch import DecodeBatch
from npc_runtime.model.build import build_model, source_from_path
from npc_runtime.model.manifest import Manifest
from npc_runtime.model.runner import OnnxCausalLM

CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + "
    "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
_CORPUS = [
    "The bell in the old tower has been silent for a year.",
    "A room costs five copper pieces a night, love.",
    "Eel stew again tonight, two coppers a bowl. Café crème? Not here. 🙂",
    "Every boat pays one silver piece to tie up at the docks.",
] * 20


def write_tiny_hf_model(folder: Path, *, seed: int = 0) -> Path:
    """A random-weight Llama with a small byte-level BPE tokenizer and a ChatML template."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM

    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    tokenizer.train_from_iterator(_CORPUS, trainer)
    tokenizer.save(str(folder / "tokenizer.json"))
    eos = tokenizer.token_to_id("<|im_end|>")
    (folder / "tokenizer_config.json").write_text(json.dumps({"chat_template": CHATML}))

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=tokenizer.get_vocab_size(), hidden_size=64, intermediate_size=128,
        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
        max_position_embeddings=4096, eos_token_id=eos, bos_token_id=None, pad_token_id=eos,
        tie_word_embeddings=True,
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


def build_tiny_model(work: Path, *, precision: str = "fp32",
                     device: str = "cpu") -> tuple[Path, Manifest]:
    """Write the tiny HF model under ``work`` and build its model folder; returns both."""
    source = source_from_path(write_tiny_hf_model(work / "hf"))
    out = work / f"model-{precision}-{device}"
    return out, build_model(source, out, precision=precision, device=device,
                            progress=lambda _: None)


def greedy_in_batch(runner: OnnxCausalLM, prompts: list[list[int]], steps: int
                    ) -> tuple[list[list[int]], DecodeBatch]:
    """
    Greedy decoding of ``prompts`` as rows of one DecodeBatch, each prefilled alone and
    joined; returns each row's tokens (in prompt order) and the batch, rows still in it.
    """
    batch = DecodeBatch(runner)
    logits = {}
    for prompt in prompts:
        first, cache = runner.forward(prompt, runner.empty_cache())
        logits[batch.join(cache)] = first
    got: dict[int, list[int]] = {h: [] for h in logits}
    for step in range(steps):
        tokens = {h: int(np.argmax(lg)) for h, lg in logits.items()}
        for h, t in tokens.items():
            got[h].append(t)
        if step + 1 < steps:
            logits = batch.step(tokens)
    return [got[h] for h in sorted(got)], batch
