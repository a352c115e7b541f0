"""
Decoding under the grammar, with a real (tiny, random-weight) model: whatever the
model prefers, the action is an offered one and the arguments are valid JSON whose
values the lore allows.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from typing import TypeVar

import numpy as np

from npc_runtime.dialogue.actions import SAY, Reply, decide, write_arguments
from npc_runtime.dialogue.scheduler import Decode
from npc_runtime.lore.model import ToolParam
from npc_runtime.model.loader import LoadedModel

T = TypeVar("T")


def _drive(model: LoadedModel, steps: Generator[object, object, T], reply: Reply) -> T:
    received: object = None
    while True:
        try:
            request = steps.send(received)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        assert isinstance(request, Decode)
        received, _ = model.runner.forward([request.token], request.cache)


def _reply(model: LoadedModel) -> Reply:
    runner = model.runner
    prompt = model.tokenizer.encode_chat([("system", "You keep a shop."), ("user", "Hi")])
    logits, cache = runner.forward(prompt, runner.empty_cache())
    return Reply(logits, cache)


def test_the_action_is_always_one_offered(tiny_model: LoadedModel) -> None:
    for tools in ([], ["sell_item"], ["sell_item", "open_shop", "give_item"]):
        reply = _reply(tiny_model)
        action = _drive(tiny_model, decide(reply, tiny_model.tokenizer, tools), reply)
        assert action in [SAY, *tools]
        assert tiny_model.tokenizer.decode(reply.ids) == f"[{action}]"


def test_arguments_are_json_with_lore_values_and_ranges(tiny_model: LoadedModel) -> None:
    params = [
        (ToolParam("item", "string", source="npc.inventory"), ("rope", "lamp_oil")),
        (ToolParam("count", "integer", minimum=1, maximum=10), ()),
        (ToolParam("gift", "boolean"), ()),
        (ToolParam("note", "string"), ()),  # free text
    ]
    reply = _reply(tiny_model)
    args = _drive(tiny_model, write_arguments(reply, tiny_model.tokenizer, params), reply)
    assert args["item"] in {"rope", "lamp_oil"}
    assert isinstance(args["count"], int)
    assert 1 <= args["count"] <= 10
    assert isinstance(args["gift"], bool)
    assert isinstance(args["note"], str)
    assert '"' not in args["note"]
    assert "\n" not in args["note"]
    # What went into the KV is the same call, as JSON.
    assert json.loads(tiny_model.tokenizer.decode(reply.ids)) == args


def test_a_tool_without_parameters_writes_an_empty_object(tiny_model: LoadedModel) -> None:
    reply = _reply(tiny_model)
    args = _drive(tiny_model, write_arguments(reply, tiny_model.tokenizer, []), reply)
    assert args == {}
    assert np.isfinite(reply.logits).any()
