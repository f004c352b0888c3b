"""Embedded PostgreSQL and NATS start from a data folder, work, stop, and keep their data."""

from __future__ import annotations

import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import nats
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from crm_devstack.embedded import EmbeddedNats, EmbeddedPostgres
from crm_devstack.processes import StackProcessError
from crm_devstack.stack import SERVICES, StackConfig, service_env
from crm_kit.db.provision import ensure_database, ensure_runtime_role

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def postgres_dir() -> Iterator[Path]:
    """A folder outside pytest's tmp root, which any pytest run resets to mode 0700: under
    root, PostgreSQL runs as pgserver's own user, who must keep reaching its data."""
    parent = Path(tempfile.mkdtemp(prefix="crm-devstack-"))
    yield parent / "postgres"
    shutil.rmtree(parent)


@pytest.fixture
def postgres(postgres_dir: Path) -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(postgres_dir)
    server.start()
    yield server
    server.stop()


async def scalar(url: str, *statements: str) -> object:
    """Run statements in one transaction through SQLAlchemy; the last one's first value."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            for sql in statements:
                result = await conn.execute(text(sql))
            return result.scalar() if result.returns_rows else None
    finally:
        await engine.dispose()


class TestEmbeddedPostgres:
    async def test_stack_urls_reach_it_through_the_socket(self, postgres: EmbeddedPostgres) -> None:
        env = service_env(StackConfig(postgres_host=postgres.host), SERVICES[1])
        owner_url, runtime_url = (
            env["CRM_CORE_MIGRATION_DATABASE_URL"],
            env["CRM_CORE_DATABASE_URL"],
        )

        await ensure_database(owner_url)
        await ensure_runtime_role(owner_url, runtime_url)

        assert await scalar(runtime_url, "SELECT current_user") == "crm_core_app"
        assert await scalar(runtime_url, "SELECT current_database()") == "crm_core"

    async def test_restart_keeps_data(self, postgres: EmbeddedPostgres) -> None:
        url = StackConfig(postgres_host=postgres.host).database_url(
            "postgres", user=postgres.superuser, password=None
        )
        await scalar(url, "CREATE TABLE kept (note text)", "INSERT INTO kept VALUES ('still here')")

        postgres.stop()
        assert not (postgres.data_dir / "postmaster.pid").exists()
        postgres.start()

        assert await scalar(url, "SELECT note FROM kept") == "still here"

    async def test_stopped_server_refuses_connections(self, postgres: EmbeddedPostgres) -> None:
        host = postgres.host
        postgres.stop()

        with pytest.raises((OSError, asyncpg.PostgresError)):
            await asyncpg.connect(host=host, user="postgres", database="postgres")
        postgres.start()


class TestEmbeddedNats:
    async def test_jetstream_works_and_streams_survive_a_restart(self, tmp_path: Path) -> None:
        server = EmbeddedNats(tmp_path / "nats", port=free_port())
        server.start()
        try:
            nc = await nats.connect(server.url)
            js = nc.jetstream()
            await js.add_stream(name="DEVSTACK", subjects=["devstack.>"])
            ack = await js.publish("devstack.hello", b"hi")
            await nc.close()
            assert ack.seq == 1

            server.stop()
            server.start()

            nc = await nats.connect(server.url)
            info = await nc.jetstream().stream_info("DEVSTACK")
            await nc.close()
            assert info.state.messages == 1
        finally:
            server.stop()

    def test_stop_ends_the_server(self, tmp_path: Path) -> None:
        server = EmbeddedNats(tmp_path / "nats", port=free_port())
        server.start()
        server.stop()

        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", server.port), timeout=0.5)

    def test_refuses_a_port_in_use(self, tmp_path: Path) -> None:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            server = EmbeddedNats(tmp_path / "nats", port=taken.getsockname()[1])

            with pytest.raises(StackProcessError, match="in use"):
                server.start()
