"""Writes the .meta files a Unity package needs, with GUIDs derived from each path.

A package installed from git is read-only to Unity, so it cannot add .meta files
itself; the sample scene also refers to scripts by GUID. Deriving the GUID from the
path (md5 of "com.npc-runtime.client/<path>") keeps it stable and reviewable.

Usage: python unity_meta.py unity_client   (writes only the missing ones)
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

PACKAGE = "com.npc-runtime.client"
TAIL = "  userData: \n  assetBundleName: \n  assetBundleVariant: \n"
IMPORTERS = {
    ".cs": "MonoImporter:\n  externalObjects: {}\n  serializedVersion: 2\n  defaultReferences: []\n"
           "  executionOrder: 0\n  icon: {instanceID: 0}\n",
    ".asmdef": "AssemblyDefinitionImporter:\n  externalObjects: {}\n",
    ".md": "TextScriptImporter:\n  externalObjects: {}\n",
    ".json": "PackageManifestImporter:\n  externalObjects: {}\n",
}
DEFAULT = "DefaultImporter:\n  externalObjects: {}\n"


def guid(package: Path, path: Path) -> str:
    """The GUID of an asset: stable for a given path inside the package."""
    rel = path.relative_to(package).as_posix()
    return hashlib.md5(f"{PACKAGE}/{rel}".encode()).hexdigest()  # an id, not security


def meta_text(package: Path, path: Path) -> str:
    head = f"fileFormatVersion: 2\nguid: {guid(package, path)}\n"
    if path.is_dir():
        return head + "folderAsset: yes\n" + DEFAULT + TAIL
    return head + IMPORTERS.get(path.suffix, DEFAULT) + TAIL


def assets(package: Path) -> list[Path]:
    """What Unity imports (not hidden files, not `~` folders), plus the sample's files,
    which are copied into the project on import."""
    out = []
    for path in sorted(package.rglob("*")):
        parts = path.relative_to(package).parts
        if path.suffix == ".meta" or any(p.startswith(".") for p in parts):
            continue
        if any(p.endswith("~") for p in parts) and not (
                parts[0] == "Samples~" and len(parts) > 2):
            continue
        out.append(path)
    return out


def main(package: Path) -> int:
    written = 0
    for path in assets(package):
        meta = path.with_name(path.name + ".meta")
        if not meta.exists():
            meta.write_text(meta_text(package, path))
            written += 1
    print(f"{written} .meta file(s) written")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
