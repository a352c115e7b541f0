"""TreeService over real gRPC: progress, then one tree; unknown specs are named."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from npc_runtime.config import Settings
from npc_runtime.dialogue.trees.model import Tree
from npc_runtime.dialogue.trees.verify import verify
from npc_runtime.model.loader import LoadedModel
from npc_runtime.server._proto.npc.v1 import tree_pb2 as pb
from npc_runtime.server._proto.npc.v1 import tree_pb2_grpc
from tests.server.conftest import LiveServer, running_server

SALTMERE = Path(__file__).parents[2] / "examples" / "worlds" / "saltmere"


@pytest.fixture(scope="module")
def server(tiny_model: LoadedModel) -> Iterator[LiveServer]:
    settings = Settings(port=0, max_new_tokens=12, watch=False)
    with running_server(settings, tiny_model, SALTMERE) as live:
        yield live


def test_progress_then_one_sound_tree(server: LiveServer) -> None:
    stub = tree_pb2_grpc.TreeServiceStub(server.channel)
    events = list(stub.GenerateTree(pb.GenerateTreeRequest(spec_id="bell_and_clapper", seed=3)))
    kinds = [e.WhichOneof("event") for e in events]
    assert kinds[-1] == "tree"
    assert kinds.count("tree") == 1
    assert kinds[0] == "progress"
    assert events[0].progress.message.startswith("node 1/")
    result = events[-1].tree
    assert result.format == pb.TREE_FORMAT_JSON
    assert list(result.problems) == []
    tree = Tree.from_json(json.loads(result.content))
    assert len(tree.nodes) == result.nodes
    assert verify(tree, server.engine.world) == []
    assert server.engine.store.state(server.engine.world.name, "tree-start-3-1").stages == {}


def test_ink_on_request(server: LiveServer) -> None:
    stub = tree_pb2_grpc.TreeServiceStub(server.channel)
    done = list(stub.GenerateTree(pb.GenerateTreeRequest(
        spec_id="courier_first_talk", format=pb.TREE_FORMAT_INK)))[-1].tree
    assert done.content.startswith('VAR the_hidden_courier = "rumour"')


def test_an_unknown_spec_is_named(server: LiveServer) -> None:
    stub = tree_pb2_grpc.TreeServiceStub(server.channel)
    with pytest.raises(grpc.RpcError) as caught:
        list(stub.GenerateTree(pb.GenerateTreeRequest(spec_id="nope")))
    assert caught.value.code() is grpc.StatusCode.NOT_FOUND
    assert "bell_and_clapper" in (caught.value.details() or "")
