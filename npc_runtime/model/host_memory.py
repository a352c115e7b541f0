"""
Keeping a long-running server's resident memory at what it uses, not at its high-water mark.

glibc serves a large allocation (above a threshold) with its own mapping, returned to the
OS when freed, and smaller ones from heaps it rarely trims. By default the threshold
rises each time such a mapping is freed (up to 32 MB), so after the first burst of turns
the per-step buffers (logits, activations, KV copies) come from the heaps and stay
resident: measured here, 16 concurrent turns left the process ~150 MB larger after the
second burst than after the first, and each later burst peaked that much higher. A fixed
threshold keeps those buffers in mappings that go back to the OS.
"""

from __future__ import annotations

import ctypes
import ctypes.util

import structlog

log = structlog.get_logger(__name__)

_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number
MMAP_THRESHOLD = 64 * 1024


def return_freed_memory() -> bool:
    """Fix glibc's mmap threshold for this process; False where libc is not glibc."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        done = bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))
    except (OSError, AttributeError):  # no C library by that name, or no mallopt (not glibc)
        done = False
    if not done:
        log.debug("mmap_threshold_unchanged", libc=name)
    return done
