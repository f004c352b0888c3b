"""Messaging (email, SMS, WhatsApp, RCS, webhooks) settings (env prefix MESSAGING_)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from crm_kit.settings import ServiceSettings, local_database_urls

_RUNTIME_URL, _MIGRATION_URL = local_database_urls("crm_messaging")


class MessagingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MESSAGING_", frozen=True, extra="ignore")

    database_url: str = _RUNTIME_URL
    migration_database_url: str = _MIGRATION_URL
    grpc_port: int = Field(default=50053, ge=1, le=65535)

    # A Fernet key (urlsafe base64 of 32 bytes) that encrypts webhook signing secrets at
    # rest. Unset: creating endpoints or rotating secrets is refused (nothing to sign with).
    webhook_secret_key: SecretStr | None = None
    # A PEM file of extra CA certificates to trust for endpoints (tests, private CAs).
    webhook_ca_bundle: Path | None = None
    # Comma-separated networks (CIDR) endpoints may resolve to although private or
    # loopback (development and tests only); empty refuses every such address.
    webhook_allow_private_hosts: str = ""
    # Multiplies every retry delay and the 24-hour retry window (tests: 0.001).
    webhook_retry_scale: float = Field(default=1.0, gt=0, le=10)
    webhook_attempt_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    webhook_max_concurrency: int = Field(default=50, ge=1, le=1000)
    webhook_per_endpoint_concurrency: int = Field(default=2, ge=1, le=50)
    # An endpoint whose every delivery failed for this long is disabled.
    webhook_disable_after_days: float = Field(default=5.0, gt=0)
    # Deliveries and their attempts are deleted this long after they were created.
    webhook_retention_days: int = Field(default=30, ge=1)
    webhook_dispatch_poll_seconds: float = Field(default=0.5, gt=0, le=60)
    # How long past its timeout an attempt stays leased: an attempt lost with its process
    # is sent again this long after its timeout would have ended it.
    webhook_lease_margin_seconds: float = Field(default=30.0, ge=0, le=600)

    @field_validator("webhook_allow_private_hosts")
    @classmethod
    def _networks(cls, value: str) -> str:
        for item in value.split(","):
            if item.strip():
                ipaddress.ip_network(item.strip(), strict=False)
        return value

    @property
    def webhook_private_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(
            ipaddress.ip_network(item.strip(), strict=False)
            for item in self.webhook_allow_private_hosts.split(",")
            if item.strip()
        )
