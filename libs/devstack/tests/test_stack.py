"""The environment each process of the stack receives (unit: no I/O)."""

from __future__ import annotations

import pytest
from pydantic_settings import SettingsConfigDict
from sqlalchemy.engine import make_url

from crm_devstack.stack import (
    GATEWAY,
    IDENTITY,
    SERVICES,
    StackConfig,
    gateway_env,
    service_env,
)
from crm_kit.settings import ServiceSettings

pytestmark = pytest.mark.unit

CRM_CORE = next(s for s in SERVICES if s.name == "crm-core")


class CrmCoreSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CRM_CORE_", frozen=True, extra="ignore")


class TestTopology:
    def test_services_have_distinct_ports_databases_and_prefixes(self) -> None:
        for attribute in ("port", "database", "env_prefix", "module"):
            values = [getattr(s, attribute) for s in SERVICES]
            assert len(set(values)) == len(SERVICES), attribute

    def test_identity_starts_first(self) -> None:
        assert SERVICES[0] is IDENTITY
        assert (IDENTITY.port, IDENTITY.database) == (50051, "crm_identity")

    def test_gateway_listens_on_8000(self) -> None:
        assert (GATEWAY.module, GATEWAY.port) == ("crm_gateway", 8000)


class TestServiceEnv:
    def test_tcp_host_gives_runtime_role_and_owner_urls(self) -> None:
        env = service_env(StackConfig(), CRM_CORE)

        assert env["CRM_CORE_DATABASE_URL"] == (
            "postgresql+asyncpg://crm_core_app@127.0.0.1:5432/crm_core"
        )
        assert env["CRM_CORE_MIGRATION_DATABASE_URL"] == (
            "postgresql+asyncpg://postgres@127.0.0.1:5432/crm_core"
        )

    def test_socket_directory_goes_in_the_host_query_parameter(self) -> None:
        env = service_env(StackConfig(postgres_host="/tmp/dev stack/pg"), CRM_CORE)

        url = make_url(env["CRM_CORE_DATABASE_URL"])
        assert (url.username, url.host, url.database) == ("crm_core_app", None, "crm_core")
        assert url.query["host"] == "/tmp/dev stack/pg"

    def test_database_suffix_renames_database_and_runtime_role(self) -> None:
        env = service_env(StackConfig(database_suffix="_e2e"), CRM_CORE)

        url = make_url(env["CRM_CORE_DATABASE_URL"])
        assert (url.username, url.database) == ("crm_core_e2e_app", "crm_core_e2e")

    def test_passwords_survive_special_characters(self) -> None:
        config = StackConfig(postgres_password="p@ss:w/rd", app_password="a b%c")
        env = service_env(config, CRM_CORE)

        assert make_url(env["CRM_CORE_MIGRATION_DATABASE_URL"]).password == "p@ss:w/rd"
        assert make_url(env["CRM_CORE_DATABASE_URL"]).password == "a b%c"

    def test_port_offset_moves_every_port_and_explicit_ports_win(self) -> None:
        config = StackConfig(port_offset=100, ports={"crm-core": 6000})

        assert service_env(config, CRM_CORE)["CRM_CORE_GRPC_PORT"] == "6000"
        assert service_env(config, IDENTITY)["IDENTITY_GRPC_PORT"] == "50151"
        assert service_env(config, CRM_CORE)["CRM_CORE_IDENTITY_ADDRESS"] == "127.0.0.1:50151"
        assert config.gateway_url == "http://127.0.0.1:8100"

    def test_every_service_gets_nats_bind_and_log_level(self) -> None:
        config = StackConfig(nats_url="nats://127.0.0.1:4223", log_level="DEBUG")

        for service in SERVICES:
            env = service_env(config, service)
            p = service.env_prefix
            assert env[f"{p}NATS_URL"] == "nats://127.0.0.1:4223"
            assert env[f"{p}GRPC_HOST"] == "127.0.0.1"
            assert env[f"{p}GRPC_PORT"] == str(service.port)
            assert env[f"{p}IDENTITY_ADDRESS"] == "127.0.0.1:50051"
            assert env[f"{p}LOG_LEVEL"] == "DEBUG"

    def test_extra_env_is_added(self) -> None:
        config = StackConfig(extra_env={"MESSAGING_SMTP_PORT": "2525"})
        messaging = next(s for s in SERVICES if s.name == "messaging")

        assert service_env(config, messaging)["MESSAGING_SMTP_PORT"] == "2525"

    def test_kit_settings_accept_the_env(self, monkeypatch: pytest.MonkeyPatch) -> None:
        config = StackConfig(postgres_host="/tmp/pg", nats_url="nats://127.0.0.1:4223")
        for name, value in service_env(config, CRM_CORE).items():
            monkeypatch.setenv(name, value)

        settings = CrmCoreSettings()  # type: ignore[call-arg]

        assert settings.grpc_bind == "127.0.0.1:50052"
        assert settings.identity_address == "127.0.0.1:50051"
        assert settings.nats_url == "nats://127.0.0.1:4223"


class TestGatewayEnv:
    def test_gateway_gets_http_bind_rate_limits_and_service_addresses(self) -> None:
        config = StackConfig(rate_limit_storage_url="redis://127.0.0.1:6379/3", port_offset=7)

        env = gateway_env(config)

        assert env["GATEWAY_HTTP_HOST"] == "127.0.0.1"
        assert env["GATEWAY_HTTP_PORT"] == "8007"
        assert env["GATEWAY_RATE_LIMIT_STORAGE_URL"] == "redis://127.0.0.1:6379/3"
        assert env["GATEWAY_IDENTITY_ADDRESS"] == "127.0.0.1:50058"
        assert env["GATEWAY_CRM_CORE_ADDRESS"] == "127.0.0.1:50059"
        assert env["GATEWAY_LOG_LEVEL"] == "INFO"

    def test_gateway_has_no_database(self) -> None:
        assert not any("DATABASE" in name for name in gateway_env(StackConfig()))
