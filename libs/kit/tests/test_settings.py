"""Service settings are validated at start, so a bad deployment fails before serving."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from pydantic_settings import SettingsConfigDict

from crm_kit.settings import ServiceSettings, local_database_urls

pytestmark = pytest.mark.unit

VALID_ENV = {
    "TESTSVC_DATABASE_URL": "postgresql+asyncpg://app@db:5432/testsvc",
    "TESTSVC_MIGRATION_DATABASE_URL": "postgresql+asyncpg://owner@db:5432/testsvc",
    "TESTSVC_GRPC_HOST": "0.0.0.0",
    "TESTSVC_GRPC_PORT": "50099",
}


class SampleServiceSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TESTSVC_", frozen=True, extra="ignore")


@pytest.fixture
def valid_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name, value in VALID_ENV.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


class TestServiceSettingsFromEnv:
    def test_valid_env_loads(self, valid_env: pytest.MonkeyPatch) -> None:
        settings = SampleServiceSettings()

        assert settings.database_url == VALID_ENV["TESTSVC_DATABASE_URL"]
        assert settings.migration_database_url == VALID_ENV["TESTSVC_MIGRATION_DATABASE_URL"]
        assert settings.grpc_bind == "0.0.0.0:50099"
        assert settings.nats_url == "nats://127.0.0.1:4222"

    @pytest.mark.parametrize(
        "variable",
        ["TESTSVC_DATABASE_URL", "TESTSVC_MIGRATION_DATABASE_URL"],
    )
    @pytest.mark.parametrize(
        "url",
        ["postgresql://app@db/testsvc", "postgresql+psycopg://app@db/testsvc", "sqlite://"],
    )
    def test_rejects_a_database_url_that_is_not_asyncpg(
        self, valid_env: pytest.MonkeyPatch, variable: str, url: str
    ) -> None:
        valid_env.setenv(variable, url)

        with pytest.raises(ValidationError, match="postgresql\\+asyncpg"):
            SampleServiceSettings()

    @pytest.mark.parametrize("url", ["http://127.0.0.1:4222", "127.0.0.1:4222", ""])
    def test_rejects_a_bad_nats_url(self, valid_env: pytest.MonkeyPatch, url: str) -> None:
        valid_env.setenv("TESTSVC_NATS_URL", url)

        with pytest.raises(ValidationError, match="nats_url"):
            SampleServiceSettings()

    @pytest.mark.parametrize("url", ["nats://nats:4222", "tls://nats:4222"])
    def test_accepts_nats_and_tls_urls(self, valid_env: pytest.MonkeyPatch, url: str) -> None:
        valid_env.setenv("TESTSVC_NATS_URL", url)

        assert SampleServiceSettings().nats_url == url

    @pytest.mark.parametrize("port", ["0", "65536", "-1", "http"])
    def test_rejects_a_port_out_of_range(self, valid_env: pytest.MonkeyPatch, port: str) -> None:
        valid_env.setenv("TESTSVC_GRPC_PORT", port)

        with pytest.raises(ValidationError, match="grpc_port"):
            SampleServiceSettings()

    @pytest.mark.parametrize("variable", ["TESTSVC_DATABASE_URL", "TESTSVC_GRPC_PORT"])
    def test_requires_database_url_and_port(
        self, valid_env: pytest.MonkeyPatch, variable: str
    ) -> None:
        valid_env.delenv(variable)

        with pytest.raises(ValidationError, match=r"(?i)field required"):
            SampleServiceSettings()

    def test_rejects_an_unknown_log_level(self, valid_env: pytest.MonkeyPatch) -> None:
        valid_env.setenv("TESTSVC_LOG_LEVEL", "CHATTY")

        with pytest.raises(ValidationError, match="log_level"):
            SampleServiceSettings()

    def test_is_frozen(self, valid_env: pytest.MonkeyPatch) -> None:
        settings = SampleServiceSettings()

        with pytest.raises(ValidationError):
            settings.grpc_port = 1  # type: ignore[misc]


class TestLocalDatabaseUrls:
    def test_runtime_url_uses_the_app_role_and_migration_url_the_owner(self) -> None:
        runtime, migration = local_database_urls("crm_x")

        assert runtime == "postgresql+asyncpg://crm_x_app@127.0.0.1:5432/crm_x"
        assert migration == "postgresql+asyncpg://postgres@127.0.0.1:5432/crm_x"

    def test_host_is_configurable(self) -> None:
        runtime, migration = local_database_urls("crm_x", host="db:6543")

        assert runtime == "postgresql+asyncpg://crm_x_app@db:6543/crm_x"
        assert migration == "postgresql+asyncpg://postgres@db:6543/crm_x"

    def test_urls_pass_the_settings_validation(self, valid_env: pytest.MonkeyPatch) -> None:
        runtime, migration = local_database_urls("crm_x")
        valid_env.setenv("TESTSVC_DATABASE_URL", runtime)
        valid_env.setenv("TESTSVC_MIGRATION_DATABASE_URL", migration)

        settings = SampleServiceSettings()

        assert (settings.database_url, settings.migration_database_url) == (runtime, migration)
