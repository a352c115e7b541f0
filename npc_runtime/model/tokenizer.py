"""Chat tokenizer: renders messages with the model's chat template and maps text to ids."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import jinja2.sandbox
from tokenizers import Tokenizer

from npc_runtime.errors import ModelCorruptError
from npc_runtime.model.manifest import REBUILD_HINT, Manifest

# (role, content) pairs, role in {"system", "user", "assistant"}.
Message = tuple[str, str]


class ChatTokenizer:
    """A ``tokenizer.json`` plus the model's chat template."""

    def __init__(self, model_dir: Path, manifest: Manifest) -> None:
        try:
            self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        except Exception as exc:  # the tokenizers library raises a bare Exception
            raise ModelCorruptError(
                f"{model_dir / 'tokenizer.json'} cannot be loaded ({exc}); {REBUILD_HINT}"
            ) from exc
        # A sandbox, because templates come with downloaded model folders.
        env = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        self._template = env.from_string(manifest.chat_template)
        self.eos_token_ids = frozenset(manifest.eos_token_ids)
        self._containing: dict[str, list[int]] = {}
        self._pieces: list[str] = []

    @property
    def vocab_size(self) -> int:
        """Token ids run from 0 to this (the model's logits may be padded beyond)."""
        return int(self._tokenizer.get_vocab_size())

    def render(self, messages: Sequence[Message], *, add_generation_prompt: bool = True) -> str:
        """The prompt text for ``messages``, ending with the assistant's turn header."""
        return self._template.render(
            messages=[{"role": role, "content": content} for role, content in messages],
            add_generation_prompt=add_generation_prompt,
        )

    def encode_chat(self, messages: Sequence[Message]) -> list[int]:
        """Token ids of the rendered prompt (special tokens parsed, none added)."""
        return self.encode(self.render(messages))

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``; special-token strings in it become their ids."""
        return list(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def decode(self, ids: Sequence[int]) -> str:
        """Text of ``ids`` with special tokens dropped."""
        return str(self._tokenizer.decode(list(ids), skip_special_tokens=True))

    def ids_containing(self, characters: str) -> list[int]:
        """Every token whose text holds any of ``characters`` (for masks; cached)."""
        if characters not in self._containing:
            # One token at a time: a batch decode of the whole vocabulary would leave the
            # heap ~6 MB larger for good (in a server counted against its RSS budget).
            decode = self._tokenizer.decode
            self._containing[characters] = [
                i for i in range(self.vocab_size)
                if any(c in decode([i], skip_special_tokens=False) for c in characters)]
        return self._containing[characters]


    def pieces(self) -> list[str]:
        """Each token's own text, by id (special tokens as "": no text; cached): for masks
        that look at what a token writes."""
        if not self._pieces:
            decode = self._tokenizer.decode  # one at a time: see ids_containing
            self._pieces = [decode([i], skip_special_tokens=True)
                            for i in range(self.vocab_size)]
        return self._pieces


class StreamDecoder:
    """
    Turns a growing list of token ids into text.

    Byte-level BPE splits multi-byte characters across tokens, so ``text`` only advances
    when the decoded text does not end in an incomplete character (U+FFFD).
    """

    def __init__(self, tokenizer: ChatTokenizer) -> None:
        self._tokenizer = tokenizer
        self._ids: list[int] = []
        self.text = ""

    def push(self, token_id: int) -> str:
        """Add one token; return the text that became final (possibly empty)."""
        self._ids.append(token_id)
        text = self._tokenizer.decode(self._ids)
        if text.endswith("\ufffd"):
            return ""
        delta, self.text = text[len(self.text) :], text
        return delta
