"""
One world across replicas that share a store (``StateStore.fleet``).

Every world a replica serves from a client (LoadWorld) or its folder (the watcher) is
published to the store with its files' text, under a number one above the last; every
replica hears of it (the store's listener), checks it exactly as a client's LoadWorld
of those files is checked, and serves it. The highest number wins, so replicas agree
on the latest publication whatever order they heard them in; an invalid publication is
never served (the previous world stays, and the log says why). A follower serves the
world under the name and version it was published with: the name keys the players'
quest state, and a one-file world's version depends on the file's path, which a
follower does not share.

At startup (``join``) a replica compares its own world (its folder) with the store:

* nothing published yet, or its version is new to the store: it publishes it, and the
  others follow. A rolling deploy of new lore converges on it, whichever replica starts
  first;
* its version is the latest publication: nothing to do;
* its version was published before, but something newer was published since (a client
  loaded newer lore, or a replica's folder was edited): it serves the latest instead.
  Older lore never overwrites newer; to roll back, load the old world (a new
  publication), or deploy it changed.

The log says each step: ``world_published`` (number, version, source),
``world_followed`` (number, version, previous), ``world_follow_rejected``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Mapping

import structlog

from npc_runtime.dialogue.worlds import WorldHost, world_texts
from npc_runtime.errors import InvalidInputError, LoreError, NpcRuntimeError
from npc_runtime.lore.model import World
from npc_runtime.store.base import Fleet, PublishedWorld

log = structlog.get_logger(__name__)


class WorldSync:
    """Publishes the worlds a ``WorldHost`` serves, and serves those others publish."""

    def __init__(self, host: WorldHost, fleet: Fleet) -> None:
        """Attach to ``host``: from now on each world it serves is published."""
        self._host, self._fleet = host, fleet
        self.seq = 0  # the publication served here (0: none yet)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        host.on_served = self._publish

    async def join(self) -> None:
        """
        Take the fleet's world or give it this one (the startup rule: see the module's
        docstring), then follow publications. Call once, on the serving event loop,
        before the server takes calls.

        Raises:
            ConfigError: The store cannot be read or written.
        """
        self._loop = asyncio.get_running_loop()
        async with self._host.swapping:
            # Listen first, so nothing published from here on is missed; what is heard
            # waits for this lock, then is followed only if newer than the outcome.
            self._fleet.on_world(self._heard)
            own = self._host.world
            latest = await asyncio.to_thread(self._fleet.latest_world)
            if latest is not None and latest.version == own.version:
                self.seq = latest.seq
                log.info("world_in_step", seq=latest.seq, version=own.version)
            elif latest is not None and await asyncio.to_thread(
                    self._fleet.was_published, own.version):
                log.info("world_superseded", version=own.version, latest=latest.version,
                         seq=latest.seq)
                await self._serve(latest)
            elif self._host.path is not None and (
                    texts := await asyncio.to_thread(world_texts, self._host.path)):
                await self._publish(own, texts, "startup")

    async def stop(self) -> None:
        """Let a world being checked finish (none starts after this)."""
        self._loop = None
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _publish(self, world: World, files: Mapping[str, str], source: str) -> None:
        """Publish a world just served here (its caller holds ``swapping``)."""
        try:
            seq = await asyncio.to_thread(self._fleet.publish_world, PublishedWorld(
                0, world.name, world.version, dict(files)))
        except NpcRuntimeError as exc:  # served here all the same; the others keep theirs
            log.error("world_publish_failed", version=world.version, error=str(exc))
            return
        self.seq = max(self.seq, seq)
        log.info("world_published", seq=seq, world=world.name, version=world.version,
                 source=source)

    def _heard(self, published: PublishedWorld) -> None:
        """On the store's listener thread: hand a publication to the event loop."""
        loop = self._loop
        if loop is not None and published.seq > self.seq:
            with contextlib.suppress(RuntimeError):  # the loop closed: shutting down
                loop.call_soon_threadsafe(self._start, published)

    def _start(self, published: PublishedWorld) -> None:
        """On the event loop: follow the publication in a task of its own."""
        if self._loop is None or published.seq <= self.seq:
            return
        task = self._loop.create_task(self._follow(published))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _follow(self, published: PublishedWorld) -> None:
        """Serve a publication unless it is not newer than the world served here."""
        async with self._host.swapping:
            if published.seq > self.seq:
                await self._serve(published)

    async def _serve(self, published: PublishedWorld) -> None:
        """Check a publication as a client's files are checked; serve it if valid."""
        try:
            world, diagnostics = await self._host.check(files=published.files)
        except (InvalidInputError, LoreError) as exc:
            world, errors = None, [str(exc)]
        else:
            errors = [str(d) for d in diagnostics if d.severity == "error"][:20]
        self.seq = max(self.seq, published.seq)  # judged: not checked again
        if world is None:
            log.error("world_follow_rejected", seq=published.seq, version=published.version,
                      serving=self._host.world.version, errors=errors)
            return
        previous = self._host.world.version
        self._host.follow(dataclasses.replace(
            world, name=published.name, version=published.version), "fleet")
        log.info("world_followed", seq=published.seq, version=published.version,
                 previous=previous)
