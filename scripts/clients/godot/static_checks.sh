#!/usr/bin/env bash
# The Godot client's checks that need no engine: the generated codec is fresh, and every
# .gd file under godot_client/ passes gdparse, gdlint and gdformat --check (gdtoolkit
# 4.5.0 from setup_toolchain.sh). Exit 1 on the first failing check.
set -euo pipefail
cd "$(dirname "$0")/../../.."
cache="${NPC_TOOLCHAIN_CACHE:-$HOME/.cache/npc-runtime/toolchain}"
bin="$cache/gdtoolkit-4.5.0/bin"
python="${PYTHON:-.venv/bin/python}"
[ -x "$bin/gdlint" ] || { echo "gdtoolkit missing: run scripts/clients/godot/setup_toolchain.sh" >&2; exit 2; }

"$python" scripts/clients/godot/gen_codec.py --check
mapfile -t files < <(find godot_client -name '*.gd' | sort)
"$bin/gdparse" "${files[@]}" >/dev/null && echo "gdparse: ${#files[@]} files parsed"
"$bin/gdlint" "${files[@]}"
"$bin/gdformat" --check "${files[@]}"
