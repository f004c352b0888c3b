"""`make run` gives messaging a webhook secret key: made once, private, and reused."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from crm_devstack.__main__ import webhook_secret_key

pytestmark = pytest.mark.unit


def test_generated_once_owner_only_and_reused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    key = webhook_secret_key(data)

    assert webhook_secret_key(data) == key
    [path] = data.iterdir()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Fernet(key.encode()).decrypt(Fernet(key.encode()).encrypt(b"whsec_x")) == b"whsec_x"
    assert webhook_secret_key(tmp_path / "other") != key
