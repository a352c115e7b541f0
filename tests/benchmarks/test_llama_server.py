"""Reading llama-server's streamed /completion answers (no server needed)."""

from __future__ import annotations

import json

import pytest

from benchmarks.llama_server import completion_from, parse_events


def _data(body: dict[str, object]) -> str:
    return f"data: {json.dumps(body)}\n"


STREAM = [
    _data({"content": "Aye", "stop": False, "tokens": [42], "tokens_predicted": 1}), "\n",
    ": keep-alive comment\n",
    _data({"content": ", a room", "stop": False, "tokens": [7, 8]}), "\n",
    _data({"content": "", "stop": True, "tokens_predicted": 3, "tokens_evaluated": 412,
           "tokens_cached": 380,
           "timings": {"prompt_n": 32, "predicted_n": 3, "predicted_per_second": 151.5}}),
    "\n",
    "data: [DONE]\n",
]


def test_events_are_the_data_lines_and_skip_comments_and_done() -> None:
    """Three events: two tokens and the final one; comments and [DONE] are not events."""
    events = list(parse_events(STREAM))
    assert [(e.content, e.stop) for e in events] == [("Aye", False), (", a room", False),
                                                     ("", True)]


def test_a_streamed_error_raises() -> None:
    """An error object in the stream is not taken for an empty reply."""
    with pytest.raises(RuntimeError, match="exceeds the context"):
        list(parse_events([_data({"error": {"message": "exceeds the context"}})]))


def test_a_completion_holds_the_text_and_the_final_counts() -> None:
    """Text is the tokens' content; counts and the decode rate come from the last event."""
    done = completion_from(parse_events(STREAM), started=0.0)
    assert done.text == "Aye, a room"
    assert (done.tokens, done.prompt_tokens, done.prompt_computed) == (3, 412, 32)
    assert done.decode_tps == 151.5
    assert 0.0 < done.ttft_ms <= done.total_ms


def test_a_stream_cut_before_its_final_event_raises() -> None:
    """A server that dies mid-reply is an error, not a short reply."""
    with pytest.raises(RuntimeError, match="without a final event"):
        completion_from(parse_events(STREAM[:2]), started=0.0)
