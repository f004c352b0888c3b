"""API keys between the model and the protobuf messages; nothing else."""

from __future__ import annotations

from crm.identity.v1 import api_keys_pb2
from crm_identity.api_keys.schemas import ResolvedApiKey
from crm_identity.models import ApiKey
from crm_kit.timestamps import optional_timestamp


def to_api_key(api_key: ApiKey) -> api_keys_pb2.ApiKey:
    return api_keys_pb2.ApiKey(
        id=str(api_key.id),
        name=api_key.name,
        display_prefix=api_key.display_prefix,
        scopes=api_key.scopes,
        expires_at=optional_timestamp(api_key.expires_at),
        last_used_at=optional_timestamp(api_key.last_used_at),
        created_by=str(api_key.created_by) if api_key.created_by else "",
        created_at=optional_timestamp(api_key.created_at),
        revoked_at=optional_timestamp(api_key.revoked_at),
    )


def to_resolved(resolved: ResolvedApiKey) -> api_keys_pb2.ResolvedApiKey:
    return api_keys_pb2.ResolvedApiKey(
        api_key_id=str(resolved.api_key_id),
        tenant_id=str(resolved.tenant_id),
        scopes=resolved.scopes,
        access_token=resolved.access_token,
        expires_in=resolved.expires_in,
    )
