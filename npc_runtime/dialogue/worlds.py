"""
The served world: validate and swap worlds, and hot-reload the world folder.

A swap happens between turns (a turn reads the world once), so open sessions carry on.
An invalid world is never served: the previous one stays and the errors are reported.
A client names a world on the server by a path under one of the world roots (the served
world's own folder unless ``NPC_WORLD_ROOTS`` says otherwise): the folder and every file
in it are resolved, symbolic links followed, before the check, and refusals repeat the
path as the client gave it, never the server's own absolute paths.

Replicas on a shared store keep one world (``world_sync.py``): each world served here
from a client or the folder is handed, with its files' text, to ``on_served``, which
publishes it; a world another replica published comes in through ``follow``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import tempfile
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path, PurePosixPath

import structlog

from npc_runtime.dialogue.engine import DialogueEngine
from npc_runtime.errors import InvalidInputError, LoreError, PermissionDeniedError
from npc_runtime.lore.diagnostics import Diagnostic
from npc_runtime.lore.loader import MAX_FILES, check_world_files, world_files
from npc_runtime.lore.model import World
from npc_runtime.lore.yaml_source import MAX_FILE_BYTES

log = structlog.get_logger(__name__)

Snapshot = tuple[tuple[str, int, int], ...]  # (path, mtime_ns, size) of every world file
# A world just served here, its files' text and where it came from ("client", "watch").
Served = Callable[[World, Mapping[str, str], str], Awaitable[None]]


class WorldHost:
    """Owns which world the engine serves and where it came from."""

    def __init__(self, engine: DialogueEngine, path: Path | None, *,
                 roots: Sequence[Path] = ()) -> None:
        """
        Args:
            engine: The engine whose world this host swaps.
            path: The served world's folder (or file), watched for edits.
            roots: Folders clients may load worlds from (``Settings.world_roots``);
                empty: only the served world's own folder.
        """
        self.engine = engine
        self.path = path.resolve() if path else None
        served = self.path if self.path is None or self.path.is_dir() else self.path.parent
        # Clients may load worlds from under these folders (resolved), never elsewhere:
        # not their siblings, and not through a symbolic link that leads out of them.
        self.roots: tuple[Path, ...] = tuple(Path(r).resolve() for r in roots) or (
            (served,) if served else ())
        self._watcher: asyncio.Task[None] | None = None
        self._snapshot: Snapshot = self._scan()
        # Held while a world is swapped in and announced, so a world from elsewhere
        # cannot land between the swap and its publication (``world_sync.py``).
        self.swapping = asyncio.Lock()
        self.on_served: Served | None = None  # set by ``WorldSync``: publish it

    @property
    def world(self) -> World:
        """The world served now."""
        return self.engine.world

    async def check(self, *, path: str = "", files: Mapping[str, str] | None = None
                    ) -> tuple[World | None, list[Diagnostic]]:
        """
        Validate a world given as a server path or as file contents.

        Raises:
            InvalidInputError: Both or neither source, or malformed file names or sizes.
            PermissionDeniedError: ``path``, or a file under it once symbolic links are
                followed, is outside every world root.
            LoreError: Nothing at ``path``, or no YAML there.
        """
        if bool(path) == bool(files):
            raise InvalidInputError("give exactly one world source: a path or files")
        if path:
            target = self._locate(path)
            return await asyncio.to_thread(
                functools.partial(check_world_files, target, within=self.roots, label=path))
        assert files is not None
        _check_names(files)
        with tempfile.TemporaryDirectory(prefix="npc-world-") as tmp:
            for name, text in files.items():
                (Path(tmp) / name).parent.mkdir(parents=True, exist_ok=True)
                (Path(tmp) / name).write_text(text, encoding="utf-8")
            return await asyncio.to_thread(check_world_files, Path(tmp))

    async def load(self, *, path: str = "", files: Mapping[str, str] | None = None
                   ) -> tuple[bool, list[Diagnostic]]:
        """Validate and, when valid, serve (and publish, with replicas); returns (loaded,
        diagnostics)."""
        world, diagnostics = await self.check(path=path, files=files)
        if world is not None:
            texts = files if files is not None else await asyncio.to_thread(
                self._texts_at, path)
            await self._swap(world, "client", texts)
        return world is not None, diagnostics

    def follow(self, world: World, source: str) -> None:
        """Serve a world another replica published (the caller holds ``swapping``)."""
        self._serve(world, source)

    async def _swap(self, world: World, source: str, texts: Mapping[str, str] | None) -> None:
        """Serve ``world`` and hand it on to ``on_served`` (None ``texts``: unreadable)."""
        async with self.swapping:
            self._serve(world, source)
            if self.on_served is not None and texts is not None:
                await self.on_served(world, texts, source)

    def _texts_at(self, path: str) -> dict[str, str] | None:
        """The text of the world files a client's ``path`` names (see ``world_texts``)."""
        return world_texts(self._locate(path), within=self.roots)

    def _locate(self, path: str) -> Path:
        """
        The resolved world folder or file that a client's ``path`` names: relative to a
        root (the first one under which it exists), or absolute. Messages name the path
        as the client gave it, never the server's absolute folders.
        """
        if not self.roots:
            raise PermissionDeniedError("this server loads no world from a path; send the "
                                        "files instead")
        try:
            targets = [(root / path).resolve() for root in self.roots]
            inside = [t for t in targets if any(t.is_relative_to(r) for r in self.roots)]
            found = next((target for target in inside if target.exists()), None)
        except (OSError, ValueError) as exc:  # NUL bytes, names too long, unreadable
            raise InvalidInputError(f"path {path!r} cannot be used: "
                                    f"{type(exc).__name__}") from exc
        if found is not None:
            return found
        if len(inside) < len(targets):  # whether it exists out there is none of its business
            raise PermissionDeniedError(
                f"{path!r} is outside the folders this server loads worlds from (its "
                "world's own folder, or NPC_WORLD_ROOTS)")
        raise LoreError(f"{path!r}: no world folder or file there")

    def start_watching(self, interval_s: float) -> None:
        """Poll the world folder and hot-reload valid changes."""
        if self.path is not None and self._watcher is None:
            self._watcher = asyncio.get_running_loop().create_task(self._watch(interval_s))

    async def stop_watching(self) -> None:
        """Stop the watcher, if any."""
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None

    def _serve(self, world: World, source: str) -> None:
        old = self.engine.world.version
        self.engine.replace_world(world)
        log.info("world_loaded", source=source, world=world.name, version=world.version,
                 previous=old)

    def _scan(self) -> Snapshot:
        if self.path is None:
            return ()
        try:
            return tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size)
                         for f in world_files(self.path))
        except (LoreError, OSError):
            return ()

    async def _watch(self, interval_s: float) -> None:
        pending: Snapshot | None = None
        while True:
            await asyncio.sleep(interval_s)
            snapshot = await asyncio.to_thread(self._scan)
            if snapshot == self._snapshot:
                pending = None
                continue
            if snapshot != pending:
                # Changed since the last look: an editor may still be writing. Load only
                # once two looks in a row agree.
                pending = snapshot
                continue
            self._snapshot, pending = snapshot, None
            assert self.path is not None
            try:
                world, diagnostics = await asyncio.to_thread(check_world_files, self.path)
            except LoreError as exc:
                log.warning("world_reload_rejected", errors=[str(exc)])
                continue
            if world is None:
                log.warning("world_reload_rejected", path=str(self.path),
                            errors=[str(d) for d in diagnostics if d.severity == "error"][:20])
            elif world.version != self.engine.world.version:
                await self._swap(world, "watch", await asyncio.to_thread(
                    world_texts, self.path))


