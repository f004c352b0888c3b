"""Smoke test of `make run`: `python -m crm_devstack` on a fresh data folder and free ports.

It serves the demo tenant through the gateway, stops on Ctrl-C leaving no process
behind, and a second run finds the same data.
"""

from __future__ import annotations

import os
import queue
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from crm_devstack.__main__ import DEMO_EMAIL, DEMO_PASSWORD, READY_LINE
from crm_devstack.stack import SERVICES

pytestmark = pytest.mark.e2e

STARTUP_SECONDS = 300
ADA = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"}


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_port_offset() -> int:
    """An offset that moves every service's gRPC port (50051...) onto free ports."""
    for _ in range(100):
        offset = random.randrange(1000, 9000, 10)
        if all(port_free(s.port + offset) for s in SERVICES):
            return offset
    raise RuntimeError("no free port range for the services")


class DevstackRun:
    """`python -m crm_devstack` in its own session, as a terminal would run it."""

    def __init__(self, data_dir: Path, ports: dict[str, int]) -> None:
        args = [f"--{name}={value}" for name, value in ports.items()]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "crm_devstack", f"--data-dir={data_dir}", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.output: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def wait_for(self, text: str) -> None:
        while True:
            try:
                line = self._lines.get(timeout=STARTUP_SECONDS)
            except queue.Empty:
                pytest.fail(f"no {text!r} in time; output:\n{''.join(self.output)}")
            if line is None:
                pytest.fail(f"exited before {text!r}; output:\n{''.join(self.output)}")
            self.output.append(line)
            if text in line:
                return

    def rest_of_output(self) -> str:
        """Everything printed after the last wait_for, once the process has exited."""
        while (line := self._lines.get(timeout=10)) is not None:
            self.output.append(line)
        return "".join(self.output)

    def descendants(self) -> list[psutil.Process]:
        return psutil.Process(self.process.pid).children(recursive=True)

    def ctrl_c(self) -> int:
        """SIGINT to the whole process group, as a terminal sends it; the exit status."""
        os.killpg(self.process.pid, signal.SIGINT)
        return self.process.wait(timeout=120)

    def terminate(self) -> int:
        """SIGTERM to the process alone, as `kill` or a process manager sends it."""
        self.process.terminate()
        return self.process.wait(timeout=120)

    def kill(self) -> None:
        if self.process.poll() is None:
            for child in self.descendants():
                child.kill()
            self.process.kill()
            self.process.wait()


def login(gateway: str) -> dict[str, str]:
    response = httpx.post(
        f"{gateway}/v1/auth/login", json={"email": DEMO_EMAIL, "password": DEMO_PASSWORD}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def contact_emails(gateway: str, headers: dict[str, str]) -> list[str]:
    response = httpx.get(f"{gateway}/v1/contacts", headers=headers)
    assert response.status_code == 200, response.text
    return [contact["email"] for contact in response.json()["data"]]


def assert_everything_stopped(children: list[psutil.Process], data: Path) -> None:
    _, alive = psutil.wait_procs(children, timeout=10)
    assert alive == [], f"left running: {alive}"
    assert not (data / "postgres" / "postmaster.pid").exists(), "PostgreSQL still running"


@pytest.fixture
def data() -> Iterator[Path]:
    """Outside pytest's tmp root, which any pytest run resets to mode 0700: under root,
    PostgreSQL runs as pgserver's own user, who must keep reaching its data."""
    parent = Path(tempfile.mkdtemp(prefix="crm-devstack-"))
    yield parent / "data"
    pid_file = parent / "data" / "postgres" / "postmaster.pid"
    if pid_file.exists():  # a failed run left PostgreSQL behind: stop it before deleting
        os.kill(int(pid_file.read_text().split()[0]), signal.SIGQUIT)
    shutil.rmtree(parent, ignore_errors=True)


def test_make_run_serves_the_demo_tenant_stops_cleanly_and_keeps_data(data: Path) -> None:
    ports = {
        "gateway-port": free_port(),
        "nats-port": free_port(),
        "port-offset": free_port_offset(),
    }
    gateway = f"http://127.0.0.1:{ports['gateway-port']}"

    first = DevstackRun(data, ports)
    try:
        first.wait_for(READY_LINE)
        assert "demo tenant created" in "".join(first.output)
        headers = login(gateway)
        created = httpx.post(f"{gateway}/v1/contacts", json=ADA, headers=headers)
        assert created.status_code == 201, created.text
        assert contact_emails(gateway, headers) == ["ada@example.com"]
        children = first.descendants()

        assert first.ctrl_c() == 0, first.rest_of_output()
        assert_everything_stopped(children, data)
    finally:
        first.kill()

    second = DevstackRun(data, ports)
    try:
        second.wait_for(READY_LINE)
        assert "demo tenant already exists" in "".join(second.output)
        assert contact_emails(gateway, login(gateway)) == ["ada@example.com"]
        children = second.descendants()

        assert second.terminate() == 0, second.rest_of_output()
        assert_everything_stopped(children, data)
    finally:
        second.kill()
