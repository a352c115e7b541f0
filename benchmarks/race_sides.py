"""
The two sides of the server race behind one small interface, and the client scenarios that
drive either: npc-runtime over gRPC, llama-server over HTTP.

A side opens a conversation, says a line in it and closes it; the scenarios know nothing
else of either server. llama-server keeps no conversations, so its side keeps the history
in the client and sends the whole ChatML prompt each turn (prompt caching makes the repeated
part cheap), as a game talking to llama-server would.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import math
import statistics
import time
from collections.abc import Callable
from typing import Protocol

from benchmarks.latency import FOLLOW_UPS, NPC, OPENING  # the conversation both hold
from benchmarks.llama_server import LlamaServer
from benchmarks.race_stats import percentile
from npc_runtime.server.client import ClientError, DialogueClient

# Lines the model answers (no secret refused as written), for the concurrency scenarios.
CROWD_LINES = [OPENING, FOLLOW_UPS[0], FOLLOW_UPS[2], FOLLOW_UPS[3]]
DECODE_TOKENS = 64
REPLY_TOKENS = 32  # per request in the concurrency scenarios

#: (player, history as (role, text) pairs, the new line) -> the ChatML prompt text.
Render = Callable[[str, list[tuple[str, str]], str], str]


@dataclasses.dataclass(frozen=True)
class Turn:
    """One reply as the client saw it; a refused turn has ``refused`` set and no figures."""

    ttft_ms: float = math.nan
    total_ms: float = math.nan
    tokens: int = 0
    prompt_tokens: int = 0
    # The server's own decode rate. npc-runtime times it from its first released sentence,
    # so its figure counts tokens drafted before that time as free: not comparable.
    reported_decode_tps: float = math.nan
    refused: bool = False


class Side(Protocol):
    """One server under test."""

    name: str

    def open(self, player: str) -> object:
        """Start a conversation; returns a handle for ``say`` and ``close``."""
        ...

    def say(self, conversation: object, line: str, max_tokens: int,
            exact: int | None = None) -> Turn:
        """
        One turn. ``exact``: generate exactly that many tokens where the side can be told
        to (to match the other side's count); npc-runtime decides its own length.
        """
        ...

    def close(self, conversation: object) -> None:
        """End a conversation."""
        ...


class Ours:
    """npc-runtime over gRPC: ``tool_choice="none"``, the talking turn latency.py times."""

    name = "npc-runtime"

    def __init__(self, port: int) -> None:
        self._port = port

    def open(self, player: str) -> object:
        client = DialogueClient("127.0.0.1", self._port)
        return _Session(client, client.open_session(NPC, player)[0])

    def say(self, conversation: object, line: str, max_tokens: int,
            exact: int | None = None) -> Turn:
        assert isinstance(conversation, _Session)
        try:
            reply = conversation.client.say(conversation.id, line, tool_choice="none",
                                            max_new_tokens=max_tokens)
        except ClientError as exc:
            if str(exc).startswith("RESOURCE_EXHAUSTED"):  # admission control said no
                return Turn(refused=True)
            raise
        return Turn(reply.ttft_ms, reply.total_ms, reply.tokens, reply.prompt_tokens,
                    reply.tokens_per_s or math.nan)  # 0: it did not time one

    def close(self, conversation: object) -> None:
        assert isinstance(conversation, _Session)
        with conversation.client:
            conversation.client.close_session(conversation.id)


@dataclasses.dataclass(frozen=True)
class _Session:
    client: DialogueClient  # one channel per conversation, as each player's game has
    id: str


@dataclasses.dataclass
class _Chat:
    player: str
    history: list[tuple[str, str]]


class Theirs:
    """llama-server over HTTP, the prompt rendered by ``render`` from the kept history."""

    name = "llama-server"

    def __init__(self, server: LlamaServer, render: Render) -> None:
        self._server = server
        self._render = render

    def open(self, player: str) -> object:
        return _Chat(player, [])

    def say(self, conversation: object, line: str, max_tokens: int,
            exact: int | None = None) -> Turn:
        assert isinstance(conversation, _Chat)
        prompt = self._render(conversation.player, conversation.history, line)
        done = self._server.complete(prompt, exact or max_tokens, ignore_eos=exact is not None)
        # The NPC's line as a game would keep it: the reply's first line.
        conversation.history += [("user", line), ("assistant", done.text.split("\n")[0].strip())]
        return Turn(done.ttft_ms, done.total_ms, done.tokens, done.prompt_tokens,
                    done.decode_tps if done.tokens > 1 else math.nan)

    def close(self, conversation: object) -> None:
        pass


# --- scenarios ---------------------------------------------------------------------------

def conversation(side: Side, player: str) -> dict[str, float]:
    """
    A new conversation (its first turn: the NPC's prefix cached, the player's part not),
    then every follow-up in it (warm turns: the conversation's own KV reused). Warm TTFT
    is over the turns the model spoke: npc-runtime says some lines as written (a refused
    secret), which take no model and would flatter it.
    """
    chat = side.open(player)
    try:
        first = side.say(chat, OPENING, REPLY_TOKENS)
        warm = [side.say(chat, line, REPLY_TOKENS) for line in FOLLOW_UPS]
    finally:
        side.close(chat)
    spoken = [t for t in warm if t.tokens > 0]
    return {"new_session_ttft_ms": first.ttft_ms,
            "warm_ttft_ms": _median([t.ttft_ms for t in spoken]),
            "warm_spoken_share": len(spoken) / len(warm),
            "warm_prompt_tokens": _median([float(t.prompt_tokens) for t in spoken]),
            "warm_tokens": _median([float(t.tokens) for t in spoken])}


def decode(side: Side, player: str, exact: int | None) -> dict[str, float]:
    """
    Batch 1: one reply of up to DECODE_TOKENS tokens in a new session. The rate both sides
    share a definition of is generated tokens over the whole turn, client side (prefill of
    the player's part included: ~30-90 tokens, both sides); the servers' own decode rates
    are kept beside it (see ``Turn.reported_decode_tps``).
    """
    chat = side.open(player)
    try:
        turn = side.say(chat, OPENING, DECODE_TOKENS, exact)
    finally:
        side.close(chat)
    return {"reply_tps": turn.tokens / turn.total_ms * 1000 if turn.tokens else math.nan,
            "reported_decode_tps": turn.reported_decode_tps,
            "decode_tokens": float(turn.tokens),
            "decode_prompt_tokens": float(turn.prompt_tokens)}


def concurrent_sessions(side: Side, sessions: int, tag: str, exact: list[int] | None
                        ) -> tuple[dict[str, float], list[int]]:
    """
    ``sessions`` new conversations say one line each, all at once. Returns the figures and
    each request's generated token count, for the other side to match (a request the first
    side refused or answered without the model, 0 tokens, gets REPLY_TOKENS).
    """
    def one(i: int) -> Turn:
        chat = side.open(f"{tag}{i}")
        try:
            count = exact[i] if exact else None
            return side.say(chat, CROWD_LINES[i % len(CROWD_LINES)], REPLY_TOKENS,
                            count or (REPLY_TOKENS if exact else None))
        finally:
            side.close(chat)

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(sessions) as pool:
        turns = list(pool.map(one, range(sessions)))
    wall = time.perf_counter() - started
    answered = [t for t in turns if not t.refused]
    ttfts = [t.ttft_ms for t in answered]
    return ({"tokens_per_s": sum(t.tokens for t in answered) / wall,
             "ttft_ms_p50": percentile(ttfts, 0.5), "ttft_ms_p95": percentile(ttfts, 0.95),
             "refused": float(len(turns) - len(answered)),
             "without_model": float(sum(1 for t in answered if not t.tokens)),
             "tokens": float(sum(t.tokens for t in answered))},
            [t.tokens for t in turns])


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan
