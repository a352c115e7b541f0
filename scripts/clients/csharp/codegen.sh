#!/usr/bin/env bash
# Generates the Unity client's C# from protos/npc/v1/*.proto:
#   Runtime/Core/Generated/   messages (protoc 3.21.12 --csharp_out), CI-compiled;
#   Runtime/Native/Generated/ typed gRPC stubs (grpc_csharp_plugin 1.51.1, clients
#                             only) for the optional native transport, parse-checked.
# `codegen.sh --check` regenerates into a temporary folder and fails if the
# checked-in files differ (CI's freshness check).
set -euo pipefail
cd "$(dirname "$0")/../../.."
# shellcheck source=/dev/null
source "${NPC_TOOLCHAIN_CACHE:-$HOME/.cache/npc-runtime/toolchain}/csharp/env.sh"

want="libprotoc 3.21.12"
[[ "$(protoc --version)" == "$want" ]] || { echo "need $want, got $(protoc --version)" >&2; exit 1; }

out=unity_client/Runtime
if [[ "${1:-}" == --check ]]; then
  out="$(mktemp -d)"
  trap 'rm -rf "$out"' EXIT
fi
mkdir -p "$out/Core/Generated" "$out/Native/Generated"
rm -f "$out"/Core/Generated/*.cs "$out"/Native/Generated/*.cs
protoc -I protos --csharp_out="$out/Core/Generated" protos/npc/v1/*.proto
protoc -I protos --grpc_out="$out/Native/Generated" --grpc_opt=no_server \
  --plugin=protoc-gen-grpc="$CS_GRPC_PLUGIN" protos/npc/v1/*.proto

if [[ "${1:-}" == --check ]]; then
  for d in Core/Generated Native/Generated; do
    diff -r --exclude='*.meta' "$out/$d" "unity_client/Runtime/$d" || {
      echo "unity_client/Runtime/$d is stale: run scripts/clients/csharp/codegen.sh and commit" >&2
      exit 1
    }
  done
  echo "generated C# is up to date"
fi
