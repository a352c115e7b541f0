"""WorldService over real gRPC, and hot reload of the world folder without dropping sessions."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import grpc
import pytest
from structlog.testing import capture_logs

from npc_runtime.config import EXAMPLE_WORLD
from npc_runtime.dialogue.worlds import WorldHost
from npc_runtime.errors import LoreError, PermissionDeniedError
from npc_runtime.server._proto.npc.v1 import dialogue_pb2 as dpb
from npc_runtime.server._proto.npc.v1 import world_pb2 as pb

from .conftest import LiveServer

GOOD = (EXAMPLE_WORLD / "world.yaml").read_text()


def _files(text: str) -> pb.WorldSource:
    return pb.WorldSource(files=pb.WorldFiles(files={"world.yaml": text}))


def test_validate_returns_located_diagnostics(live_server: LiveServer) -> None:
    """A broken world sent as files comes back with file:line:column diagnostics."""
    broken = GOOD.replace("knows: [silent_bell,", "knows: [silent_bel,")
    response = live_server.worlds.ValidateWorld(pb.ValidateWorldRequest(source=_files(broken)))
    assert not response.valid
    errors = [d for d in response.diagnostics if d.severity == pb.SEVERITY_ERROR]
    assert [(d.file, d.code) for d in errors] == [("world.yaml", "unknown-reference")]
    assert errors[0].line == GOOD.splitlines().index(
        next(line for line in GOOD.splitlines() if "knows: [silent_bell," in line)) + 1
    assert "silent_bell" in errors[0].hint


def test_load_refuses_an_invalid_world_and_keeps_serving(live_server: LiveServer) -> None:
    """An invalid LoadWorld changes nothing."""
    before = live_server.worlds.GetWorldInfo(pb.GetWorldInfoRequest()).world
    response = live_server.worlds.LoadWorld(pb.LoadWorldRequest(source=_files("characters: 3")))
    assert not response.loaded
    assert response.world.version == before.version


def test_load_swaps_the_world_and_sessions_carry_on(live_server: LiveServer) -> None:
    """A valid LoadWorld is served from the next turn; an open session keeps working."""
    session = live_server.stub.OpenSession(dpb.OpenSessionRequest(npc_id="maren")).session_id
    renamed = GOOD.replace("name: Saltmere", "name: Saltmere Reborn")
    response = live_server.worlds.LoadWorld(pb.LoadWorldRequest(source=_files(renamed)))
    assert response.loaded
    assert response.world.name == "Saltmere Reborn"
    events = list(live_server.stub.Say(dpb.SayRequest(session_id=session, text="Evening.")))
    assert events[-1].HasField("line_done")
    assert live_server.engine.world.name == "Saltmere Reborn"
    live_server.worlds.LoadWorld(pb.LoadWorldRequest(source=_files(GOOD)))


def test_load_refuses_a_world_without_characters(live_server: LiveServer) -> None:
    """LoadWorld of a world with no NPC is refused with a diagnostic; the old world stays."""
    before = live_server.worlds.GetWorldInfo(pb.GetWorldInfoRequest()).world
    response = live_server.worlds.LoadWorld(
        pb.LoadWorldRequest(source=_files("world: {name: Ghost Town}\n")))
    errors = [d for d in response.diagnostics if d.severity == pb.SEVERITY_ERROR]
    assert not response.loaded
    assert [d.code for d in errors] == ["no-characters"]
    assert "characters:" in errors[0].hint
    assert before.version == response.world.version


@pytest.mark.parametrize(("source", "code"), [
    (pb.WorldSource(path="../../../../etc"), grpc.StatusCode.PERMISSION_DENIED),
    (pb.WorldSource(files=pb.WorldFiles(files={"../x.yaml": "a: 1"})),
     grpc.StatusCode.INVALID_ARGUMENT),
    (pb.WorldSource(), grpc.StatusCode.INVALID_ARGUMENT),
])
def test_bad_sources_are_refused(live_server: LiveServer, source: pb.WorldSource,
                                 code: grpc.StatusCode) -> None:
    """Paths outside the world root, odd file names and empty sources get clear statuses."""
    with pytest.raises(grpc.RpcError) as info:
        live_server.worlds.ValidateWorld(pb.ValidateWorldRequest(source=source))
    assert info.value.code() == code


@pytest.mark.parametrize("path", ["../saltmere", "..", "../../../../etc",
                                  str(EXAMPLE_WORLD.parent / "saltmere")])
def test_load_is_confined_to_the_served_world_folder(live_server: LiveServer, path: str) -> None:
    """Without world roots only the served world's own folder loads: no siblings, no parent,
    and the refusal does not tell the client where the server's folders are."""
    with pytest.raises(grpc.RpcError) as info:
        live_server.worlds.LoadWorld(pb.LoadWorldRequest(source=pb.WorldSource(path=path)))
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert repr(path) in info.value.details()
    assert str(EXAMPLE_WORLD.parent) not in info.value.details().replace(path, "")


