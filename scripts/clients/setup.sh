#!/usr/bin/env bash
# The toolchains the engine-client tests need (C# for Unity, Godot's web build), pinned
# and cached; see each script. `make test` runs this first. Where it cannot work (not
# Debian 12 or not root, so apt cannot install), the engine-client tests skip with the
# reason, unless NPC_REQUIRE_CLIENT_TOOLCHAIN=1 (CI): then this fails.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
for script in csharp/toolchain.sh godot/setup_toolchain.sh; do
  if ! bash "$here/$script"; then
    if [ "${NPC_REQUIRE_CLIENT_TOOLCHAIN:-0}" = 1 ]; then
      echo "error: scripts/clients/$script failed (see above)" >&2
      exit 1
    fi
    echo "warning: scripts/clients/$script failed; its engine-client tests will skip" >&2
  fi
done
exit 0
