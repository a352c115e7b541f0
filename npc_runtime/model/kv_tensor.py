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
import functools
import mmap
from typing import Protocol

import numpy as np
import onnxruntime as ort


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


class HostTensor:
    """A KV tensor in host memory."""

    def __init__(self, array: np.ndarray, backing: mmap.mmap | None = None,
                 offset: int = 0) -> None:
        self.array = array
        self._backing = backing  # the private mapping behind array, if lazy
        self._offset = offset  # where array starts in that mapping

    @classmethod
    def zeros(cls, shape: tuple[int, int, int, int], dtype: type[np.generic],
              *, lazy: bool = False) -> HostTensor:
        """
        A zeroed tensor. ``lazy`` puts it in its own anonymous mapping: from malloc a
        large buffer can land on the heap, where zeroing commits every page; a private
        mapping is zero pages until written (unused rows and tokens cost address space,
        not RAM) and goes back to the OS whole. Small per-sequence caches stay eager: a
        fresh mapping costs a page fault per 4 KiB on first write, which a turn would pay.
        """
        if not lazy:
            return cls(np.zeros(shape, dtype))
        # Private: its pages are this process's alone, so the OS can take them back (a shared
        # anonymous mapping is shared memory, which keeps them).
        backing = mmap.mmap(-1, int(np.prod(shape)) * np.dtype(dtype).itemsize,
                            flags=mmap.MAP_PRIVATE)
        return cls(np.frombuffer(backing, dtype=dtype).reshape(shape), backing)

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
                          self._offset + start * row_bytes)

    def copy_tokens(self, source: KVTensor, tokens: int, *, at: int = 0,
                    source_at: int = 0) -> None:
        self.array[:, :, at:at + tokens] = source.numpy()[:, :, source_at:source_at + tokens]

    def zero(self) -> None:
        size = self.array.nbytes
        if (self._backing is not None and size % mmap.PAGESIZE == 0
                and self._offset % mmap.PAGESIZE == 0):
            self._backing.madvise(mmap.MADV_DONTNEED, self._offset, size)  # reads as zeros
        else:
            self.array[...] = 0

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


def zeros(device: str, shape: tuple[int, int, int, int], dtype: type[np.generic],
          *, lazy: bool = False) -> KVTensor:
    """A zeroed KV tensor on ``device`` ("cpu" or "cuda")."""
    kind = CudaTensor if device == "cuda" else HostTensor
    return kind.zeros(shape, dtype, lazy=lazy)


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
