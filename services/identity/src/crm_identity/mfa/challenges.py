"""Login challenges: a password-verified login waiting for its second factor.

The challenge token is 256 random bits, handed to the client once; only its SHA-256
is stored. It expires after a few minutes, works once, and dies after
MAX_FAILED_ATTEMPTS wrong codes.

A challenge issued because the tenant requires a second factor the user has not
enrolled yet starts with ENROLLMENT_PREFIX. The stored hash covers the whole token, so
the marker can be neither added to nor removed from a token the server issued: only
such a challenge can authorize enrolling a second factor in place of a session.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_identity.models import MfaChallenge, User
from crm_identity.sessions.service import hash_token
from crm_kit.db.models import new_id, utcnow
from crm_kit.db.session import unit_of_work

# An RLS policy lets a transaction with this setting read exactly that challenge's row.
CHALLENGE_HASH_GUC = "app.mfa_challenge_hash"
MAX_FAILED_ATTEMPTS = 5
# Not in the token_urlsafe alphabet, so no ordinary challenge can start with it.
ENROLLMENT_PREFIX = "enroll."


@dataclass(frozen=True)
class PendingSecondFactor:
    """A login whose password passed; `challenge` completes it with a second factor.

    With `enrollment_required` the tenant requires a second factor the user has not
    enrolled yet: the challenge cannot complete until they have.
    """

    challenge: str
    enrollment_required: bool


async def issue(
    session: AsyncSession, *, user: User, enrollment_required: bool, ttl: timedelta
) -> PendingSecondFactor:
    now = utcnow()
    # The user's expired challenges and spent TOTP steps are of no further use.
    await session.execute(
        delete(MfaChallenge).where(MfaChallenge.user_id == user.id, MfaChallenge.expires_at < now)
    )
    token = (ENROLLMENT_PREFIX if enrollment_required else "") + secrets.token_urlsafe(32)
    session.add(
        MfaChallenge(
            id=new_id(),
            tenant_id=user.tenant_id,
            user_id=user.id,
            token_hash=hash_token(token),
            created_at=now,
            expires_at=now + ttl,
            failed_attempts=0,
        )
    )
    await session.flush()
    return PendingSecondFactor(challenge=token, enrollment_required=enrollment_required)


def is_enrollment(token: str) -> bool:
    """Whether `token` was issued as enrollment-required (once its hash is found)."""
    return token.startswith(ENROLLMENT_PREFIX)


async def tenant_of(factory: async_sessionmaker[AsyncSession], token: str) -> uuid.UUID | None:
    """The tenant of a challenge token, read before any tenant is known."""
    token_hash = hash_token(token)
    async with unit_of_work(
        factory, tenant_id=None, gucs={CHALLENGE_HASH_GUC: token_hash}
    ) as session:
        return await session.scalar(
            select(MfaChallenge.tenant_id)
            .where(MfaChallenge.token_hash == token_hash)
            .execution_options(skip_tenant_filter=True)
        )


async def lock_open(session: AsyncSession, *, token: str, now: datetime) -> MfaChallenge | None:
    """The challenge, row-locked so parallel answers count one by one, if it can still
    be answered: unexpired, unused and with attempts left."""
    challenge = await session.scalar(
        select(MfaChallenge).where(MfaChallenge.token_hash == hash_token(token)).with_for_update()
    )
    if challenge is None or challenge.used_at is not None or challenge.expires_at <= now:
        return None
    if challenge.failed_attempts >= MAX_FAILED_ATTEMPTS:
        return None
    return challenge