def test_the_served_world_folder_itself_may_be_validated(live_server: LiveServer) -> None:
    """'.' is the served world's folder: inside the default root."""
    response = live_server.worlds.ValidateWorld(
        pb.ValidateWorldRequest(source=pb.WorldSource(path=".")))
    assert response.valid
    assert response.world.name == live_server.engine.world.name


def test_a_symlinked_file_leading_out_of_the_root_is_refused(watched_server: LiveServer,
                                                              tmp_path: Path) -> None:
    """A YAML file that is a symbolic link to a file outside the world root is not read."""
    outside = tmp_path / "elsewhere.yaml"
    outside.write_text("facts: []\n")
    (watched_server.world_path / "extra.yaml").symlink_to(outside)
    with pytest.raises(grpc.RpcError) as info:
        watched_server.worlds.LoadWorld(pb.LoadWorldRequest(source=pb.WorldSource(path=".")))
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "extra.yaml" in info.value.details()
    assert str(tmp_path) not in info.value.details()


@pytest.fixture
def two_roots(tmp_path: Path) -> tuple[Path, Path]:
    """Two world roots, a world in the second, and things around them to reach for."""
    first, second = tmp_path / "roots" / "first", tmp_path / "roots" / "second"
    (second / "saltmere").mkdir(parents=True)
    (second / "saltmere" / "world.yaml").write_text(GOOD)
    first.mkdir()
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "world.yaml").write_text(GOOD)
    (first / "linked").symlink_to(tmp_path / "outside", target_is_directory=True)
    return first, second


def test_world_roots_allow_loading_from_any_root(live_server: LiveServer,
                                                 two_roots: tuple[Path, Path]) -> None:
    """A relative path is looked up under each root; an absolute one inside a root works."""
    host = WorldHost(live_server.engine, None, roots=two_roots)
    world, _ = asyncio.run(host.check(path="saltmere"))
    assert world is not None
    world, _ = asyncio.run(host.check(path=str(two_roots[1] / "saltmere" / "world.yaml")))
    assert world is not None


@pytest.mark.parametrize("path", ["linked", "../outside", "..", "../../outside/world.yaml"])
def test_world_roots_refuse_what_resolves_outside_them(
    live_server: LiveServer, two_roots: tuple[Path, Path], path: str
) -> None:
    """Symbolic links and '..' are resolved before the check; the message names no root."""
    host = WorldHost(live_server.engine, None, roots=two_roots)
    with pytest.raises(PermissionDeniedError) as info:
        asyncio.run(host.check(path=path))
    assert str(two_roots[0].parent) not in str(info.value)


def test_a_missing_world_under_the_roots_names_only_the_given_path(
    live_server: LiveServer, two_roots: tuple[Path, Path]
) -> None:
    """Nothing there is a LoreError that repeats the client's path, not the server's."""
    host = WorldHost(live_server.engine, None, roots=two_roots)
    with pytest.raises(LoreError) as info:
        asyncio.run(host.check(path="nowhere"))
    assert "'nowhere'" in str(info.value)
    assert str(two_roots[0].parent) not in str(info.value)


def _wait_for(predicate: object, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_hot_reload_serves_a_valid_edit_and_rejects_an_invalid_one(
    watched_server: LiveServer,
) -> None:
    """Editing the world folder reloads it; a broken edit leaves the last good world."""
    info = watched_server.worlds.GetWorldInfo(pb.GetWorldInfoRequest()).world
    session = watched_server.stub.OpenSession(
        dpb.OpenSessionRequest(npc_id="maren")).session_id
    folder = watched_server.world_path
    (folder / "world.yaml").write_text(GOOD.replace("name: Saltmere", "name: Saltmere Two"))
    assert _wait_for(lambda: watched_server.engine.world.name == "Saltmere Two")
    reloaded = watched_server.worlds.GetWorldInfo(pb.GetWorldInfoRequest()).world
    assert reloaded.version != info.version

    (folder / "world.yaml").write_text(GOOD.replace("knows: [silent_bell,", "knows: [nope,"))
    time.sleep(0.5)  # ten polls
    assert watched_server.engine.world.version == reloaded.version
    events = list(watched_server.stub.Say(dpb.SayRequest(session_id=session, text="Hello?")))
    assert events[-1].HasField("line_done")


def test_hot_reload_keeps_the_last_good_world_when_the_characters_go(
    watched_server: LiveServer,
) -> None:
    """An edit that leaves no NPC is logged as rejected and the last good world serves on."""
    before = watched_server.engine.world.version
    with capture_logs() as logs:
        (watched_server.world_path / "world.yaml").write_text("world: {name: Ghost Town}\n")
        assert _wait_for(lambda: any(e["event"] == "world_reload_rejected" for e in logs))
    rejected = next(e for e in logs if e["event"] == "world_reload_rejected")
    assert any("no-characters" in error for error in rejected["errors"])
    assert before == watched_server.engine.world.version
