"""
The decode loop, top to bottom: prefill, then one token per step until a stop.

Stop sequences and cancellation are the caller's: it stops pulling tokens (and closes
the generator) when its text contains one, or when the client has gone.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Generator, Sequence

import numpy as np

from npc_runtime.model.runner import OnnxCausalLM


class StopReason(enum.Enum):
    """Why a reply ended."""

    END_OF_TURN = "end_of_turn"  # the model produced an end-of-turn token
    STOP_SEQUENCE = "stop_sequence"  # the caller saw a stop string in the text
    MAX_TOKENS = "max_tokens"  # the token budget ran out
    CANCELLED = "cancelled"  # the caller stopped early (client gone, shutdown)


@dataclasses.dataclass(frozen=True)
class SamplingParams:
    """How to pick each token. ``temperature == 0`` means greedy (argmax)."""

    max_new_tokens: int = 96
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    repetition_penalty: float = 1.0  # > 1 discourages tokens the reply already used

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError("max_new_tokens must be >= 1")
        if self.temperature < 0:
            raise ValueError("temperature must be >= 0")
        if not 0 < self.top_p <= 1:
            raise ValueError("top_p must be in (0, 1]")
        if self.repetition_penalty < 1:
            raise ValueError("repetition_penalty must be >= 1")


class Sampler:
    """Picks the next token from logits; owns its random stream so a seed reproduces a reply."""

    def __init__(self, params: SamplingParams) -> None:
        self._temperature = params.temperature
        self._top_p = params.top_p
        self._penalty = params.repetition_penalty
        self._rng = np.random.default_rng(params.seed)
        self._seen: list[int] = []  # tokens of this reply (the prompt is not penalised)

    def __call__(self, logits: np.ndarray) -> int:
        """Sample one token id from ``logits`` (``[vocab]``) and remember it."""
        token = self._pick(self._penalise(logits))
        self._seen.append(token)
        return token

    def _penalise(self, logits: np.ndarray) -> np.ndarray:
        if self._penalty == 1 or not self._seen:
            return logits
        # CTRL-style: shrink positive logits, grow negative ones, once per distinct token.
        seen = np.unique(self._seen)
        logits = logits.copy()
        picked = logits[seen]
        logits[seen] = np.where(picked > 0, picked / self._penalty, picked * self._penalty)
        return logits

    def _pick(self, logits: np.ndarray) -> int:
        if self._temperature == 0:
            return int(np.argmax(logits))
        scaled = logits.astype(np.float64) / self._temperature
        probs = np.exp(scaled - scaled.max())
        probs /= probs.sum()
        if self._top_p < 1:
            # Keep the smallest set of most likely tokens whose mass reaches top_p.
            order = np.argsort(-probs)
            keep = np.cumsum(probs[order]) - probs[order] < self._top_p
            kept = order[keep]
            probs = probs[kept] / probs[kept].sum()
            return int(kept[self._rng.choice(len(kept), p=probs)])
        return int(self._rng.choice(len(probs), p=probs))


def generate(
    model: OnnxCausalLM,
    prompt_ids: Sequence[int],
    params: SamplingParams,
    eos_token_ids: frozenset[int],
) -> Generator[int, None, StopReason]:
    """
    Yield the reply's token ids one by one; return why it stopped.

    End-of-turn tokens are not yielded.
    """
    sample = Sampler(params)
    # Prefill: the whole prompt in one pass fills the KV cache.
    logits, cache = model.forward(prompt_ids, model.empty_cache())
    for step in range(params.max_new_tokens):
        token = sample(logits)
        if token in eos_token_ids:
            return StopReason.END_OF_TURN
        yield token
        if step + 1 == params.max_new_tokens:
            break
        # Decode: only the new token runs; the cache holds everything before it.
        logits, cache = model.forward([token], cache)
    return StopReason.MAX_TOKENS
