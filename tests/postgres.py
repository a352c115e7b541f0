"""
A real, throwaway PostgreSQL server for the test session (the ``postgres`` fixture, which
``tests/conftest.py`` offers every test: the store's, the dialogue engine's, the fleet's).

The server is PostgreSQL's own ``initdb`` and ``pg_ctl`` (found on PATH or in Debian's
``/usr/lib/postgresql/*/bin``) in a temporary folder, listening on 127.0.0.1 at a free
port and on a unix socket in that folder. Without the binaries its tests skip, unless
``NPC_REQUIRE_POSTGRES=1`` (CI), which makes their absence a failure. PostgreSQL refuses
to run as root, so under root it runs as the ``postgres`` user (or ``nobody``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

# A role that must log in with a password over TCP (the rest is trusted), for the tests
# that a wrong password is refused without the password ever being shown.
GUARDED_ROLE, GUARDED_PASSWORD = "guarded", "s3cret-Pa55"


@dataclasses.dataclass(frozen=True)
class PostgresServer:
    """A running throwaway server: where it listens and who it trusts."""

    port: int
    superuser: str  # trusted over loopback TCP, no password
    _databases: Iterator[int] = dataclasses.field(default_factory=itertools.count)

    def url(self, database: str, user: str | None = None, password: str = "") -> str:
        """A ``postgresql://`` URL for a database on this server."""
        secret = f":{password}" if password else ""
        return f"postgresql://{user or self.superuser}{secret}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """An empty database of its own: the URL of a fresh ``CREATE DATABASE``."""
        name = f"t{next(self._databases)}"
        self.sql("postgres", f"CREATE DATABASE {name}")
        return self.url(name)

    def sql(self, database: str, statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
        """Run one statement behind the store's back (autocommit); its rows, if any."""
        with psycopg.connect(self.url(database), autocommit=True) as conn:
            cursor = conn.execute(statement, params or None)
            return cursor.fetchall() if cursor.description else []


def _binaries() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl``: PATH first, then Debian's newest."""
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).resolve().parent
    versions = [p for p in Path("/usr/lib/postgresql").glob("*") if p.name.isdigit()
                and (p / "bin" / "pg_ctl").exists() and (p / "bin" / "initdb").exists()]
    return max(versions, key=lambda p: int(p.name)) / "bin" if versions else None


def _as_user() -> dict[str, Any]:
    """``subprocess`` arguments that drop root (PostgreSQL refuses it); none otherwise."""
    if os.geteuid() != 0:
        return {}
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            user = pwd.getpwnam(name)
            return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
    pytest.fail("running as root, and no 'postgres' or 'nobody' user to run PostgreSQL as")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the whole test session, stopped and deleted after."""
    binaries = _binaries()
    if binaries is None:
        reason = ("PostgreSQL not installed (no initdb/pg_ctl on PATH or in "
                  "/usr/lib/postgresql/*/bin): apt-get install postgresql")
        if os.environ.get("NPC_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    user = _as_user()
    # In /tmp, not under pytest's tmp_path: that one's parents are root's alone when the
    # server runs as another user, and a socket's path must stay under 108 bytes.
    folder = Path(tempfile.mkdtemp(prefix="npc-pg-", dir="/tmp" if Path("/tmp").is_dir()
                                   else None))
    try:
        if user:
            os.chown(folder, user["user"], user["group"])
        yield from _serve(binaries, folder, user)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _serve(binaries: Path, folder: Path, user: dict[str, Any]) -> Iterator[PostgresServer]:
    """initdb, pg_ctl start (on a free port, tried three times), yield, pg_ctl stop."""
    data, log = folder / "data", folder / "server.log"

    def run(*args: str | Path) -> bool:
        done = subprocess.run([str(a) for a in args], capture_output=True, text=True,
                              timeout=120, check=False, cwd=folder,
                              env={**os.environ, "LC_ALL": "C"}, **user)
        if done.returncode != 0:
            server_log = log.read_text() if log.exists() else ""
            print(f"{args[0]} failed ({done.returncode}):\n{done.stdout}{done.stderr}\n"
                  f"{server_log}")
        return done.returncode == 0

    superuser = "npc"
    if not run(binaries / "initdb", "-D", data, "-U", superuser, "--auth=trust",
               "--no-sync", "-E", "UTF8", "--locale=C"):
        pytest.fail("initdb failed (its output is above)")
    with (data / "pg_hba.conf").open("w") as hba:  # first match wins
        hba.write(f"host all {GUARDED_ROLE} 127.0.0.1/32 scram-sha-256\n"
                  "host all all 127.0.0.1/32 trust\n"
                  "local all all trust\n")
    for _ in range(3):  # another process may take the free port before the server does
        port = _free_port()
        options = (f"-c listen_addresses=127.0.0.1 -c port={port} "
                   f"-c unix_socket_directories={folder} -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off")
        if run(binaries / "pg_ctl", "-D", data, "-l", log, "-o", options, "-w", "-t", "60",
               "start"):
            break
    else:
        pytest.fail("pg_ctl start failed three times (its output is above)")
    try:
        server = PostgresServer(port, superuser)
        server.sql("postgres", f"CREATE ROLE {GUARDED_ROLE} LOGIN PASSWORD "
                   f"'{GUARDED_PASSWORD}'")
        yield server
    finally:
        run(binaries / "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
