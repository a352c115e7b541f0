"""The decode loop: KV-cache correctness, sampling, stops."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from npc_runtime.model.generate import Generation, Sampler, SamplingParams, StopReason
from npc_runtime.model.loader import LoadedModel
from npc_runtime.model.runner import KVCache

PROMPT = [("system", "You keep an inn."), ("user", "How much is a room?")]


def _run(model: LoadedModel, params: SamplingParams, eos: frozenset[int] = frozenset()
         ) -> tuple[list[int], StopReason]:
    ids = model.tokenizer.encode_chat(PROMPT)
    generation = Generation(model.runner, ids, params, eos)
    tokens = list(generation)
    assert generation.reason is not None
    return tokens, generation.reason


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
    [{"max_new_tokens": 0}, {"max_new_tokens": -5}, {"temperature": -1.0},
     {"temperature": math.nan}, {"temperature": math.inf}, {"temperature": 1e30},
     {"top_p": 0.0}, {"top_p": math.nan}, {"top_p": 1.5}, {"top_p": -math.inf},
     {"repetition_penalty": 0.5}, {"repetition_penalty": math.nan},
     {"repetition_penalty": math.inf}, {"repetition_penalty": 1e9}, {"seed": -1}],
    ids=repr,
)
def test_invalid_sampling_params_are_refused(kwargs: dict[str, float]) -> None:
    """Out-of-range, NaN and infinite parameters raise ValueError naming the parameter."""
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        SamplingParams(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(("name", "expected"), [
    ("temperature", "from 0 to 10"), ("top_p", "in (0, 1]"),
    ("repetition_penalty", "from 1 to 10"),
])
def test_refusals_name_the_allowed_range(name: str, expected: str) -> None:
    """The message says which values are allowed, so a client can fix its request."""
    with pytest.raises(ValueError, match=re.escape(expected)):
        SamplingParams(**{name: math.nan})  # type: ignore[arg-type]


@pytest.mark.parametrize("kwargs", [
    {"temperature": 0.0}, {"temperature": 10.0}, {"top_p": 1e-6}, {"top_p": 1.0},
    {"repetition_penalty": 1.0}, {"repetition_penalty": 10.0}, {"seed": 0},
], ids=repr)
def test_sampling_params_at_the_limits_are_accepted(kwargs: dict[str, float]) -> None:
    """The bounds themselves are allowed."""
    params = SamplingParams(**kwargs)  # type: ignore[arg-type]
    name, value = next(iter(kwargs.items()))
    assert value == getattr(params, name)


def test_generation_cache_covers_exactly_its_ids(tiny_model: LoadedModel) -> None:
    """After a reply, the cache holds the prompt and every token fed back, nothing more."""
    ids = tiny_model.tokenizer.encode_chat(PROMPT)
    generation = Generation(tiny_model.runner, ids, SamplingParams(max_new_tokens=6),
                            frozenset())
    tokens = list(generation)
    assert generation.ids == [*ids, *tokens[:-1]]  # the last token was never run
    assert generation.cache.length == len(generation.ids)


def test_rewind_then_regenerate_matches_the_original(tiny_model: LoadedModel) -> None:
    """Rewinding the KV to the prompt and decoding again reproduces the reply."""
    ids = tiny_model.tokenizer.encode_chat(PROMPT)
    first = Generation(tiny_model.runner, ids, SamplingParams(max_new_tokens=6), frozenset())
    tokens = list(first)
    rewound = first.cache.rewind(len(ids) - 1)
    start = tiny_model.runner.forward(ids[-1:], rewound)
    again = Generation(tiny_model.runner, ids, SamplingParams(max_new_tokens=6), frozenset(),
                       start=start)
    assert list(again) == tokens


def test_logits_processor_bans_tokens(tiny_model: LoadedModel) -> None:
    """A per-step processor that bans the greedy choice changes the reply around it."""
    greedy, _ = _run(tiny_model, SamplingParams(max_new_tokens=4))
    banned = greedy[0]

    def ban(logits: np.ndarray, _reply: object) -> np.ndarray:
        out = logits.copy()
        out[banned] = -np.inf
        return out

    ids = tiny_model.tokenizer.encode_chat(PROMPT)
    generation = Generation(tiny_model.runner, ids, SamplingParams(max_new_tokens=4),
                            frozenset(), logits_processor=ban)
    assert banned not in list(generation)


def test_rewind_refuses_to_grow(tiny_model: LoadedModel) -> None:
    """A cache cannot be rewound past its end."""
    cache = tiny_model.runner.empty_cache()
    with pytest.raises(ValueError, match="rewind"):
        cache.rewind(1)


def test_decode_writes_the_cache_in_place_and_grows_when_full(tiny_model: LoadedModel) -> None:
    """A step reuses the same buffers; outgrowing them copies once and changes nothing."""
    runner = tiny_model.runner
    ids = tiny_model.tokenizer.encode_chat(PROMPT)
    logits, cache = runner.forward(ids, runner.empty_cache(len(ids) + 1))
    buffers = cache.tensors[0]
    token = int(np.argmax(logits))
    logits, cache = runner.forward([token], cache)
    assert cache.tensors[0] is buffers  # in place: nothing allocated for the step
    small = KVCache([t.alike(1, len(ids)) for t in cache.tensors], 0)
    _, small = runner.forward(ids, small)  # exactly full after the prompt
    assert small.capacity == len(ids)
    grown_logits, small = runner.forward([token], small)
    assert small.capacity > len(ids)
    np.testing.assert_allclose(grown_logits, logits, rtol=1e-5, atol=1e-5)
