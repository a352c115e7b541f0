"""
Keeping a long-running server's resident memory at what it uses, not at its high-water mark.

glibc serves a large allocation (above a threshold) with its own mapping, returned to the
OS when freed, and smaller ones from heaps it rarely trims. By default the threshold
rises each time such a mapping is freed (up to 32 MB), so after the first burst of turns
the per-step buffers (logits, activations, KV copies) come from the heaps and stay
resident: measured here, 16 concurrent turns left the process ~150 MB larger after the
second burst than after the first, and each later burst peaked that much higher. A fixed
threshold keeps those buffers in mappings that go back to the OS.

Pages can also be shared instead of copied: a buffer in a memory file (memfd) can have
its pages mapped copy-on-write into other buffers (``map_pages``), which then read the
file's resident pages (no copy, no first-touch faults) until they write them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import mmap
import os
import sys
import weakref

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


_MAP_FIXED = 0x10  # Linux's value (x86, arm); the mmap module does not export it
_MREMAP_MAYMOVE, _MREMAP_FIXED = 1, 2


class _Mapper:
    """libc's mmap, which Python's mmap module offers only without MAP_FIXED."""

    def __init__(self, libc: ctypes.CDLL) -> None:
        self._mmap = libc.mmap
        self._mmap.restype = ctypes.c_void_p
        self._mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                               ctypes.c_int, ctypes.c_long]
        self._mremap = libc.mremap
        self._mremap.restype = ctypes.c_void_p
        self._mremap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_int,
                                 ctypes.c_void_p]

    def map_fixed(self, address: int, size: int, flags: int, fd: int, offset: int) -> None:
        got = self._mmap(address, size, mmap.PROT_READ | mmap.PROT_WRITE,
                         flags | _MAP_FIXED, fd, offset)
        if got != address:
            error = ctypes.get_errno()
            raise OSError(error, f"mmap at {address:#x}: {os.strerror(error)}")

    def move(self, source: int, target: int, size: int) -> bool:
        flags = _MREMAP_MAYMOVE | _MREMAP_FIXED
        return bool(self._mremap(source, size, size, flags, target) == target)


@functools.cache
def _mapper() -> _Mapper | None:
    if sys.platform != "linux" or not hasattr(os, "memfd_create"):
        return None
    try:
        return _Mapper(ctypes.CDLL(None, use_errno=True))
    except (OSError, AttributeError):
        return None


class MemoryFile:
    """Zeroed bytes in a memory file (memfd) whose pages ``map_pages`` can lend out."""

    def __init__(self, size: int) -> None:
        self.fd = os.memfd_create("npc-kv", os.MFD_CLOEXEC)
        # Closed with the last reference: views it lent keep the file alive on their own.
        weakref.finalize(self, os.close, self.fd)
        os.ftruncate(self.fd, size)
        self.memory = mmap.mmap(self.fd, size, flags=mmap.MAP_SHARED)

    @staticmethod
    def available() -> bool:
        """Whether memory files and ``map_pages`` work here (Linux)."""
        return _mapper() is not None


def map_pages(address: int, size: int, source: MemoryFile, offset: int) -> None:
    """
    Make the ``size`` bytes at ``address`` (pages of a private anonymous mapping of ours)
    a copy-on-write view of ``source`` from ``offset`` on. Writes there stay private;
    ``source`` must not be written once lent (a private view may or may not see later
    writes to the file). The view stays valid after ``source`` is closed.
    """
    mapper = _mapper()
    assert mapper is not None, "map_pages needs MemoryFile.available()"
    try:
        mapper.map_fixed(address, size, mmap.MAP_PRIVATE, source.fd, offset)
    except OSError:
        map_zeros(address, size)  # a failed MAP_FIXED may leave a hole: never leave one
        raise


def map_zeros(address: int, size: int) -> bool:
    """
    Replace the pages at ``address`` (inside a private mapping of ours) with fresh zero
    pages, whether they were written or lent by ``map_pages`` (which MADV_DONTNEED would
    re-read from the file). False where unavailable.
    """
    mapper = _mapper()
    if mapper is None:
        return False
    mapper.map_fixed(address, size, mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, -1, 0)
    return True


def move_pages(source: int, target: int, size: int) -> None:
    """
    Move the ``size`` bytes at ``source`` to ``target`` (both inside private mappings of
    ours): the pages themselves move where the range is one mapping (no copy; pages lent
    by ``map_pages`` stay lent), else the bytes are copied. ``source`` may be left
    unmapped: ``map_zeros`` it before it is read again.
    """
    mapper = _mapper()
    assert mapper is not None, "move_pages needs MemoryFile.available()"
    if not mapper.move(source, target, size):
        map_zeros(target, size)  # a failed move may have unmapped the target already
        ctypes.memmove(target, source, size)
