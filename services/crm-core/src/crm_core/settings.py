"""crm-core's settings (env prefix CRM_CORE_)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from crm_kit.settings import ServiceSettings, local_database_urls

_RUNTIME_URL, _MIGRATION_URL = local_database_urls("crm_core")


class CrmCoreSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CRM_CORE_", frozen=True, extra="ignore")

    database_url: str = _RUNTIME_URL
    migration_database_url: str = _MIGRATION_URL
    grpc_port: int = Field(default=50052, ge=1, le=65535)
    # Where uploaded files live (local disk); S3-compatible storage is not built yet.
    files_root: Path = Path.home() / ".local" / "share" / "crm" / "files"
    files_max_bytes: int = Field(default=25 * 1024 * 1024, ge=1)
