"""The supervisor starts children in order, reports failures with their logs, stops them all."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import psutil
import pytest

from crm_devstack.processes import Job, StackProcessError, Supervisor, run_all, run_once

pytestmark = pytest.mark.integration


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


class TestRunOnce:
    def test_success_writes_the_output_to_the_log(self, tmp_path: Path) -> None:
        run_once(Job("hello", python("print('migrated')")), log_dir=tmp_path)

        assert (tmp_path / "hello.log").read_text().strip() == "migrated"

    def test_failure_raises_with_the_output(self, tmp_path: Path) -> None:
        job = Job("broken", python("import sys; print('no database'); sys.exit(3)"))

        with pytest.raises(StackProcessError, match=r"(?s)status 3.*no database"):
            run_once(job, log_dir=tmp_path)

    def test_env_is_added_to_ours(self, tmp_path: Path) -> None:
        code = "import os; print(os.environ['CRM_X'], 'PATH' in os.environ)"

        run_once(Job("env", python(code), {"CRM_X": "42"}), log_dir=tmp_path)

        assert (tmp_path / "env.log").read_text().split() == ["42", "True"]

    def test_timeout_kills_the_command(self, tmp_path: Path) -> None:
        with pytest.raises(StackProcessError, match="did not finish"):
            run_all(
                [Job("slow", python("import time; time.sleep(60)"))], log_dir=tmp_path, timeout=1
            )


class TestSupervisor:
    def test_waits_until_ready(self, tmp_path: Path) -> None:
        flag = tmp_path / "ready"
        code = f"import pathlib, time; time.sleep(0.5); pathlib.Path({str(flag)!r}).touch()"
        code += "; time.sleep(60)"
        supervisor = Supervisor(tmp_path, startup_timeout=20)
        try:
            supervisor.start([Job("server", python(code), ready=lambda: flag.exists())])
            assert flag.exists()
            supervisor.check()
        finally:
            supervisor.stop()

    def test_child_dying_while_starting_raises_with_its_log(self, tmp_path: Path) -> None:
        code = "import sys; print('cannot bind port'); sys.exit(1)"
        supervisor = Supervisor(tmp_path, startup_timeout=20)

        with pytest.raises(StackProcessError, match=r"(?s)while starting.*cannot bind port"):
            supervisor.start([Job("server", python(code), ready=lambda: False)])
        supervisor.stop()

    def test_never_ready_times_out(self, tmp_path: Path) -> None:
        supervisor = Supervisor(tmp_path, startup_timeout=1)

        with pytest.raises(StackProcessError, match="not ready"):
            supervisor.start(
                [Job("server", python("import time; time.sleep(60)"), ready=lambda: False)]
            )
        supervisor.stop()

    def test_check_reports_a_child_that_exited(self, tmp_path: Path) -> None:
        supervisor = Supervisor(tmp_path)
        supervisor.start([Job("short", python("print('bye')"))])
        supervisor.children[0].process.wait()

        with pytest.raises(StackProcessError, match=r"(?s)short exited.*bye"):
            supervisor.check()
        supervisor.stop()

    def test_stop_kills_what_ignores_sigterm_and_its_children(self, tmp_path: Path) -> None:
        stubborn = (
            "import signal, subprocess, sys, time;"
            "signal.signal(signal.SIGTERM, signal.SIG_IGN);"
            "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']);"
            "time.sleep(60)"
        )
        supervisor = Supervisor(tmp_path, grace=0.5)
        supervisor.start([Job("stubborn", python(stubborn))])
        parent = psutil.Process(supervisor.pids()[0])
        deadline = time.monotonic() + 10
        while not parent.children() and time.monotonic() < deadline:
            time.sleep(0.05)
        family = [parent, *parent.children(recursive=True)]

        supervisor.stop()

        _, alive = psutil.wait_procs(family, timeout=5)
        assert alive == []
        assert supervisor.children == []
