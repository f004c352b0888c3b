"""Inputs and results of the API-key use cases."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from crm_identity.models import ApiKey


@dataclass(frozen=True)
class ApiKeyCreate:
    name: str
    scopes: tuple[str, ...]
    expires_at: datetime | None = None


@dataclass(frozen=True)
class CreatedApiKey:
    api_key: ApiKey
    # The plaintext key: returned this once, never stored.
    key: str


@dataclass(frozen=True)
class ResolvedApiKey:
    api_key_id: uuid.UUID
    tenant_id: uuid.UUID
    scopes: tuple[str, ...]
    access_token: str
    expires_in: int
