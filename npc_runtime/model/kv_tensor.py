"""
Where attention keys and values live: host memory (numpy) or GPU memory (CUDA).

A KV tensor is ``[rows, kv_heads, capacity, head_dim]``: one row per sequence, one slot
per token. The runtime needs only a handful of operations on it (allocate zeroed, view a
range of rows, copy the first tokens of rows from another tensor, zero, bind to an
onnxruntime IO binding), so both kinds implement just those and nothing above this module
knows which it holds. On CUDA the buffers never leave the GPU: attention writes each new
token in place and copies between tensors are device-to-device.
"""

from __future__ import annotations

import ctypes
import dataclasses
import functools
import mmap
from typing import Protocol

import numpy as np
import onnxruntime as ort
import structlog

from npc_runtime.model import host_memory

log = structlog.get_logger(__name__)


class KVTensor(Protocol):
    """The operations the runtime performs on a KV buffer."""

    @property
    def shape(self) -> tuple[int, int, int, int]: ...

    @property
    def nbytes(self) -> int: ...

    def alike(self, rows: int, capacity: int, *, lazy: bool = False) -> KVTensor:
        """A zeroed tensor of the same kind, heads and dtype (``lazy``: pages on write)."""
        ...

    def rows(self, start: int, stop: int) -> KVTensor:
        """A view of rows ``start:stop`` (writes go to this tensor)."""
        ...

    def copy_tokens(self, source: KVTensor, tokens: int, *, at: int = 0,
                    source_at: int = 0) -> None:
        """
        Copy ``tokens`` positions of every row of ``source`` (same row count), from its
        position ``source_at`` on, to this tensor's positions from ``at`` on.
        """
        ...

    def zero(self) -> None:
        """Clear every element (host: hand whole pages back to the OS where possible)."""
        ...

    def bind(self, binding: ort.IOBinding, past: str, present: str) -> None:
        """Bind as both the past input and the present output: attention writes in place."""
        ...

    def numpy(self) -> np.ndarray:
        """The values on the host (a view on CPU, a copy from a GPU)."""
        ...


@dataclasses.dataclass(eq=False)
class _Private:
    """A lazy tensor's own anonymous mapping."""

    memory: mmap.mmap
    # Start of a (row, head) run -> bytes there mapped from a memory file: where a move
    # must split the run (a move of pages cannot span two mappings).
    lent: dict[int, int] = dataclasses.field(default_factory=dict)


