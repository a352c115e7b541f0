"""The decode loop: KV-cache correctness, sampling, stops."""

from __future__ import annotations

import numpy as np
import pytest

from npc_runtime.model.generate import Sampler, SamplingParams, StopReason, generate
from npc_runtime.model.loader import LoadedModel

PROMPT = [("system", "You keep an inn."), ("user", "How much is a room?")]


def _run(model: LoadedModel, params: SamplingParams, eos: frozenset[int] = frozenset()
         ) -> tuple[list[int], StopReason]:
    ids = model.tokenizer.encode_chat(PROMPT)
    gen = generate(model.runner, ids, params, eos)
    tokens: list[int] = []
    while True:
        try:
            tokens.append(next(gen))
        except StopIteration as stop:
            return tokens, stop.value


def test_cached_decode_matches_full_recompute(tiny_model: LoadedModel) -> None:
    """Each step fed only the new token (KV cache) gives the logits of a full re-prefill."""
    runner = tiny_model.runner
    ids = tiny_model.tokenizer.encode_chat(PROMPT)
    logits, cache = runner.forward(ids, runner.empty_cache())
    sequence = list(ids)
    for _ in range(8):
        token = int(np.argmax(logits))
        sequence.append(token)
        logits, cache = runner.forward([token], cache)
        full, _ = runner.forward(sequence, runner.empty_cache())
        np.testing.assert_allclose(logits, full, rtol=1e-4, atol=1e-4)
    assert len(sequence) == cache.length


def test_greedy_is_deterministic_and_stops_at_max_tokens(tiny_model: LoadedModel) -> None:
    """Greedy decoding repeats exactly and honours max_new_tokens."""
    first, reason = _run(tiny_model, SamplingParams(max_new_tokens=12))
    second, _ = _run(tiny_model, SamplingParams(max_new_tokens=12))
    assert first == second
    assert len(first) == 12
    assert reason is StopReason.MAX_TOKENS


def test_end_of_turn_token_stops_and_is_not_yielded(tiny_model: LoadedModel) -> None:
    """When the sampled token is an end-of-turn id, generation ends before yielding it."""
    params = SamplingParams(max_new_tokens=8, temperature=1.5, seed=3)
    free, _ = _run(tiny_model, params)
    end = free[5]
    tokens, reason = _run(tiny_model, params, frozenset({end}))
    assert tokens == free[: free.index(end)]
    assert reason is StopReason.END_OF_TURN


def test_seeded_sampling_reproduces_and_seeds_differ(tiny_model: LoadedModel) -> None:
    """The same seed gives the same reply; another seed gives another."""
    params = SamplingParams(max_new_tokens=16, temperature=1.5, seed=7)
    first, _ = _run(tiny_model, params)
    again, _ = _run(tiny_model, params)
    other, _ = _run(tiny_model, SamplingParams(max_new_tokens=16, temperature=1.5, seed=8))
    assert first == again
    assert first != other


def test_top_p_keeps_only_the_nucleus() -> None:
    """With top_p, tokens outside the smallest set reaching that mass are never drawn."""
    logits = np.log(np.array([0.5, 0.3, 0.15, 0.05]))
    sampler = Sampler(SamplingParams(temperature=1.0, top_p=0.75, seed=0))
    drawn = {Sampler(SamplingParams(temperature=1.0, top_p=0.75, seed=s))(logits)
             for s in range(200)}
    assert drawn == {0, 1}
    assert sampler(logits) in {0, 1}


def test_repetition_penalty_discourages_repeats() -> None:
    """A penalised token loses to a close runner-up once it has been used."""
    sampler = Sampler(SamplingParams(repetition_penalty=1.5))
    logits = np.array([1.0, 3.0, 2.5])
    assert sampler(logits) == 1
    assert sampler(logits) == 2  # 3.0 / 1.5 = 2.0 < 2.5


@pytest.mark.parametrize(
    "kwargs",
    [{"max_new_tokens": 0}, {"temperature": -1.0}, {"top_p": 0.0}, {"repetition_penalty": 0.5}],
)
def test_invalid_sampling_params_are_refused(kwargs: dict[str, float]) -> None:
    """Out-of-range parameters raise ValueError naming the parameter."""
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        SamplingParams(**kwargs)  # type: ignore[arg-type]
