"""Child processes of the local stack: one-shot commands, and servers started in order.

Each child runs in its own session (so a terminal's Ctrl-C reaches only the parent,
which then stops children in reverse order) and writes its output to its own log file.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

ReadyCheck = Callable[[], bool]
LOG_TAIL_LINES = 40


class StackProcessError(RuntimeError):
    """A child exited, failed or never became ready; the message carries its log's tail."""


@dataclass(frozen=True)
class Job:
    """What to run: a name (also its log file's), the command, env on top of ours, readiness."""

    name: str
    command: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    ready: ReadyCheck | None = None


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def failure(self, reason: str) -> StackProcessError:
        tail = log_tail(self.log_path)
        return StackProcessError(f"{self.name} {reason}; last lines of {self.log_path}:\n{tail}")


def module_command(module: str, *args: str) -> list[str]:
    """`python -m module args...` with this interpreter, so children share its environment."""
    return [sys.executable, "-m", module, *args]


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    if not path.exists():
        return "(no log written)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def grpc_health_check(address: str) -> ReadyCheck:
    """Ready when the standard gRPC health service reports the whole server SERVING."""

    def check() -> bool:
        with grpc.insecure_channel(address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1.0)
            except grpc.RpcError:
                return False
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

    return check


def http_health_check(url: str) -> ReadyCheck:
    """Ready when a GET on url answers 200."""

    def check() -> bool:
        try:
            return httpx.get(url, timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    return check


def port_open(host: str, port: int) -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def spawn(job: Job, log_path: Path) -> Child:
    """Start job in its own session, stdout and stderr into log_path (truncated)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603  (commands are built here, not from input)
            job.command,
            env={**os.environ, **job.env},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Child(job.name, process, log_path)


def wait_ready(child: Child, ready: ReadyCheck, *, timeout: float) -> None:
    """Poll ready() until it holds; raise with the log tail if the child dies or time runs out."""
    deadline = time.monotonic() + timeout
    while not ready():
        if child.process.poll() is not None:
            raise child.failure(f"exited with status {child.process.returncode} while starting")
        if time.monotonic() > deadline:
            raise child.failure(f"was not ready after {timeout:.0f}s")
        time.sleep(0.2)


def terminate(child: Child, *, grace: float) -> None:
    """SIGTERM to the child's process group, SIGKILL once the grace period is over."""
    if child.process.poll() is None:
        _signal_group(child, signal.SIGTERM)
        try:
            child.process.wait(grace)
        except subprocess.TimeoutExpired:
            _signal_group(child, signal.SIGKILL)
            child.process.wait()
    # Anything the child itself started in its group must not outlive it.
    _signal_group(child, signal.SIGKILL)


def _signal_group(child: Child, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.process.pid, signum)


def run_all(jobs: Sequence[Job], *, log_dir: Path, timeout: float = 180.0) -> None:
    """Run one-shot commands side by side; raise with the output of the first that fails."""
    children = [spawn(job, log_dir / f"{job.name}.log") for job in jobs]
    deadline = time.monotonic() + timeout
    try:
        for child in children:
            _wait_success(child, deadline)
    finally:
        for child in children:
            terminate(child, grace=5.0)


def run_once(job: Job, *, log_dir: Path, timeout: float = 180.0) -> None:
    """Run one command to completion (`python -m crm_core migrate`); raise with its output."""
    run_all([job], log_dir=log_dir, timeout=timeout)


def _wait_success(child: Child, deadline: float) -> None:
    try:
        status = child.process.wait(max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        raise child.failure("did not finish in time") from None
    if status != 0:
        raise child.failure(f"failed with status {status}")


class Supervisor:
    """Long-running children: started in batches, each batch ready before the next."""

    def __init__(self, log_dir: Path, *, startup_timeout: float = 90.0, grace: float = 10.0):
        self.log_dir = log_dir
        self.startup_timeout = startup_timeout
        self.grace = grace
        self.children: list[Child] = []

    def start(self, jobs: Sequence[Job]) -> None:
        """Spawn every job, then wait until each is ready (jobs in a batch start in parallel)."""
        batch = [self._spawn(job) for job in jobs]
        for child, job in zip(batch, jobs, strict=True):
            if job.ready is not None:
                wait_ready(child, job.ready, timeout=self.startup_timeout)

    def _spawn(self, job: Job) -> Child:
        child = spawn(job, self.log_dir / f"{job.name}.log")
        self.children.append(child)
        return child

    def check(self) -> None:
        """Raise if a child has exited on its own: the stack is no longer whole."""
        for child in self.children:
            if child.process.poll() is not None:
                raise child.failure(f"exited with status {child.process.returncode}")

    def pids(self) -> list[int]:
        return [child.process.pid for child in self.children]

    def stop(self) -> None:
        """Stop children in reverse start order, so callers go before what they call."""
        while self.children:
            terminate(self.children.pop(), grace=self.grace)
