#!/usr/bin/env bash
# Runs the Unity client's end-to-end program (built by compile.sh) on the .NET Core
# 3.1 runtime. With a URL, against that live gRPC-Web endpoint
# (`npc-runtime serve --web-port P` -> http://127.0.0.1:P/); without, the offline
# transport checks only. Usage: e2e.sh [URL] [BUILD_DIR] [--play]
# --play: plays the Unity sample's game instead (SamplePlay.cs; a server with
#   --max-active-turns 1 --max-queued-turns 0).
# Against `serve --auth-tokens F --tls-cert C --tls-key K` (URL https://localhost:P/):
#   NPC_E2E_TOKEN (a client token), NPC_E2E_ADMIN_TOKEN (an admin token, to set up
#   quest state) and NPC_E2E_CA_FILE (C, the CA to trust) in the environment, not on
#   the command line. NPC_E2E_CAPACITY=1 when the server admits one turn at a time.
set -euo pipefail
cd "$(dirname "$0")/../../.."
# shellcheck source=/dev/null
source "${NPC_TOOLCHAIN_CACHE:-$HOME/.cache/npc-runtime/toolchain}/csharp/env.sh"
build="$(realpath -m "${2:-build/clients/csharp}")"
# No ICU on a bare Debian; the client needs no culture data. No telemetry.
export DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
# .NET Core 3.1 needs OpenSSL 1.1 for TLS (and for making certificates); Debian 12 has 3.
if [[ ! -f "${CS_LIBSSL11:-/nonexistent}/libssl.so.1.1" ]]; then
  echo "e2e.sh: no OpenSSL 1.1 for the .NET Core 3.1 runtime: run scripts/clients/csharp/toolchain.sh" >&2
  exit 1
fi
export LD_LIBRARY_PATH="$CS_LIBSSL11${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
exec "$CS_DOTNET" "$build/NpcE2E.dll" ${1:+"$1"} "${@:3}"
