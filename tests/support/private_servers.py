"""Private PostgreSQL clusters and Redis servers for fault tests and benchmarks: each on a free
loopback port, in a temporary directory of its own, so that a test may stop, restart or freeze
(SIGSTOP) it without touching the machine's shared servers, which other people's runs use.

Both are context managers that always stop the server and remove its directory, whatever
happened inside. Starting waits for the server to answer (polled, with a deadline); a server that
does not start fails with the tail of its log.

PostgreSQL refuses to run as root, and the tests run as root: ``initdb`` and ``pg_ctl`` run as the
``postgres`` user (``runuser``), in a directory that user owns.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import redis

from tests.support.timing import eventually

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
START_SECONDS = 30.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_process(process: subprocess.Popen, seconds: float = 10.0) -> None:
    """Terminate a child server (continued first: a stopped process would not act on SIGTERM),
    killed if it has not exited within ``seconds``, and reaped."""
    if process.poll() is None:
        process.send_signal(signal.SIGCONT)
        process.terminate()
        try:
            process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


class PrivatePostgres:
    """One throwaway cluster: trust authentication, user ``postgres``, listening on 127.0.0.1 only
    (its Unix socket in its own directory, not /var/run/postgresql)."""

    def __init__(self, root: Path, port: int) -> None:
        self.root = root
        self.port = port
        self.data = root / "data"
        self.log = root / "server.log"

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of its ``postgres`` database."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["runuser", "-u", "postgres", "--", *command],
            capture_output=True,
            text=True,
            timeout=START_SECONDS + 10,
            check=False,
        )

    def _pg_ctl(self, action: str, *options: str) -> None:
        done = self._run(
            str(PG_BIN / "pg_ctl"),
            action,
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-t",
            str(int(START_SECONDS)),
            *options,
        )
        if done.returncode != 0:
            raise RuntimeError(f"pg_ctl {action} failed: {done.stderr}\n{self.log_tail()}")

    def init(self) -> None:
        done = self._run(
            str(PG_BIN / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--no-instructions",
        )
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stderr}")

    def start(self) -> None:
        """Start and wait until it is ready (``pg_ctl -w``)."""
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root}"
        self._pg_ctl("start", "-w", "-o", options)

    def stop(self, mode: str = "fast", *, wait: bool = True) -> None:
        """``smart`` waits for every client to leave (refusing new ones meanwhile), ``fast`` ends
        their sessions, ``immediate`` kills everything. ``wait=False`` returns at once."""
        self._pg_ctl("stop", "-m", mode, "-w" if wait else "-W")

    def restart(self, mode: str = "fast") -> None:
        """Stop (ending every session) and start again; returns once it accepts connections."""
        self._pg_ctl("restart", "-m", mode, "-w")

    def running(self) -> bool:
        return self._run(str(PG_BIN / "pg_ctl"), "status", "-D", str(self.data)).returncode == 0

    def accepts_connections(self) -> bool:
        try:
            with psycopg.connect(self.dsn, connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """A running private cluster, stopped (immediately) and deleted on exit."""
    root = Path(tempfile.mkdtemp(prefix="tierwise-pg-"))
    shutil.chown(root, "postgres", "postgres")
    server = PrivatePostgres(root, free_port())
    try:
        server.init()
        server.start()
        yield server
    finally:
        try:
            if server.running():
                server.stop("immediate")
        except RuntimeError:
            if server.running():  # (not just a server that finished stopping by itself meanwhile)
                raise
        finally:
            shutil.rmtree(root, ignore_errors=True)


class PrivateRedis:
    """One throwaway ``redis-server`` (no persistence) as a child process."""

    def __init__(self, process: subprocess.Popen[bytes], port: int) -> None:
        self.process = process
        self.port = port

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def answers(self) -> bool:
        client = redis.Redis(port=self.port, socket_timeout=0.5, socket_connect_timeout=0.5)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def freeze(self) -> None:
        """SIGSTOP: connections are still accepted by the kernel, but nothing is answered."""
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.process.send_signal(signal.SIGCONT)


@contextmanager
def private_redis() -> Iterator[PrivateRedis]:
    """A running private Redis, thawed, terminated and reaped on exit."""
    port = free_port()
    process = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = PrivateRedis(process, port)
    try:
        eventually(server.answers, START_SECONDS, f"redis-server on port {port}")
        yield server
    finally:
        stop_process(process)
