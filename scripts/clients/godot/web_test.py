"""Run the Godot addon's tests in the real engine: Godot 4.6's web build, headless Chromium.

1. Pack ``godot_client/`` (addon, tests, demo) into ``index.pck`` with the test runner as
   the main scene (the web build has no ``--script``), writing the ``.godot`` class cache
   that an editor export would have written, and the run's settings.
2. Serve the test page, the engine and the pack on ``--page-port``; the page posts every
   line the engine prints back to ``/log``.
3. Open the page in headless Chromium. The gRPC-Web server lives on another port, so the
   browser makes real cross-origin requests (the server must allow this page's origin).
   For a server with TLS, ``--ca`` is its (self-signed) certificate: Chromium trusts that
   certificate's key alone (``--ignore-certificate-errors-spki-list``), and the pack
   carries it for the addon's ``trusted_ca_path``. Tokens come from the environment
   (``NPC_CLIENT_TOKEN``, ``NPC_ADMIN_TOKEN``), never the command line, and go into the
   pack's run settings.
4. Pass when the runner reports ``RESULT n passed, 0 failed`` and exits 0, no line says
   ``SCRIPT ERROR``, ``Parse Error`` or ``Compile Error``, and nothing else was printed as
   an error (engine ``ERROR:`` lines, page errors; warnings are fine).

    python scripts/clients/godot/web_test.py --grpc-web http://127.0.0.1:50052 --page-port 8765
    NPC_CLIENT_TOKEN=... NPC_ADMIN_TOKEN=... python scripts/clients/godot/web_test.py \
        --grpc-web https://localhost:8080 --ca cert.pem --page-port 8765
    python scripts/clients/godot/web_test.py --suite codec    # no server needed
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pck import write_pck

HERE = Path(__file__).resolve().parent
CLIENT = HERE.parents[2] / "godot_client"
CACHE = Path(os.environ.get("NPC_TOOLCHAIN_CACHE",
                            Path.home() / ".cache" / "npc-runtime" / "toolchain"))
PACKED = ("addons", "tests", "demo")  # folders of godot_client/ that go into the pack
PACKED_SUFFIXES = {".gd", ".tscn", ".tres", ".cfg"}
ENGINE_ERRORS = re.compile(r"SCRIPT ERROR|Parse Error|Compile Error")
RESULT = re.compile(r"RESULT (\d+) passed, (\d+) failed")
MAIN_SCENE = "res://tests/test_runner.tscn"
CA_IN_PACK = "tests/server_ca.crt"  # the --ca certificate, for the tests' trusted_ca_path
# What the page loads from the engine folder (setup_toolchain.sh): the loader, the engine,
# and the audio worklets an export ships beside them (loaded when audio starts, that is in
# every run without --headless).
ENGINE_FILES = {
    "index.js": "application/javascript",
    "index.wasm": "application/wasm",
    "index.audio.worklet.js": "application/javascript",
    "index.audio.position.worklet.js": "application/javascript",
}

PROJECT = """config_version=5

[application]

config/name="npc_dialogue tests"
run/main_scene="{main_scene}"
config/features=PackedStringArray("4.6")
"""


def _global_classes(files: dict[str, bytes]) -> str:
    """``.godot/global_script_class_cache.cfg`` for every ``class_name`` in the pack."""
    entries = []
    for path, data in sorted(files.items()):
        if not path.endswith(".gd"):
            continue
        text = data.decode()
        name = re.search(r"^class_name\s+(\w+)", text, re.MULTILINE)
        base = re.search(r"^extends\s+(\w+)", text, re.MULTILINE)
        if name:
            entries.append(
                f'{{\n"base": &"{base.group(1) if base else "RefCounted"}",\n'
                f'"class": &"{name.group(1)}",\n"icon": "",\n"is_abstract": false,\n'
                f'"is_tool": {"true" if "@tool" in text else "false"},\n'
                f'"language": &"GDScript",\n"path": "res://{path}"\n}}')
    return "list=[" + ", ".join(entries) + "]\n"


def spki_sha256(cert: Path) -> str:
    """base64 of the SHA-256 of ``cert``'s public key (SubjectPublicKeyInfo, DER): what
    Chromium's ``--ignore-certificate-errors-spki-list`` names a certificate by."""
    pem = subprocess.run(["openssl", "x509", "-pubkey", "-noout", "-in", str(cert)],
                         capture_output=True, check=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pem,
                         capture_output=True, check=True).stdout
    digest = subprocess.run(["openssl", "dgst", "-sha256", "-binary"], input=der,
                            capture_output=True, check=True).stdout
    return base64.b64encode(digest).decode("ascii")


def build_pack(client: Path, config: dict[str, str], ca: Path | None = None,
               main_scene: str = MAIN_SCENE) -> bytes:
    """The test pack: godot_client's addon, tests and demo, ``main_scene`` (the test runner)
    as main scene, the run's settings in ``tests/run_config.json`` and, with ``ca``, the
    server's certificate.
    (Settings go in the pack, not as command-line arguments, which once changed the heap
    layout enough to trigger the engine bug test.html works around.)"""
    files = {
        str(p.relative_to(client)): p.read_bytes()
        for folder in PACKED for p in sorted((client / folder).rglob("*"))
        if p.suffix in PACKED_SUFFIXES
    }
    if ca is not None:
        files[CA_IN_PACK] = ca.read_bytes()
    files[".godot/global_script_class_cache.cfg"] = _global_classes(files).encode()
    files["tests/run_config.json"] = json.dumps(config).encode()
    files["project.godot"] = PROJECT.format(main_scene=main_scene).encode()
    return write_pck(files)