def world_texts(path: Path, *, within: Sequence[Path] = ()) -> dict[str, str] | None:
    """
    A world's files as text by name relative to its folder (a one-file world: its file
    name), as a client sends them: what another replica needs to serve it. None, logged,
    when they cannot be read again (deleted or made unreadable since the check).
    """
    base = path if path.is_dir() else path.parent
    try:
        return {str(f.relative_to(base)): f.read_bytes().decode("utf-8")
                for f in world_files(path, within=within)}
    except (LoreError, PermissionDeniedError, OSError, ValueError) as exc:  # ValueError: not UTF-8
        log.warning("world_files_unreadable", error=f"{type(exc).__name__}: {exc}")
        return None


def _check_names(files: Mapping[str, str]) -> None:
    if len(files) > MAX_FILES:
        raise InvalidInputError(f"{len(files)} files; the limit is {MAX_FILES}")
    for name, text in files.items():
        pure = PurePosixPath(name)
        if pure.is_absolute() or ".." in pure.parts or pure.suffix not in {".yaml", ".yml"}:
            raise InvalidInputError(f"file name {name!r} must be a relative path ending in "
                                    ".yaml or .yml, without '..'")
        if len(text.encode()) > MAX_FILE_BYTES:
            raise InvalidInputError(f"{name}: larger than {MAX_FILE_BYTES} bytes")
