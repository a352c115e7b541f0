"""
Arrays the runtime learns once and keeps on disk (speech-act weights, the question map).

A file is named by a digest of everything that shapes what it holds, so a change to the
examples, the settings or the encoder makes a new file instead of reading a stale one. It
is written whole or not at all (two servers may learn the same thing at once), a damaged
file is learnt again, and a cache folder that cannot be written only costs time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import structlog

log = structlog.get_logger(__name__)

Arrays = dict[str, np.ndarray]


def kept(path: Path | None, make: Callable[[], Arrays]) -> Arrays:
    """The arrays in ``path`` (an .npz) if it holds them, else ``make()``'s, kept there
    (``path`` None: made every time)."""
    if path is not None and path.is_file():
        try:
            with np.load(path) as stored:
                return {name: stored[name] for name in stored.files}
        except (OSError, ValueError, KeyError) as exc:  # damaged: made again
            log.warning("cache_file_unreadable", path=str(path), error=str(exc))
    arrays = make()
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            part = path.with_suffix(f".{threading.get_ident()}.tmp.npz")
            np.savez(part, **arrays)  # type: ignore[arg-type]
            part.replace(path)  # whole or not at all, if two processes race
        except OSError as exc:
            log.warning("cache_file_unwritable", path=str(path), error=str(exc))
    return arrays
