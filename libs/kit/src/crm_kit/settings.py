"""Settings base: one env prefix per service, validated at start so bad config fails fast."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class BaseServiceSettings(BaseSettings):
    """What every process shares. Subclasses set `env_prefix` (for example `CRM_CORE_`)."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    log_level: LogLevel = "INFO"
    jwt_issuer: str = "crm-identity"
    jwt_audience: str = "crm"
    identity_address: str = Field(
        default="127.0.0.1:50051", description="host:port of identity's gRPC API (JWKS source)"
    )


class ServiceSettings(BaseServiceSettings):
    """A gRPC service with its own database and the event bus."""

    database_url: str = Field(description="runtime DSN; its user is the role RLS binds")
    migration_database_url: str = Field(
        description="DSN of the database owner, used to provision and migrate only"
    )
    nats_url: str = "nats://127.0.0.1:4222"
    grpc_host: str = "127.0.0.1"
    grpc_port: int = Field(ge=1, le=65535)
    db_pool_size: int = Field(default=10, ge=1, le=200)
    # The relay wakes on NOTIFY; this slow poll is only its safety net.
    outbox_poll_seconds: float = Field(default=5.0, gt=0, le=60)

    @field_validator("database_url", "migration_database_url")
    @classmethod
    def _asyncpg_dsn(cls, value: str) -> str:
        if not value.startswith("postgresql+asyncpg://"):
            raise ValueError("must be a postgresql+asyncpg:// URL")
        return value

    @field_validator("nats_url")
    @classmethod
    def _nats_scheme(cls, value: str) -> str:
        if not value.startswith(("nats://", "tls://")):
            raise ValueError("must be a nats:// or tls:// URL")
        return value

    @property
    def grpc_bind(self) -> str:
        return f"{self.grpc_host}:{self.grpc_port}"


def local_database_urls(database: str, *, host: str = "127.0.0.1:5432") -> tuple[str, str]:
    """The (runtime, migration) DSN pair a service uses by default on a developer machine."""
    role = f"{database}_app"
    return (
        f"postgresql+asyncpg://{role}@{host}/{database}",
        f"postgresql+asyncpg://postgres@{host}/{database}",
    )
