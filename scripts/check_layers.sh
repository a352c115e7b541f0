#!/usr/bin/env bash
# Architecture rules a grep can check (see README "Layout"); prints offenders, exits 1.
set -uo pipefail
cd "$(dirname "$0")/.."
fail=0
check() {  # $1: the rule, $2: offending lines (empty when kept)
  if [ -n "$2" ]; then echo "layer rule broken: $1"; echo "$2"; fail=1; fi
}
py() { grep -rnE "$1" npc_runtime --include=*.py | grep -v '/_proto/'; }
check "only npc_runtime/server/ imports grpc or the generated *_pb2 modules" \
  "$(py '^\s*(import grpc|from grpc|from .*_pb2|import .*_pb2)' | grep -v '^npc_runtime/server/')"
check "only npc_runtime/model/ imports onnxruntime" \
  "$(py '^\s*(import onnxruntime|from onnxruntime)' | grep -v '^npc_runtime/model/')"
check "only server/status.py aborts RPCs" \
  "$(py 'context\.abort\(' | grep -v '^npc_runtime/server/status.py')"
check "lore/, model/, constraints/, tools/ and store/ know nothing of dialogue/ or server/" \
  "$(grep -rnE 'npc_runtime\.(dialogue|server)' npc_runtime/lore npc_runtime/model \
     npc_runtime/constraints npc_runtime/tools npc_runtime/store --include=*.py)"
check "lore/ knows nothing of the model, constraints, tools or store" \
  "$(grep -rnE 'npc_runtime\.(model|constraints|tools|store)' npc_runtime/lore --include=*.py)"
check "torch, transformers and peft (the export extra) are imported only by model builds, tune/ and testing.py" \
  "$(py '^\s*(import|from) (torch|transformers|peft)\b' | grep -vE '^npc_runtime/(model/(build|encoder_build)\.py|tune/|testing\.py)')"
check "serving code knows nothing of tune/ (only the CLI starts it)" \
  "$(grep -rnE 'npc_runtime\.tune' npc_runtime --include=*.py | grep -vE '^npc_runtime/(tune/|cli_tune\.py)')"
for f in $(find npc_runtime -name '*.py' -not -path '*/_proto/*'); do
  n=$(wc -l < "$f")
  if [ "$n" -gt 600 ]; then echo "warning: $f has $n lines (soft cap 400)"; fi
done
exit $fail
