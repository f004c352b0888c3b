"""privacy starts on its migrated database, serves gRPC health, and stops cleanly."""

from __future__ import annotations

from pathlib import Path

import pytest

from crm_devstack.stack import SERVICES
from crm_devstack.testing import free_port, serve_until_healthy_then_stop, stack_config_for_tests

pytestmark = pytest.mark.integration

SERVICE = next(s for s in SERVICES if s.module == "crm_privacy")


def test_migrates_serves_health_and_drains_on_sigterm(tmp_path: Path) -> None:
    status = serve_until_healthy_then_stop(
        stack_config_for_tests(), SERVICE, log_dir=tmp_path, port=free_port()
    )
    assert status == 0, (tmp_path / f"{SERVICE.name}.log").read_text()
