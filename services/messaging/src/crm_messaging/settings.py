"""Messaging (email, SMS, WhatsApp, RCS) settings (env prefix MESSAGING_)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from crm_kit.settings import ServiceSettings, local_database_urls

_RUNTIME_URL, _MIGRATION_URL = local_database_urls("crm_messaging")


class MessagingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MESSAGING_", frozen=True, extra="ignore")

    database_url: str = _RUNTIME_URL
    migration_database_url: str = _MIGRATION_URL
    grpc_port: int = Field(default=50053, ge=1, le=65535)
