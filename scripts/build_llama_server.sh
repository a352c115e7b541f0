#!/usr/bin/env bash
# Builds llama.cpp's own `llama-server` (the baseline of benchmarks/server_race.py) from the
# llama.cpp sources inside the llama-cpp-python sdist, the same sources the in-process
# baseline compiles, so both baselines run one llama.cpp. Built once and cached like a
# toolchain; a second run only prints the binary's path. CPU only, Release, no network at run
# time: no curl/OpenSSL (the benchmark passes a local GGUF) and no web UI download.
set -euo pipefail

VERSION="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
TOOLCHAIN="${NPC_TOOLCHAIN_DIR:-$HOME/.cache/npc-runtime/toolchain}"
JOBS="${JOBS:-2}"  # the reference machine has 2 cores, often shared: never more by default

usage() {
  cat <<EOF
usage: $(basename "$0") [--help] [--print-path]

Build llama-server ${VERSION} (CPU, Release, -march=native, OpenMP, no curl/OpenSSL) from
the llama-cpp-python ${VERSION} sdist's vendored llama.cpp, with cmake -j\$JOBS (${JOBS}).

  --print-path  print where the binary is (or will be) and exit

Cached under ${TOOLCHAIN}:
  downloads/llama_cpp_python-${VERSION}.tar.gz   the sdist (pip download, once)
  llama-server-${VERSION}/bin/llama-server        the binary (built once, ~8 min on 2 cores)
The last line printed is the binary's path. Environment: JOBS, NPC_TOOLCHAIN_DIR,
LLAMA_CPP_PYTHON_VERSION, PYTHON (for pip; default python3).
EOF
}

prefix="$TOOLCHAIN/llama-server-$VERSION"
binary="$prefix/bin/llama-server"
case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  --print-path) echo "$binary"; exit 0 ;;
  "") ;;
  *) usage >&2; exit 2 ;;
esac

# The binary is compiled for this CPU (-march=native): a cached one that no longer starts
# (another CPU after a machine move) is rebuilt rather than trusted.
if [ -x "$binary" ] && "$binary" --version >/dev/null 2>&1; then
  echo "$binary"
  exit 0
fi

downloads="$TOOLCHAIN/downloads"
sdist="$downloads/llama_cpp_python-$VERSION.tar.gz"
mkdir -p "$downloads"
if [ ! -f "$sdist" ]; then
  # --no-binary: the sdist is what carries llama.cpp's sources (vendor/llama.cpp).
  "${PYTHON:-python3}" -m pip download -q --no-binary :all: --no-deps -d "$downloads" \
    "llama-cpp-python==$VERSION"
fi

work="$(mktemp -d "$TOOLCHAIN/.llama-server-build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
tar xzf "$sdist" -C "$work" "llama_cpp_python-$VERSION/vendor/llama.cpp"
src="$work/llama_cpp_python-$VERSION/vendor/llama.cpp"

# LLAMA_OPENSSL=OFF and LLAMA_USE_PREBUILT_UI=OFF: nothing is fetched at build or run time
# (the prebuilt UI would be downloaded from a model hub at build time). Static libraries so
# the cached binary needs nothing beside it. Tests and examples are not built.
cmake -S "$src" -B "$work/build" -G Ninja \
  -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_INSTALL_PREFIX="$prefix" \
  -DBUILD_SHARED_LIBS=OFF \
  -DGGML_NATIVE=ON -DGGML_OPENMP=ON \
  -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=ON \
  -DLLAMA_BUILD_SERVER=ON >"$work/configure.log" 2>&1 || {
    tail -40 "$work/configure.log" >&2; exit 1; }
cmake --build "$work/build" --target llama-server -j "$JOBS" >"$work/build.log" 2>&1 || {
  tail -40 "$work/build.log" >&2; exit 1; }

mkdir -p "$prefix/bin"
install -m 755 "$work/build/bin/llama-server" "$binary.tmp"
mv "$binary.tmp" "$binary"  # atomic: a killed build never leaves a half-copied binary
"$binary" --version >"$prefix/version.txt" 2>&1 || true
echo "$binary"
