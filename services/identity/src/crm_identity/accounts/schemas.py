"""Inputs and results of the account use cases."""

from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class SignupData:
    organization_name: str
    owner_name: str
    email: str
    password: str
    # Optional, E.164 (normalized before it is stored).
    phone: str | None = None
    # The owner attests being 18 or older; signup refuses without it.
    age_attested: bool = False


@dataclass(frozen=True)
class Credentials:
    email: str
    password: str
    tenant_id: uuid.UUID | None = None


@dataclass(frozen=True)
class AuthenticatedUser:
    tenant_id: uuid.UUID
    user_id: uuid.UUID
    roles: tuple[str, ...]
    # The tenant's billing plan, for the access token's `plan` claim ("" = default).
    plan: str = ""
