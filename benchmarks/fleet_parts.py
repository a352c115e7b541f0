"""
The processes of a fleet on one machine, for benchmarks/fleet_load.py: a throwaway
PostgreSQL, `npc-runtime serve` replicas each pinned to its own core, and Debian's nginx
running the shipped deploy/nginx/npc-runtime.conf in front of them.

nginx runs the file we ship, with only addresses changed (its upstream servers become the
replicas' loopback ports, its listen ports free loopback ports), so the benchmark measures
the proxy configuration a studio deploys, not a tuned copy. tests/e2e/test_fleet_proxy.py
checks the same file's behaviour (affinity, failover, drain).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from benchmarks.serve_process import ServeProcess, free_port, stop_process

ROOT = Path(__file__).resolve().parent.parent
NGINX_CONF = ROOT / "deploy" / "nginx" / "npc-runtime.conf"
COMPOSE_REPLICAS = ("npc-1", "npc-2")  # the upstream names the shipped file proxies to


def _tool(name: str, hint: str) -> str:
    """The program's path (PATH, then /usr/sbin, where Debian puts nginx); SystemExit with
    ``hint`` when it is missing."""
    for candidate in (shutil.which(name), f"/usr/sbin/{name}"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise SystemExit(f"{name} is not installed: {hint}")


# ---------------------------------------------------------------- PostgreSQL


def _postgres_bin() -> Path:
    """The folder of initdb and pg_ctl: PATH first, then Debian's newest."""
    if (found := shutil.which("pg_ctl")) and shutil.which("initdb"):
        return Path(found).resolve().parent
    versions = sorted((p for p in Path("/usr/lib/postgresql").glob("*/bin")
                       if (p / "pg_ctl").exists()), key=lambda p: int(p.parent.name))
    if not versions:
        raise SystemExit("PostgreSQL is not installed: apt-get install postgresql, "
                         "or pass --state-url of a database you own")
    return versions[-1]


