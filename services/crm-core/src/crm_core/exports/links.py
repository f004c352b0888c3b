"""Download links that expire: an HMAC over the job, its tenant and the expiry.

Each job has its own random secret (`link_secret`), so a link is good for one job
only, replicas need no shared key, and a token never names anything but the tenant,
the expiry and the signature. The token authorizes the download by itself, so a
browser can follow the link (it cannot send the API's bearer token); it is handed
only to callers who may read the job, and lives minutes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from crm_kit.errors import NotFound

TOKEN_PARTS = 3


@dataclass(frozen=True)
class LinkClaims:
    tenant_id: uuid.UUID
    expires_at: datetime


def _signature(secret: bytes, job_id: uuid.UUID, tenant_id: uuid.UUID, expires: int) -> str:
    message = f"{job_id}.{tenant_id}.{expires}".encode()
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def sign(secret: bytes, *, job_id: uuid.UUID, tenant_id: uuid.UUID, expires_at: datetime) -> str:
    expires = int(expires_at.timestamp())
    return f"{tenant_id.hex}.{expires}.{_signature(secret, job_id, tenant_id, expires)}"


def not_found() -> NotFound:
    return NotFound("export not found", code="export_not_found")


def read_claims(token: str) -> LinkClaims:
    """What an unverified token says (its tenant, to find the job); malformed is 404."""
    parts = token.split(".")
    if len(parts) != TOKEN_PARTS:
        raise not_found()
    try:
        return LinkClaims(uuid.UUID(hex=parts[0]), datetime.fromtimestamp(int(parts[1]), UTC))
    except (ValueError, OverflowError, OSError) as exc:
        raise not_found() from exc


def verify(secret: bytes, token: str, *, job_id: uuid.UUID) -> LinkClaims:
    """The claims of a token this job's secret signed; anything else is 404."""
    claims = read_claims(token)
    expected = _signature(secret, job_id, claims.tenant_id, int(claims.expires_at.timestamp()))
    if not hmac.compare_digest(expected, token.rsplit(".", 1)[-1]):
        raise not_found()
    return claims
