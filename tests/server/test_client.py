"""
The Python client and ``npc-runtime say`` against a real server: every call of a
conversation carries its affinity key (``x-npc-session``), the key a load balancer keeps
the conversation on one server by. What the server received is read from its log lines,
which carry the key as ``affinity`` (server/interceptors.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, MutableMapping
from typing import Any

import pytest

from npc_runtime.cli import main
from npc_runtime.config import Settings
from npc_runtime.model.loader import LoadedModel
from npc_runtime.server._proto.npc.v1 import quest_pb2 as qpb
from npc_runtime.server.client import DialogueClient, choose_affinity_key
from tests.server.conftest import LiveServer, captured_logs, serving_saltmere

# wren's engine tool (sell_item) makes the game answer with SubmitToolResult: one more
# call of the conversation that must carry its key.
PLAYER, NPC, TOOL = "p-heron", "wren", "sell_item"
RPCS = {"OpenSession", "Say", "SubmitToolResult", "CloseSession"}


@pytest.fixture(scope="module")
def server(tiny_model: LoadedModel, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[LiveServer]:
    """Saltmere (a world with an engine tool) with the tiny model."""
    settings = Settings(port=0, max_new_tokens=8, watch=False, tool_timeout_s=5.0)
    with serving_saltmere(settings, tiny_model, tmp_path_factory) as live:
        live.quests.SetQuestState(qpb.SetQuestStateRequest(
            player_id=PLAYER, state=qpb.QuestState(stages={"the_hidden_courier": "ask_around"})))
        yield live


def _keys_by_rpc(logs: list[MutableMapping[str, Any]]) -> dict[str, set[str | None]]:
    """For each RPC that logged, the affinity keys its lines carried (None: no key)."""
    seen: dict[str, set[str | None]] = {}
    for event in logs:
        if "rpc" in event:
            seen.setdefault(event["rpc"], set()).add(event.get("affinity"))
    return seen


def _answer(tool: str, arguments: dict[str, object]) -> tuple[str, str]:
    """The game's part: the sale went through."""
    return json.dumps({"sold": True}), ""


def _conversation(client: DialogueClient, **open_args: str) -> str:
    """Open, one turn with a tool call the game answers, close; the session id."""
    session, _ = client.open_session(NPC, "Ada", **open_args)
    reply = client.say(session, "I'll buy the silver heron token.", tool_choice=TOOL,
                       on_tool_call=_answer)
    assert [c["tool"] for c in reply.tool_calls] == [TOOL]
    client.close_session(session)
    return session


def test_every_call_of_a_conversation_sends_the_player_id_as_its_key(server: LiveServer) -> None:
    """With a player id, OpenSession, Say, SubmitToolResult and CloseSession all carry it."""
    with DialogueClient("127.0.0.1", server.port) as client, captured_logs() as logs:
        _conversation(client, player_id=PLAYER)
    assert {rpc: {PLAYER} for rpc in RPCS} == _keys_by_rpc(logs)


def test_without_a_player_id_each_conversation_keeps_its_own_random_key(
        server: LiveServer) -> None:
    """No player id: each conversation gets a random key, the same on all of its calls,
    and another conversation gets another."""
    keys = []
    for _ in range(2):
        with DialogueClient("127.0.0.1", server.port) as client, captured_logs() as logs:
            _conversation(client)
        seen = _keys_by_rpc(logs)
        assert set(seen) == RPCS
        ((key,),) = {frozenset(k) for k in seen.values()}
        assert isinstance(key, str)
        assert key.startswith("conv-")
        keys.append(key)
    assert keys[0] != keys[1]


def test_cli_say_sends_the_affinity_key_it_is_given(
        server: LiveServer, capsys: pytest.CaptureFixture[str]) -> None:
    """``say --affinity-key`` overrides the player id on every call, tool answers included."""
    with captured_logs() as logs:
        code = main(["say", "--npc", NPC, "--port", str(server.port), "--player-id", PLAYER,
                     "--affinity-key", "shard-7", "--tool-choice", TOOL, "--json",
                     "I'll buy the silver heron token."])
    assert code == 0, capsys.readouterr().err
    assert json.loads(capsys.readouterr().out)["tool_calls"][0]["tool"] == TOOL
    assert {rpc: {"shard-7"} for rpc in RPCS} == _keys_by_rpc(logs)


def test_cli_help_explains_the_affinity_key(capsys: pytest.CaptureFixture[str]) -> None:
    """``chat --help`` documents --affinity-key and its default."""
    with pytest.raises(SystemExit):
        main(["chat", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--affinity-key KEY" in text
    assert "x-npc-session" in text
    assert "default: --player-id, else a random key" in text


@pytest.mark.parametrize(("explicit", "player", "expected"), [
    ("k-1", "p-1", "k-1"),
    ("", "p-1", "p-1"),
    ("", "joueur-é", "joueur-%C3%A9"),  # metadata must be printable ASCII
    ("", "a b\n", "a%20b%0A"),
])
def test_a_chosen_key_is_a_valid_metadata_value(explicit: str, player: str,
                                                expected: str) -> None:
    """The explicit key wins over the player id; anything not printable ASCII is
    percent-encoded, the same way every time."""
    assert expected == choose_affinity_key(explicit, player)
