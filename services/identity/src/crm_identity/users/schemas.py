"""Inputs and results of this area's use cases."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class InvitationPolicy:
    ttl: timedelta
    # The frontend page that takes ?token=...; the emailed link points there.
    url: str


@dataclass(frozen=True)
class InvitationCreate:
    email: str
    role: str
    name: str = ""


@dataclass(frozen=True)
class InvitationAcceptance:
    token: str
    password: str
    age_attested: bool
    # Blank: the name the invitation was sent with.
    name: str = ""


@dataclass(frozen=True)
class JoinedUser:
    tenant_id: uuid.UUID
    user_id: uuid.UUID
