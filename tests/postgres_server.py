"""The PostgreSQL server the tests use: the one at ``RUNYARD_TEST_POSTGRES_URL`` (default the
loopback one on port 5432) when it answers, else a throwaway one started for the session.

The throwaway server is Debian's ``postgresql`` binaries (``make postgres`` installs them):
``initdb`` into a fresh temporary directory, ``postgres`` on a free loopback port with its
socket in that directory, durability off (fsync, synchronous commit: the data is thrown
away), stopped and deleted when the session ends. initdb and postgres refuse to run as
root, so a root test run (CI) runs them as the ``postgres`` system user, which owns the
directory. pytest-postgresql starts a server the same way but has no such option (its
issues #341, #455), hence this module.
"""

from __future__ import annotations

import gc
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
SERVER_USER = "postgres"  # the system user Debian's package creates


def libpq_url(url: str) -> str:
    """``url`` as psycopg takes it (an SQLAlchemy ``postgresql+psycopg://`` one is accepted too)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def answers(url: str) -> str | None:
    """None when a server accepts us at ``url``; otherwise why not."""
    try:
        with psycopg.connect(libpq_url(url), connect_timeout=3):
            return None
    except psycopg.OperationalError as error:
        return str(error).strip().splitlines()[0]


def find_bindir() -> Path:
    """The folder with initdb and postgres: pg_config's, the one initdb is linked from on the
    PATH, or the newest of Debian's /usr/lib/postgresql/*/bin."""
    candidates = []
    if shutil.which("pg_config"):
        bindir = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        candidates.append(Path(bindir.stdout.strip()))
    if initdb := shutil.which("initdb"):
        candidates.append(Path(initdb).resolve().parent)
    debian = glob.glob("/usr/lib/postgresql/*/bin")
    candidates += sorted((Path(p) for p in debian), key=lambda p: p.parent.name.zfill(4), reverse=True)
    for folder in candidates:
        if all(os.access(folder / tool, os.X_OK) for tool in ("initdb", "postgres")):
            return folder
    raise RuntimeError("no PostgreSQL server binaries (initdb, postgres): run `make postgres`")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def as_server_user() -> dict[str, Any]:
    """Popen arguments that drop root to the postgres user; none when we are not root."""
    if os.geteuid() != 0:
        return {}
    try:
        user = pwd.getpwnam(SERVER_USER)
    except KeyError:
        raise RuntimeError(f"running as root and there is no {SERVER_USER!r} user to run "
                           "the throwaway PostgreSQL server as: run `make postgres`") from None
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


class ThrowawayServer:
    """One PostgreSQL server in a temporary directory, trusting local connections."""

    def __init__(self) -> None:
        self.bindir = find_bindir()
        self.user = as_server_user()
        self.folder = Path(tempfile.mkdtemp(prefix="runyard-pg-"))
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        if self.user:
            os.chown(self.folder, self.user["user"], self.user["group"])
        self._run("initdb", "-D", "data", "-U", "postgres", "-A", "trust", "-E", "UTF8",
                  "--no-locale", "--no-sync")
        for _ in range(3):  # another process may take the free port before the server binds it
            self.port = free_port()
            if self._launch():
                return
        raise RuntimeError(f"the throwaway PostgreSQL server did not start:\n{self._log()}")

    def stop(self) -> None:
        """Fast shutdown (clients disconnected), then the directory goes."""
        self._halt(signal.SIGINT)
        shutil.rmtree(self.folder, ignore_errors=True)

    def _halt(self, how: signal.Signals) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(how)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def _run(self, tool: str, *args: str) -> None:
        done = subprocess.run([str(self.bindir / tool), *args], cwd=self.folder,
                              capture_output=True, text=True, **self.user)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}):\n{done.stdout}{done.stderr}")

    def _launch(self) -> bool:
        """Start postgres on self.port; True once it accepts connections."""
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": str(self.folder),
            "fsync": "off",  # durability is worth nothing in a server that is thrown away
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "autovacuum": "off",
        }
        options = [arg for key, value in settings.items() for arg in ("-c", f"{key}={value}")]
        with (self.folder / "server.log").open("ab") as log:
            self.process = subprocess.Popen(
                [str(self.bindir / "postgres"), "-D", "data", *options],
                cwd=self.folder, stdout=log, stderr=subprocess.STDOUT, **self.user,
            )
        deadline = time.monotonic() + 30
        while self.process.poll() is None and time.monotonic() < deadline:
            if answers(self.admin_url) is None:
                return True
            time.sleep(0.1)
        self._halt(signal.SIGQUIT)  # immediate shutdown: it never became ready
        return False

    def _log(self) -> str:
        return (self.folder / "server.log").read_text(errors="replace")[-4000:]


@contextmanager
def postgres_server(url: str) -> Iterator[tuple[str, str]]:
    """The admin URL of a server to test on, and a line saying which one it is."""
    why_not = answers(url)
    if why_not is None:
        yield libpq_url(url), f"PostgreSQL: the server at {make_url(url)!r}"
        return
    server = ThrowawayServer()
    try:
        server.start()
        yield server.admin_url, (f"PostgreSQL: a throwaway server on port {server.port} "
                                 f"({server.bindir}); {make_url(url)!r} did not answer: {why_not}")
    finally:
        server.stop()


def create_database(admin_url: str, template: str = "template1") -> str:
    """A new database on the admin URL's server, a copy of ``template``; its SQLAlchemy URL."""
    name = f"runyard_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    url = make_url(admin_url).set(drivername="postgresql+psycopg", database=name)
    return url.render_as_string(hide_password=False)


def drop_database(admin_url: str, url: str) -> None:
    """Drop the database of ``url``, even with connections a test left open."""
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE "{make_url(url).database}" WITH (FORCE)')


@contextmanager
def fresh_database(admin_url: str, template: str = "template1") -> Iterator[str]:
    """A database for one test (its SQLAlchemy URL), dropped after it."""
    url = create_database(admin_url, template)
    try:
        yield url
    finally:
        gc.collect()  # a connection the test left open warns here, in that test, not in a later one
        drop_database(admin_url, url)
