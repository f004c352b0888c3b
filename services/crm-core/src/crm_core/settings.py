"""crm-core's settings (env prefix CRM_CORE_)."""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from crm_kit.settings import ServiceSettings, local_database_urls

_RUNTIME_URL, _MIGRATION_URL = local_database_urls("crm_core")


class CrmCoreSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CRM_CORE_", frozen=True, extra="ignore")

    database_url: str = _RUNTIME_URL
    migration_database_url: str = _MIGRATION_URL
    grpc_port: int = Field(default=50052, ge=1, le=65535)
    # Where uploaded files live: local disk under files_root, unless files_s3_bucket is set,
    # in which case they go to that S3-compatible bucket.
    files_root: Path = Path.home() / ".local" / "share" / "crm" / "files"
    files_max_bytes: int = Field(default=25 * 1024 * 1024, ge=1)
    files_s3_bucket: str | None = None
    files_s3_prefix: str = ""
    files_s3_endpoint_url: str | None = None
    files_s3_region: str | None = None
    files_s3_access_key_id: str | None = None
    files_s3_secret_access_key: SecretStr | None = None
    # CSV exports: how long a download link works, how long the file is kept, how
    # long a worker's claim on a job lasts without renewal, and how often idle
    # workers look for work.
    export_link_seconds: int = Field(default=15 * 60, ge=10)
    export_retention_days: int = Field(default=7, ge=1)
    export_lease_seconds: float = Field(default=60.0, gt=0)
    export_poll_seconds: float = Field(default=1.0, gt=0)
    export_max_attempts: int = Field(default=3, ge=1)
    export_max_bytes: int = Field(default=20 * 1024**3, ge=1)
    # CSV imports: the largest file accepted (kept in the file store), the rows per
    # chunk (one transaction each), and whether this process runs an import worker.
    imports_max_bytes: int = Field(default=1024 * 1024 * 1024, ge=1)
    imports_chunk_rows: int = Field(default=25_000, ge=1, le=1_000_000)
    imports_worker: bool = True

    @model_validator(mode="after")
    def _s3_credentials_come_in_pairs(self) -> Self:
        if (self.files_s3_access_key_id is None) != (self.files_s3_secret_access_key is None):
            raise ValueError(
                "CRM_CORE_FILES_S3_ACCESS_KEY_ID and CRM_CORE_FILES_S3_SECRET_ACCESS_KEY "
                "go together (leave both unset to use the default AWS credential chain)"
            )
        return self
