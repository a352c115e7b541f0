#!/usr/bin/env bash
# Compiles the Unity client's engine-independent core (Runtime/Core) with Roslyn
# 3.4, C# 8, nullable on, warnings as errors, against the netstandard2.1
# reference assemblies and Google.Protobuf 3.21.12; then the end-to-end test
# program against that very DLL for netcoreapp3.1; then type-checks the Unity
# glue and sample against a stub of the UnityEngine API (not Unity itself), and
# parse-checks everything that needs assemblies we lack (UnityEngine, Grpc.*) and
# the package layout. Output: ${1:-build/clients/csharp}.
set -euo pipefail
cd "$(dirname "$0")/../../.."
# shellcheck source=/dev/null
source "${NPC_TOOLCHAIN_CACHE:-$HOME/.cache/npc-runtime/toolchain}/csharp/env.sh"
out="$(realpath -m "${1:-build/clients/csharp}")"
mkdir -p "$out"
roslyn() { mono "$CS_ROSLYN" -nologo -langversion:8.0 -nullable:enable -warnaserror+ "$@"; }

echo "== core: netstandard2.1, C# 8, -warnaserror"
find unity_client/Runtime/Core -name '*.cs' | sort >"$out/core.rsp"
roslyn -target:library -optimize+ -r:"$CS_NETSTANDARD/netstandard.dll" \
  -r:"$CS_PROTOBUF/Google.Protobuf.dll" -out:"$out/NpcRuntime.Core.dll" @"$out/core.rsp"

echo "== e2e program: netcoreapp3.1, against NpcRuntime.Core.dll"
mapfile -t sample_logic < <(grep -l '^// Plain C# (no UnityEngine)' unity_client/Samples~/*/*.cs | sort)
[ "${#sample_logic[@]}" -gt 0 ] || { echo "compile.sh: no sample game logic found" >&2; exit 1; }
refs=()
for dll in "$CS_NETCOREAPP"/*.dll; do refs+=("-r:$dll"); done
# With the sample's game logic (plain C#, no UnityEngine), which SamplePlay.cs plays.
roslyn -target:exe "${refs[@]}" -r:"$CS_PROTOBUF/Google.Protobuf.dll" -r:"$out/NpcRuntime.Core.dll" \
  -out:"$out/NpcE2E.dll" scripts/clients/csharp/e2e/*.cs "${sample_logic[@]}"
cp "$CS_PROTOBUF"/*.dll "$out/"
cat >"$out/NpcE2E.runtimeconfig.json" <<'JSON'
{ "runtimeOptions": { "tfm": "netcoreapp3.1",
    "framework": { "name": "Microsoft.NETCore.App", "version": "3.1.0" } } }
JSON

echo "== Unity glue and sample: against the core and a stub of the UnityEngine API they use"
roslyn -target:library -r:"$CS_NETSTANDARD/netstandard.dll" -r:"$CS_PROTOBUF/Google.Protobuf.dll" \
  -r:"$out/NpcRuntime.Core.dll" -out:"$out/UnityGlue.StubCheck.dll" scripts/clients/csharp/unity-stubs/*.cs \
  unity_client/Runtime/Unity/*.cs unity_client/Samples~/*/*.cs

echo "== parse-check (tree-sitter-c-sharp) and package layout"
"$CS_TREE_SITTER_PY" scripts/clients/csharp/check_unity_package.py unity_client