class HostTensor:
    """A KV tensor in host memory."""

    def __init__(self, array: np.ndarray, backing: _Private | None = None,
                 offset: int = 0, file: host_memory.MemoryFile | None = None) -> None:
        self.array = array
        self._backing = backing  # the private mapping behind array, if lazy
        self._file = file  # the memory file behind array, if shareable
        self._offset = offset  # where array starts in that mapping or file

    @classmethod
    def zeros(cls, shape: tuple[int, int, int, int], dtype: type[np.generic],
              *, lazy: bool = False, shareable: bool = False) -> HostTensor:
        """
        A zeroed tensor. ``lazy`` puts it in its own anonymous mapping: from malloc a
        large buffer can land on the heap, where zeroing commits every page; a private
        mapping is zero pages until written (unused rows and tokens cost address space,
        not RAM) and goes back to the OS whole. Small per-sequence caches stay eager: a
        fresh mapping costs a page fault per 4 KiB on first write, which a turn would pay.

        ``shareable`` puts it in a memory file instead, whose pages ``copy_tokens`` maps
        into lazy tensors rather than copying (see there); where that is unavailable it
        is an ordinary tensor. It must not be written once it has been copied from.
        """
        size = int(np.prod(shape)) * np.dtype(dtype).itemsize
        if shareable and host_memory.MemoryFile.available():
            file = host_memory.MemoryFile(size)
            return cls(np.frombuffer(file.memory, dtype=dtype).reshape(shape), file=file)
        if not lazy:
            return cls(np.zeros(shape, dtype))
        # Private: its pages are this process's alone, so the OS can take them back (a shared
        # anonymous mapping is shared memory, which keeps them).
        backing = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE)
        return cls(np.frombuffer(backing, dtype=dtype).reshape(shape), _Private(backing))

    @property
    def shape(self) -> tuple[int, int, int, int]:
        rows, heads, capacity, dim = self.array.shape
        return rows, heads, capacity, dim

    @property
    def nbytes(self) -> int:
        return int(self.array.nbytes)

    def alike(self, rows: int, capacity: int, *, lazy: bool = False) -> HostTensor:
        _, heads, _, dim = self.shape
        return HostTensor.zeros((rows, heads, capacity, dim), self.array.dtype.type, lazy=lazy)

    def rows(self, start: int, stop: int) -> HostTensor:
        row_bytes = self.array[0].nbytes if len(self.array) else 0
        return HostTensor(self.array[start:stop], self._backing,
                          self._offset + start * row_bytes, self._file)

    def copy_tokens(self, source: KVTensor, tokens: int, *, at: int = 0,
                    source_at: int = 0) -> None:
        done = self._share_tokens(source, tokens) if at == 0 == source_at else 0
        self.array[:, :, at + done:at + tokens] = (
            source.numpy()[:, :, source_at + done:source_at + tokens])

    def _share_tokens(self, source: KVTensor, tokens: int) -> int:
        """
        Map the whole pages of ``source``'s first ``tokens`` (every row and head) into
        this tensor instead of copying them, where ``source`` is shareable and both lay
        their runs of tokens on page boundaries; returns how many tokens that covers.

        A shared NPC prefix joins many batch rows: mapped, its pages are already resident
        (a copy into a fresh row faults in every page first) and held once, not per row.
        The rows write only after their prefix, or get a private copy of the page they write.
        """
        if (not isinstance(source, HostTensor) or source._file is None
                or self._backing is None  # only pages of our own private mapping are replaced
                or source.array.dtype != self.array.dtype
                or source.shape[:2] != self.shape[:2] or source.shape[3] != self.shape[3]):
            return 0
        rows, heads, capacity, dim = self.shape
        token_bytes = dim * self.array.dtype.itemsize
        page = mmap.PAGESIZE
        size = tokens * token_bytes // page * page  # of each (row, head) run
        run, source_run = capacity * token_bytes, source.shape[2] * token_bytes
        start = self.array.ctypes.data
        if (size == 0 or tokens > min(capacity, source.shape[2]) or page % token_bytes
                or (run | source_run | start | source._offset) % page):
            return 0
        try:
            for i in range(rows * heads):
                host_memory.map_pages(start + i * run, size, source._file,
                                      source._offset + i * source_run)
                self._backing.lent[start + i * run] = size
        except OSError as exc:  # e.g. out of mappings (vm.max_map_count): copy instead
            log.warning("kv_page_sharing_failed", error=str(exc))
            return 0  # the runs mapped so far already hold the values copied over them
        return size // token_bytes

    def move_row(self, source: int, target: int, tokens: int) -> bool:
        """
        Give row ``target`` row ``source``'s first ``tokens`` and clear ``source``, moving
        the pages it shares from a prefix (they stay shared) and copying the rest; False
        where this tensor cannot (then nothing changed).
        """
        _, heads, capacity, dim = self.shape
        token_bytes = dim * self.array.dtype.itemsize
        run = capacity * token_bytes
        start = self.array.ctypes.data
        if (self._backing is None or not host_memory.MemoryFile.available()
                or (run | start) % mmap.PAGESIZE):
            return False
        lent = self._backing.lent
        for head in range(heads):
            old = start + (source * heads + head) * run
            new = start + (target * heads + head) * run
            # Moving pages costs a TLB flush per call: only the shared ones are worth it.
            shared = lent.pop(old, 0)
            if shared > tokens * token_bytes:  # rewound into its prefix: copy what is left
                shared = 0
            if shared:
                host_memory.move_pages(old, new, shared)
                lent[new] = shared
            else:
                lent.pop(new, None)
            ctypes.memmove(new + shared, old + shared, tokens * token_bytes - shared)
        self.rows(source, source + 1).zero()
        return True

    def zero(self) -> None:
        size, start = self.array.nbytes, self.array.ctypes.data
        if self._backing is None or (size | start) % mmap.PAGESIZE:
            self.array[...] = 0
            return
        if host_memory.map_zeros(start, size):  # also undoes pages shared from a file
            lent = self._backing.lent
            for run in [r for r in lent if start <= r < start + size]:
                del lent[run]
        else:
            self._backing.memory.madvise(mmap.MADV_DONTNEED, self._offset, size)  # reads 0

    def bind(self, binding: ort.IOBinding, past: str, present: str) -> None:
        buffer = ort.OrtValue.ortvalue_from_numpy(self.array)  # no copy: wraps the array
        binding.bind_ortvalue_input(past, buffer)
        binding.bind_ortvalue_output(present, buffer)

    def numpy(self) -> np.ndarray:
        return self.array


