#!/usr/bin/env bash
# Runs the Unity client's end-to-end program (built by compile.sh) on the .NET Core
# 3.1 runtime. With a URL, against that live gRPC-Web endpoint
# (`npc-runtime serve --web-port P` -> http://127.0.0.1:P/); without, the offline
# transport checks only. Usage: e2e.sh [URL] [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/../../.."
# shellcheck source=/dev/null
source "${NPC_TOOLCHAIN_CACHE:-$HOME/.cache/npc-runtime/toolchain}/csharp/env.sh"
build="$(realpath -m "${2:-build/clients/csharp}")"
# No ICU on a bare Debian; the client needs no culture data. No telemetry.
export DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
exec "$CS_DOTNET" "$build/NpcE2E.dll" ${1:+"$1"}
