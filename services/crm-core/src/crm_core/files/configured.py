"""Chooses the file store from settings: S3 when a bucket is configured, else local disk."""

from __future__ import annotations

from crm_core.files.storage import FileStore, LocalDiskStore, S3Store
from crm_core.settings import CrmCoreSettings


def build_store(settings: CrmCoreSettings) -> FileStore:
    if settings.files_s3_bucket:
        secret = settings.files_s3_secret_access_key
        return S3Store(
            settings.files_s3_bucket,
            prefix=settings.files_s3_prefix,
            endpoint_url=settings.files_s3_endpoint_url,
            region=settings.files_s3_region,
            access_key_id=settings.files_s3_access_key_id,
            secret_access_key=secret.get_secret_value() if secret else None,
        )
    return LocalDiskStore(settings.files_root)
