"""Checking a second factor: a TOTP code or one of the recovery codes."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from crm_identity.mfa import recovery_codes, totp
from crm_identity.models import User


class Factor(StrEnum):
    TOTP = "totp"
    RECOVERY_CODE = "recovery_code"


async def check_second_factor(session: AsyncSession, *, user: User, code: str) -> Factor | None:
    """Which factor `code` proves for an enrolled user, spending it; None if it proves
    nothing. The caller holds the user's row lock."""
    if user.totp_secret is None:
        return None
    if totp.looks_like_code(code):
        if await totp.verify(session, user=user, secret=user.totp_secret, code=code):
            return Factor.TOTP
        return None
    if await recovery_codes.consume(session, user=user, code=code):
        return Factor.RECOVERY_CODE
    return None
