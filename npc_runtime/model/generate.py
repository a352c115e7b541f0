"""
The decode loop, top to bottom: prefill, then one token per step until a stop.

Stop sequences and cancellation are the caller's: it stops pulling tokens when its text
contains one, or when the client has gone.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from npc_runtime.model.runner import KVCache, OnnxCausalLM

#: Above this, sampling is as good as uniform over the vocabulary: noise, not variety.
MAX_TEMPERATURE = 10.0
#: Above this, every token the reply used is all but banned; no useful setting is higher.
MAX_REPETITION_PENALTY = 10.0


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
        # Checked here, once, so NaN or inf never reaches numpy (a NaN temperature turns
        # every probability into NaN, and the sampler would fail mid-reply). Comparisons
        # with NaN are all False, hence the explicit isfinite.
        if isinstance(self.max_new_tokens, bool) or self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be a positive integer, not "
                             f"{self.max_new_tokens!r}")
        if not (math.isfinite(self.temperature) and 0 <= self.temperature <= MAX_TEMPERATURE):
            raise ValueError(f"temperature must be a number from 0 to {MAX_TEMPERATURE:g} "
                             f"(0: greedy), not {self.temperature!r}")
        if not (math.isfinite(self.top_p) and 0 < self.top_p <= 1):
            raise ValueError(f"top_p must be a number in (0, 1], not {self.top_p!r}")
        if not (math.isfinite(self.repetition_penalty)
                and 1 <= self.repetition_penalty <= MAX_REPETITION_PENALTY):
            raise ValueError(f"repetition_penalty must be a number from 1 to "
                             f"{MAX_REPETITION_PENALTY:g} (1: none), not "
                             f"{self.repetition_penalty!r}")
        if self.seed is not None and self.seed < 0:
            raise ValueError(f"seed must be >= 0, not {self.seed!r}")


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


LogitsProcessor = Callable[[np.ndarray, Sequence[int]], np.ndarray]
"""Per-step logit control (bans, grammar masks): (logits [vocab], reply so far) -> logits."""


class Generation:
    """
    One reply's decode loop. Iterate it for token ids; afterwards ``reason`` says why it
    ended (None if the caller stopped early) and ``cache`` holds the KV of exactly ``ids``
    (the prompt plus every token fed back), ready for the next turn or a rewind.

    The server's scheduler drives the same object step by step instead (``choose``, with
    the decode step batched across turns).
    """

    def __init__(
        self,
        model: OnnxCausalLM,
        prompt_ids: Sequence[int],
        params: SamplingParams,
        eos_token_ids: frozenset[int],
        *,
        start: tuple[np.ndarray, KVCache] | None = None,
        logits_processor: LogitsProcessor | None = None,
    ) -> None:
        self._model = model
        self._params = params
        self._eos = eos_token_ids
        self._start = start  # next-token logits and the KV of prompt_ids, if already run
        self._process = logits_processor
        self._sample = Sampler(params)
        self.ids: list[int] = list(prompt_ids)
        self.cache: KVCache = model.empty_cache()
        self.tokens: list[int] = []  # the reply, end-of-turn excluded
        self.reason: StopReason | None = None

    @property
    def max_new_tokens(self) -> int:
        """The reply's token budget."""
        return self._params.max_new_tokens

    def choose(self, logits: np.ndarray) -> int | None:
        """
        Pick the next token from ``logits`` and record it; None when the reply is over
        (``reason`` says why). The caller feeds the token back to get the next logits.
        """
        if len(self.tokens) == self._params.max_new_tokens:
            self.reason = StopReason.MAX_TOKENS
            return None
        if self._process is not None:
            logits = self._process(logits, self.tokens)
        token = self._sample(logits)
        if token in self._eos:
            self.reason = StopReason.END_OF_TURN
            return None
        self.tokens.append(token)
        return token

    def __iter__(self) -> Iterator[int]:
        # Prefill: the whole prompt in one pass fills the KV cache (unless done already).
        logits, self.cache = self._start or self._model.forward(
            self.ids, self._model.empty_cache(len(self.ids) + self._params.max_new_tokens))
        while (token := self.choose(logits)) is not None:
            yield token
            if len(self.tokens) == self._params.max_new_tokens:
                self.reason = StopReason.MAX_TOKENS  # no need to run the last token
                return
            # Decode: only the new token runs; the cache holds everything before it.
            logits, self.cache = self._model.forward([token], self.cache)
            self.ids.append(token)