@contextmanager
def serve_page(port: int, engine: Path, pck: bytes, page: str = "test.html",
               missing: list[str] | None = None) -> Iterator[tuple[int, queue.Queue[str]]]:
    """``web/<page>``, the engine and the pack on 127.0.0.1:port; yields (port, lines posted
    to /log). Paths asked for and not served (404) are appended to ``missing``."""
    lines: queue.Queue[str] = queue.Queue()
    routes = {
        "/": ((HERE / "web" / page).read_bytes(), "text/html"),
        "/log.js": ((HERE / "web" / "log.js").read_bytes(), "text/javascript"),
        "/index.pck": (pck, "application/octet-stream"),
        **{f"/{name}": ((engine / name).read_bytes(), kind)
           for name, kind in ENGINE_FILES.items() if (engine / name).exists()},
    }

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body, kind = routes.get(self.path.split("?")[0], (b"", ""))
            if not kind and missing is not None:
                missing.append(self.path)
            self.send_response(200 if kind else 404)
            self.send_header("Content-Type", kind or "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            size = int(self.headers.get("Content-Length", 0))
            lines.put(self.rfile.read(size).decode(errors="replace"))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass  # the engine's lines are the log

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], lines
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def chromium(url: str, binary: str, trust: Path | None = None
             ) -> Iterator[subprocess.Popen[bytes]]:
    """Headless Chromium on ``url``, stopped (with its child processes) on exit. With
    ``trust``, a certificate Chromium accepts though no CA signed it: that one only, by its
    key (not ``--ignore-certificate-errors``, which would accept any)."""
    flags = [f"--ignore-certificate-errors-spki-list={spki_sha256(trust)}"] if trust else []
    with tempfile.TemporaryDirectory() as profile:
        process = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--disable-extensions", *flags, f"--user-data-dir={profile}",
             url],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            yield process
        finally:
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(process.pid, signal.SIGKILL)


def _is_error(line: str) -> bool:
    """An engine or page error (printed to stderr), not a warning or a backtrace line."""
    return line.startswith("ERR ") and not re.match(r"ERR\s+(at:|WARNING)", line)


def run(args: argparse.Namespace) -> int:
    """Run the engine once; print its lines; 0 when the tests passed cleanly."""
    engine = args.toolchain / "godot-web-4.6"
    if not (engine / "index.wasm").exists():
        print(f"no Godot web build in {engine}: run scripts/clients/godot/setup_toolchain.sh",
              file=sys.stderr)
        return 2
    started = time.monotonic()
    config = {"suite": args.suite, "grpc_web": args.grpc_web,
              "client_token": os.environ.get("NPC_CLIENT_TOKEN", ""),
              "admin_token": os.environ.get("NPC_ADMIN_TOKEN", ""),
              "trusted_ca_path": f"res://{CA_IN_PACK}" if args.ca else ""}
    pck = build_pack(args.client, config, args.ca)
    errors: list[str] = []
    result: tuple[int, int] | None = None
    exit_code: int | None = None
    with serve_page(args.page_port, engine, pck) as (port, lines):
        url = f"http://127.0.0.1:{port}/"
        print(f"page {url}", flush=True)
        with chromium(url, args.chromium, args.ca):
            deadline = started + args.timeout
            while exit_code is None and time.monotonic() < deadline:
                try:
                    line = lines.get(timeout=0.5)
                except queue.Empty:
                    continue
                print(f"[{time.monotonic() - started:6.1f}s] {line}", flush=True)
                if ENGINE_ERRORS.search(line) or _is_error(line):
                    errors.append(line)
                if match := RESULT.search(line):
                    result = (int(match.group(1)), int(match.group(2)))
                if line.startswith("EXIT "):
                    exit_code = int(line.split()[1])
    took = time.monotonic() - started
    problems = [f"engine error: {line}" for line in errors]
    if exit_code is None:
        problems.append(f"the engine did not exit within {args.timeout:.0f} s")
    elif exit_code != 0:
        problems.append(f"the engine exited with {exit_code}")
    if result is None:
        problems.append("no RESULT line")
    elif result[1] or not result[0]:
        problems.append(f"{result[1]} failed, {result[0]} passed")
    for problem in problems:
        print(f"FAIL: {problem}", file=sys.stderr)
    print(f"godot web tests {'FAILED' if problems else 'passed'} in {took:.1f} s", flush=True)
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grpc-web", default="", help="the server's gRPC-Web base URL")
    parser.add_argument("--page-port", type=int, default=0,
                        help="port of the test page (the origin the server must allow)")
    parser.add_argument("--suite", default="all", help="all, or codec (no server needed)")
    parser.add_argument("--ca", type=Path,
                        help="the server's self-signed certificate (PEM), for an https:// "
                        "--grpc-web: the browser trusts it alone, the tests pass it to the addon")
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--toolchain", type=Path, default=CACHE)
    parser.add_argument("--client", type=Path, default=CLIENT,
                        help="the Godot project to pack (default: godot_client/)")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
