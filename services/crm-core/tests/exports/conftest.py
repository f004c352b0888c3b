"""The export worker the tests run jobs with, writing under the test's tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from crm_core.exports.worker import ExportWorker
from crm_core.files.storage import LocalDiskStore

from .factories import Factory


@pytest.fixture
def worker(factory: Factory, tmp_path: Path) -> ExportWorker:
    return ExportWorker(factory, LocalDiskStore(tmp_path))