class CudaTensor:
    """A KV tensor in GPU memory: an onnxruntime allocation, or a range of its rows."""

    def __init__(self, owner: ort.OrtValue, pointer: int,
                 shape: tuple[int, int, int, int], dtype: type[np.generic]) -> None:
        self._owner = owner  # keeps the allocation alive while any view of it exists
        self._pointer = pointer
        self._shape = shape
        self._dtype = np.dtype(dtype)

    @classmethod
    def zeros(cls, shape: tuple[int, int, int, int], dtype: type[np.generic],
              *, lazy: bool = False) -> CudaTensor:
        """A zeroed tensor on GPU 0 (``lazy`` means nothing on a GPU)."""
        del lazy
        owner = ort.OrtValue.ortvalue_from_shape_and_type(list(shape), dtype, "cuda", 0)
        tensor = cls(owner, owner.data_ptr(), shape, dtype)
        tensor.zero()
        return tensor

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return self._shape

    @property
    def nbytes(self) -> int:
        return int(np.prod(self._shape)) * self._dtype.itemsize

    def alike(self, rows: int, capacity: int, *, lazy: bool = False) -> CudaTensor:
        _, heads, _, dim = self._shape
        return CudaTensor.zeros((rows, heads, capacity, dim), self._dtype.type)

    def rows(self, start: int, stop: int) -> CudaTensor:
        _, heads, capacity, dim = self._shape
        row_bytes = heads * capacity * dim * self._dtype.itemsize
        return CudaTensor(self._owner, self._pointer + start * row_bytes,
                          (stop - start, heads, capacity, dim), self._dtype.type)

    def copy_tokens(self, source: KVTensor, tokens: int, *, at: int = 0,
                    source_at: int = 0) -> None:
        rows, heads, capacity, dim = self._shape
        if tokens == 0:
            return
        item = self._dtype.itemsize
        token_bytes = dim * item
        # Every (row, head) is a run of capacity * dim values; copy a window of tokens of
        # each, in one strided copy (host or device source alike).
        if isinstance(source, CudaTensor):
            pointer = source._pointer + source_at * token_bytes
            source_pitch = source._shape[2] * token_bytes
        else:
            host = np.ascontiguousarray(source.numpy()[:, :, source_at:source_at + tokens])
            pointer, source_pitch = host.ctypes.data, tokens * token_bytes
        _cuda().copy_2d(self._pointer + at * token_bytes, capacity * token_bytes, pointer,
                        source_pitch, width=tokens * token_bytes, height=rows * heads)

    def zero(self) -> None:
        _cuda().memset(self._pointer, self.nbytes)

    def bind(self, binding: ort.IOBinding, past: str, present: str) -> None:
        shape = list(self._shape)
        binding.bind_input(past, "cuda", 0, self._dtype.type, shape, self._pointer)
        binding.bind_output(present, "cuda", 0, self._dtype.type, shape, self._pointer)

    def numpy(self) -> np.ndarray:
        out = np.empty(self._shape, self._dtype)
        _cuda().copy_2d(out.ctypes.data, out.nbytes, self._pointer, self.nbytes,
                        width=self.nbytes, height=1)
        return out


