"""TOTP (RFC 6238): 30-second steps, 6 digits, one step of clock drift either way, and
every code accepted at most once.

Replay: a code passes only if its time step is newer than every step the user has
already spent. Spent steps are marker rows in `mfa_challenges`, the table of the
user's short-lived single-use secrets: `token_hash` is the SHA-256 of
"totp-step:<user>:<step>" (unique, so a parallel reuse fails on the index), `used_at`
is set at once so a marker can never answer as a challenge, and `expires_at` is when
the step leaves the acceptance window (expired rows are swept at the next login).
Callers hold the user's row lock, so the check and the insert cannot interleave.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime

import pyotp
from pyotp.exceptions import OTPVerificationError
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm_identity.models import MfaChallenge, User
from crm_kit.db.models import new_id, utcnow

STEP_SECONDS = 30
DIGITS = 6
DRIFT_STEPS = 1
_CODE = re.compile(rf"\d{{{DIGITS}}}")


def new_secret() -> str:
    """A base32 secret of 160 bits (RFC 4226's recommended length)."""
    return pyotp.random_base32(32)


def otpauth_uri(secret: str, *, account: str, issuer: str) -> str:
    """The otpauth:// URI an authenticator app scans as a QR code."""
    return _totp(secret).provisioning_uri(name=account, issuer_name=issuer)


def looks_like_code(code: str) -> bool:
    return _CODE.fullmatch(_normalize(code)) is not None


async def verify(session: AsyncSession, *, user: User, secret: str, code: str) -> bool:
    """True if `code` is the current code of `secret` (± one step) and its step is newer
    than any this user spent; the step is then spent."""
    normalized = _normalize(code)
    if _CODE.fullmatch(normalized) is None:
        return False
    now = utcnow()
    totp = _totp(secret)
    try:
        step = totp.verify_and_get_timecode(normalized, for_time=now, valid_window=DRIFT_STEPS)
    except OTPVerificationError:
        return False
    newest = totp.timecode(now) + DRIFT_STEPS
    spent = await session.scalar(
        select(MfaChallenge.id)
        .where(
            MfaChallenge.token_hash.in_([_step_marker(user, s) for s in range(step, newest + 1)])
        )
        .limit(1)
    )
    if spent is not None:
        return False
    return await _spend(session, user=user, step=step, now=now)


async def _spend(session: AsyncSession, *, user: User, step: int, now: datetime) -> bool:
    leaves_window = datetime.fromtimestamp((step + DRIFT_STEPS + 1) * STEP_SECONDS, UTC)
    inserted = await session.scalar(
        insert(MfaChallenge)
        .values(
            id=new_id(),
            tenant_id=user.tenant_id,
            user_id=user.id,
            token_hash=_step_marker(user, step),
            created_at=now,
            expires_at=leaves_window,
            used_at=now,
            failed_attempts=0,
        )
        .on_conflict_do_nothing(index_elements=[MfaChallenge.token_hash])
        .returning(MfaChallenge.id)
    )
    return inserted is not None


def _step_marker(user: User, step: int) -> str:
    return hashlib.sha256(f"totp-step:{user.id}:{step}".encode()).hexdigest()


def _normalize(code: str) -> str:
    return "".join(code.split())


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