@contextlib.contextmanager
def throwaway_postgres() -> Iterator[tuple[str, int]]:
    """A PostgreSQL server in a temporary folder (fsync off: a benchmark's database is
    disposable); yields a database URL and the server's pid. Under root it runs as
    ``postgres`` (it refuses root)."""
    binaries = _postgres_bin()
    folder = Path(tempfile.mkdtemp(prefix="npc-fleet-pg-"))
    user: dict[str, Any] = {}
    if os.geteuid() == 0:
        entry = pwd.getpwnam("postgres")
        user = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    data, port = folder / "data", free_port()

    def run(*args: str | Path) -> None:
        done = subprocess.run([str(a) for a in args], capture_output=True, text=True,
                              check=False, cwd=folder, env={**os.environ, "LC_ALL": "C"},
                              timeout=120, **user)
        if done.returncode:
            raise SystemExit(f"{Path(str(args[0])).name} failed: {done.stderr.strip()}")

    try:
        run(binaries / "initdb", "-D", data, "-U", "npc", "--auth=trust", "--no-sync",
            "-E", "UTF8", "--locale=C")
        run(binaries / "pg_ctl", "-D", data, "-l", folder / "server.log", "-w", "-o",
            f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories="
            f"{folder} -c fsync=off -c synchronous_commit=off -c max_connections=50", "start")
        pid = int((data / "postmaster.pid").read_text().split()[0])
        try:
            yield f"postgresql://npc@127.0.0.1:{port}/postgres", pid
        finally:
            run(binaries / "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def with_children(pid: int) -> list[int]:
    """``pid`` and its children now (PostgreSQL's backends, nginx's worker): their CPU is
    the fleet's own, not other load on the machine."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        return [pid, *map(int, children.read_text().split())]
    except OSError:
        return [pid]


# ---------------------------------------------------------------- replicas


class Replica(ServeProcess):
    """``npc-runtime serve`` pinned to one core (``taskset -c CORE``, one onnxruntime
    thread) on the shared store at ``url``: a replica sized like a one-core pod."""

    def __init__(self, core: int, url: str, world: Path, work: Path, serve_args: list[str]
                 ) -> None:
        super().__init__(world, serve_args, work, threads=1, env={"NPC_STATE_URL": url},
                         prefix=("taskset", "-c", str(core)))
        self.core = core


# ---------------------------------------------------------------- nginx


def shipped_conf(upstreams: Mapping[str, tuple[int, int | None]], port: int, web_port: int
                 ) -> str:
    """
    The shipped config with ``upstreams`` (compose name -> the replica's loopback gRPC and
    gRPC-Web ports) in place of the compose replicas, its listen ports moved to loopback
    ``port`` and ``web_port``, and nothing else changed (each substitution must match one
    line). A replica without a gRPC-Web port (None: a benchmark speaking native gRPC only)
    gets the discard port (9), where nothing listens.
    """
    text = NGINX_CONF.read_text(encoding="utf-8")
    swaps = [(r"^(\s*listen\s+)50051(\s)", rf"\g<1>127.0.0.1:{port}\g<2>"),
             (r"^(\s*listen\s+)8080;", rf"\g<1>127.0.0.1:{web_port};")]
    for name, (grpc_port, web) in upstreams.items():
        swaps += [(rf"^(\s*server\s+){name}:50051(\s)", rf"\g<1>127.0.0.1:{grpc_port}\g<2>"),
                  (rf"^(\s*server\s+){name}:8080(\s)", rf"\g<1>127.0.0.1:{web or 9}\g<2>")]
    for pattern, replacement in swaps:
        text, count = re.subn(pattern, replacement, text, flags=re.M)
        if count != 1:
            raise RuntimeError(f"{NGINX_CONF} changed shape: {pattern!r} matched {count} "
                               "lines, not 1")
    if re.search(r"^\s*server\s+[a-z]", text, re.M):
        raise RuntimeError(f"{NGINX_CONF}: an upstream server is left unmapped")
    return text


class Nginx:
    """Debian's nginx as an ordinary process (its own prefix, pid, temp paths, logs),
    running the shipped config; listening on both its ports once constructed."""

    def __init__(self, upstreams: Mapping[str, tuple[int, int | None]], prefix: Path, *,
                 binary: str = "") -> None:
        """
        Args:
            upstreams: compose name -> the replica's gRPC and gRPC-Web ports (see
                ``shipped_conf``).
            prefix: A new folder for its configuration, logs and temporary files.
            binary: nginx's path (default: found on PATH or in /usr/sbin).

        Raises:
            RuntimeError: nginx exits or does not listen within 10 s (its error log said).
        """
        nginx = binary or _tool("nginx", "apt-get install nginx")
        self.port, self.web_port, self.prefix = free_port(), free_port(), prefix
        prefix.mkdir(parents=True)
        (prefix / "npc-runtime.conf").write_text(
            shipped_conf(upstreams, self.port, self.web_port), encoding="utf-8")
        temp = "".join(f"    {kind}_temp_path {prefix}/{kind};\n"
                       for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        # The access log names the replica that answered and the key routed by, URI last.
        (prefix / "nginx.conf").write_text(
            f"daemon off;\npid {prefix}/nginx.pid;\nerror_log {prefix}/error.log info;\n"
            f"worker_processes 1;\nevents {{ worker_connections 1024; }}\nhttp {{\n"
            f"    log_format upstream '$upstream_addr $status key=$http_x_npc_session "
            f"$request_uri';\n"
            f"    access_log {prefix}/access.log upstream buffer=64k flush=1s;\n"
            f"{temp}    include {prefix}/npc-runtime.conf;\n}}\n",
            encoding="utf-8")
        self.process = subprocess.Popen(
            [nginx, "-p", str(prefix), "-e", str(prefix / "error.log"),
             "-c", str(prefix / "nginx.conf")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            self._wait_listening(10)
        except RuntimeError:
            self.stop()
            raise

    def _wait_listening(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        for port in (self.port, self.web_port):
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"nginx exited:\n{self.said()}")
                with contextlib.suppress(OSError), socket.create_connection(
                        ("127.0.0.1", port), timeout=1):
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"nginx does not listen after {timeout_s:.0f} s:\n"
                                       + self.said())
                time.sleep(0.05)

    def said(self) -> str:
        """The tail of its error log and access log (the latter complete after stop())."""
        return "\n".join(f"---- nginx {name}\n{(self.prefix / name).read_text()[-4000:]}"
                         for name in ("error.log", "access.log")
                         if (self.prefix / name).exists())

    def calls_by_upstream(self, method: str) -> dict[str, int]:
        """How many calls of ``method`` (e.g. ``Say``) each upstream address answered; read
        after stop() (the log is buffered). A call retried on another replica counts for
        the last one."""
        counts: dict[str, int] = {}
        with contextlib.suppress(OSError):
            for line in (self.prefix / "access.log").read_text().splitlines():
                addresses, _status, _key, uri = line.rsplit(" ", 3)  # see log_format
                if uri.endswith(f"/{method}"):
                    last = addresses.split(", ")[-1]
                    counts[last] = counts.get(last, 0) + 1
        return counts

    def stop(self) -> None:
        """Fast shutdown (the access log is flushed)."""
        stop_process(self.process, 10)
