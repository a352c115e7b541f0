"""
One world across replicas (``dialogue/world_sync.py``) on a real PostgreSQL server: a
world loaded or hot-reloaded on one replica is served by the others, an invalid one by
none, and a replica that starts with older lore serves the newer.

The replicas here are ``WorldHost``s with the real lore checker; the engine behind each
is a stand-in that only holds the world (a turn's use of it is the e2e fleet test's).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
from collections.abc import Callable, Iterator, MutableMapping
from pathlib import Path
from typing import Any

import structlog
from structlog.testing import capture_logs

from npc_runtime.config import EXAMPLE_WORLD
from npc_runtime.dialogue.world_sync import WorldSync
from npc_runtime.dialogue.worlds import WorldHost
from npc_runtime.lore.loader import load_world
from npc_runtime.lore.model import World
from npc_runtime.store.base import PublishedWorld
from npc_runtime.store.postgres import PostgresStore
from tests.postgres import PostgresServer

GOOD = (EXAMPLE_WORLD / "world.yaml").read_text()
NEWER = GOOD.replace("The Quickstart world", "The Quickstart world, revised")


class _Engine:
    """What a WorldHost uses of the engine: the world it serves, and the swap."""

    def __init__(self, world: World) -> None:
        self.world = world

    def replace_world(self, world: World) -> None:
        self.world = world


class Replica:
    """A world folder, a store on the shared database, a host and its sync."""

    def __init__(self, url: str, folder: Path) -> None:
        self.store = PostgresStore(url)
        self.host = WorldHost(_Engine(load_world(folder)), folder)  # type: ignore[arg-type]
        self.sync = WorldSync(self.host, self.store.fleet)

    async def close(self) -> None:
        await self.sync.stop()
        await self.host.stop_watching()
        self.store.close()


@contextlib.contextmanager
def info_logs() -> Iterator[list[MutableMapping[str, Any]]]:
    """The package's log lines from info up (the test session shows only warnings)."""
    wrapper = structlog.get_config()["wrapper_class"]
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.INFO))
    try:
        with capture_logs() as logs:
            yield logs
    finally:
        structlog.configure(wrapper_class=wrapper)


def _folder(tmp_path: Path, name: str, text: str = GOOD) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "world.yaml").write_text(text)
    return folder


async def _until(claim: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    """Whether ``claim`` comes true within the timeout (polled)."""
    deadline = time.monotonic() + timeout_s
    while not claim():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


def test_a_world_loaded_on_one_replica_is_served_by_the_other(
        postgres: PostgresServer, tmp_path: Path) -> None:
    """Both start on one folder's world (published once); a LoadWorld of files on a
    reaches b within seconds, under a's name and version; so does a's hot reload."""
    url = postgres.new_database()

    async def scenario() -> None:
        a = Replica(url, _folder(tmp_path, "a"))
        b = Replica(url, _folder(tmp_path, "b"))
        with info_logs() as logs:
            await a.sync.join()
            await b.sync.join()
        assert [e["event"] for e in logs if e["event"].startswith("world_")] == [
            "world_published", "world_in_step"]
        assert a.sync.seq == b.sync.seq == 1
        loaded, _ = await a.host.load(files={"world.yaml": NEWER.replace(
            "name: Saltmere", "name: Saltmere Revised")})
        assert loaded
        assert await _until(lambda: b.host.world.version == a.host.world.version)
        assert b.host.world.name == "Saltmere Revised"
        assert b.sync.seq == 2
        # a's folder edited: its watcher reloads it, and b follows.
        a.host.start_watching(0.05)
        (a.host.path / "world.yaml").write_text(NEWER)  # type: ignore[operator]
        assert await _until(lambda: a.host.world.name == "Saltmere"
                            and b.host.world.version == a.host.world.version)
        assert (a.sync.seq, b.sync.seq) == (3, 3)
        await a.close()
        await b.close()

    asyncio.run(scenario())


def test_an_invalid_publication_is_never_served(postgres: PostgresServer,
                                                tmp_path: Path) -> None:
    """A publication that does not validate here is logged and skipped; the previous
    world stays served."""
    url = postgres.new_database()

    async def scenario() -> None:
        a = Replica(url, _folder(tmp_path, "a"))
        await a.sync.join()
        before = a.host.world
        bad = PublishedWorld(0, "Saltmere", "broken", {"world.yaml": "characters: 3\n"})
        with info_logs() as logs:
            seq = a.store.fleet.publish_world(bad)
            assert await _until(lambda: a.sync.seq == seq)
        assert a.host.world is before
        rejected = [e for e in logs if e["event"] == "world_follow_rejected"]
        assert [(e["seq"], e["version"]) for e in rejected] == [(seq, "broken")]
        await a.close()

    asyncio.run(scenario())


def test_a_replica_starting_with_older_lore_serves_the_newer(
        postgres: PostgresServer, tmp_path: Path) -> None:
    """The fleet moved on from the lore in c's folder (a loaded newer lore): c serves the
    fleet's. A replica d that starts with lore new to the fleet publishes it, and the
    others follow it (a rolling deploy converges)."""
    url = postgres.new_database()

    async def scenario() -> None:
        a = Replica(url, _folder(tmp_path, "a"))
        await a.sync.join()
        old = a.host.world.version
        assert (await a.host.load(files={"world.yaml": NEWER}))[0]
        newer = a.host.world.version
        c = Replica(url, _folder(tmp_path, "c"))
        assert c.host.world.version == old
        with info_logs() as logs:
            await c.sync.join()
        assert c.host.world.version == newer
        assert [e["event"] for e in logs if e["event"].startswith("world_")] == [
            "world_superseded", "world_loaded", "world_followed"]
        deployed = _folder(tmp_path, "d", GOOD.replace("one small quest", "one quest"))
        d = Replica(url, deployed)
        await d.sync.join()
        assert d.sync.seq == 3
        assert await _until(lambda: a.host.world.version == c.host.world.version
                            == d.host.world.version)
        for replica in (a, c, d):
            await replica.close()

    asyncio.run(scenario())


def test_a_world_folder_missing_on_the_follower_is_not_needed(
        postgres: PostgresServer, tmp_path: Path) -> None:
    """A world a loads from a path under its own root (a folder b does not have) reaches
    b as the files' text."""
    url = postgres.new_database()

    async def scenario() -> None:
        a = Replica(url, _folder(tmp_path, "a"))
        b = Replica(url, _folder(tmp_path, "b"))
        await a.sync.join()
        await b.sync.join()
        extra = a.host.path / "v2"  # type: ignore[operator]
        shutil.copytree(EXAMPLE_WORLD, extra)
        (extra / "world.yaml").write_text(NEWER)
        loaded, _ = await a.host.load(path="v2")
        assert loaded
        assert await _until(lambda: b.host.world.version == a.host.world.version)
        await a.close()
        await b.close()

    asyncio.run(scenario())
