"""Gateway settings (env prefix GATEWAY_)."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import SettingsConfigDict

from crm_gateway.ratelimit import RateLimitPolicy
from crm_kit.settings import BaseServiceSettings

# A plan name goes into RateLimit-Policy names and Redis keys: keep it plain.
PLAN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,49}$")


class PlanRateLimitSpecs(BaseModel):
    """One billing plan's limits; one left out is the default plan's."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    principal: str | None = None
    tenant: str | None = None

    @field_validator("principal", "tenant")
    @classmethod
    def _rate_spec(cls, value: str | None) -> str | None:
        if value is not None:
            RateLimitPolicy.parse("check", value)
        return value


class GatewaySettings(BaseServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", frozen=True, extra="ignore")

    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=1, le=65535)
    crm_core_address: str = "127.0.0.1:50052"
    messaging_address: str = "127.0.0.1:50053"
    # Token revocations and API-key invalidations arrive from identity as events;
    # empty turns following them off (tests without a bus).
    nats_url: str = "nats://127.0.0.1:4222"
    upstream_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    # memory:// keeps limits per process; redis://host:port/db shares them across replicas.
    rate_limit_storage_url: str = "memory://"
    # The default plan (billing will raise them per plan): per user or API key, per
    # tenant, per client IP; and on signup/login/refresh/reset/MFA, per IP and per account.
    rate_limit_default: str = "100/second"
    rate_limit_tenant: str = "1000/second"
    rate_limit_ip: str = "1000/second"
    rate_limit_auth: str = "10/minute"
    rate_limit_auth_account: str = "10/minute"
    # Public capture-form submissions (no login): per client IP over every form, and per
    # form over every IP.
    rate_limit_form_ip: str = "20/minute"
    rate_limit_form: str = "300/minute"
    # Per billing plan (the access token's `plan` claim), a JSON object such as
    # {"pro": {"principal": "300/second", "tenant": "3000/second"}}; a token whose plan
    # is empty or not listed gets the default plan's limits above.
    rate_limit_plans: dict[str, PlanRateLimitSpecs] = Field(default_factory=dict)
    # Answers to POSTs with an Idempotency-Key: how long a retry replays them, and where
    # they are kept (empty shares the rate limiter's storage).
    idempotency_ttl_seconds: int = Field(default=86_400, ge=1)
    idempotency_storage_url: str = ""
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    # An uploaded file's limit (keep it equal to crm-core's CRM_CORE_FILES_MAX_BYTES, which
    # enforces it on the bytes); the upload route's body may pass it by the multipart framing.
    max_file_bytes: int = Field(default=25 * 1024 * 1024, ge=1024)
    # A CSV import's limit (keep it equal to crm-core's CRM_CORE_IMPORTS_MAX_BYTES). The
    # body is buffered before the route streams it on, as for files: mind the memory.
    max_import_bytes: int = Field(default=1024 * 1024 * 1024, ge=1024)
    cors_origins: list[str] = Field(default_factory=list)
    # Proxies (load balancer, ingress) whose X-Forwarded-For names the real client:
    # comma-separated IPs or CIDRs, "*" for any. Empty trusts none, so per-IP limits
    # key on the TCP peer.
    forwarded_allow_ips: str = ""

    @field_validator(
        "rate_limit_default",
        "rate_limit_tenant",
        "rate_limit_ip",
        "rate_limit_auth",
        "rate_limit_auth_account",
        "rate_limit_form_ip",
        "rate_limit_form",
    )
    @classmethod
    def _rate_spec(cls, value: str) -> str:
        RateLimitPolicy.parse("check", value)
        return value

    @field_validator("rate_limit_plans")
    @classmethod
    def _plan_names(cls, value: dict[str, PlanRateLimitSpecs]) -> dict[str, PlanRateLimitSpecs]:
        for name in value:
            if not PLAN_NAME.match(name):
                raise ValueError(
                    f"plan name {name!r} must be 1-50 letters, digits, '_', '.' or '-'"
                )
        return value

    @field_validator("rate_limit_storage_url")
    @classmethod
    def _storage_scheme(cls, value: str) -> str:
        if not value.startswith(("memory://", "redis://", "rediss://")):
            raise ValueError("must be memory://, redis:// or rediss://")
        return value

    @field_validator("idempotency_storage_url")
    @classmethod
    def _idempotency_storage_scheme(cls, value: str) -> str:
        if value and not value.startswith(("memory://", "redis://", "rediss://")):
            raise ValueError("must be empty, memory://, redis:// or rediss://")
        return value