def move_row(tensor: KVTensor, source: int, target: int, tokens: int) -> None:
    """
    Give row ``target`` row ``source``'s first ``tokens`` and clear row ``source`` (on the
    host, pages shared from a prefix move instead of being copied).
    """
    if isinstance(tensor, HostTensor) and tensor.move_row(source, target, tokens):
        return
    tensor.rows(target, target + 1).copy_tokens(tensor.rows(source, source + 1), tokens)
    tensor.rows(source, source + 1).zero()


def zeros(device: str, shape: tuple[int, int, int, int], dtype: type[np.generic],
          *, lazy: bool = False, shareable: bool = False) -> KVTensor:
    """
    A zeroed KV tensor on ``device`` ("cpu" or "cuda"); ``shareable``: see
    ``HostTensor.zeros`` (on a GPU, copies are device-to-device and it means nothing).
    """
    if device == "cuda":
        return CudaTensor.zeros(shape, dtype, lazy=lazy)
    return HostTensor.zeros(shape, dtype, lazy=lazy, shareable=shareable)


class _CudaRuntime:
    """The two CUDA runtime calls KV copies need, through ctypes (no CuPy or torch)."""

    _DEFAULT = 4  # cudaMemcpyDefault: direction inferred from the pointers (unified VA)

    def __init__(self) -> None:
        self._lib = _load_cudart()

    def copy_2d(self, dst: int, dst_pitch: int, src: int, src_pitch: int, *,
                width: int, height: int) -> None:
        self._check(self._lib.cudaMemcpy2D(
            ctypes.c_void_p(dst), ctypes.c_size_t(dst_pitch), ctypes.c_void_p(src),
            ctypes.c_size_t(src_pitch), ctypes.c_size_t(width), ctypes.c_size_t(height),
            ctypes.c_int(self._DEFAULT)), "cudaMemcpy2D")
        # Device-to-device copies return before they finish, and onnxruntime runs its
        # kernels on a stream of its own: wait, so the next forward pass sees the copy.
        self._check(self._lib.cudaDeviceSynchronize(), "cudaDeviceSynchronize")

    def memset(self, pointer: int, size: int) -> None:
        self._check(self._lib.cudaMemset(ctypes.c_void_p(pointer), ctypes.c_int(0),
                                         ctypes.c_size_t(size)), "cudaMemset")
        self._check(self._lib.cudaDeviceSynchronize(), "cudaDeviceSynchronize")

    def _check(self, status: int, call: str) -> None:
        if status != 0:
            self._lib.cudaGetErrorString.restype = ctypes.c_char_p
            message = self._lib.cudaGetErrorString(ctypes.c_int(status)).decode()
            raise RuntimeError(f"{call} failed: {message} (CUDA error {status})")


def _load_cudart() -> ctypes.CDLL:
    # onnxruntime-gpu has loaded (or preloaded) the runtime by the time a CUDA session
    # exists; asking by soname finds that copy.
    for name in ("libcudart.so.13", "libcudart.so.12", "libcudart.so"):
        try:
            return ctypes.CDLL(name)
        except OSError:
            continue
    raise RuntimeError("cannot load the CUDA runtime (libcudart); is onnxruntime-gpu installed "
                       "with the nvidia-* CUDA packages on the library path?")


@functools.cache
def _cuda() -> _CudaRuntime:
    return _CudaRuntime()
