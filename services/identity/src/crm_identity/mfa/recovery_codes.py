"""One-time recovery codes: ten per user, 80 random bits each, stored only as SHA-256.

Shown as four groups of four base32 characters (ABCD-EFGH-IJKL-MNOP); case, dashes
and spaces do not matter when one is typed back.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm.events.v1 import identity_pb2 as identity_events
from crm_identity import activity
from crm_identity.models import RecoveryCode, User
from crm_kit.db.models import new_id, utcnow

COUNT = 10
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
GROUPS = 4
GROUP_LENGTH = 4


def hash_code(code: str) -> str:
    return hashlib.sha256(_normalize(code).encode()).hexdigest()


async def replace_all(session: AsyncSession, *, user: User) -> list[str]:
    """A fresh set of codes for `user`, replacing any earlier ones; the plaintexts
    are returned once and never stored."""
    await delete_all(session, user_id=user.id)
    codes = [_new_code() for _ in range(COUNT)]
    now = utcnow()
    session.add_all(
        RecoveryCode(
            id=new_id(),
            tenant_id=user.tenant_id,
            user_id=user.id,
            code_hash=hash_code(code),
            created_at=now,
        )
        for code in codes
    )
    await session.flush()
    return codes


async def delete_all(session: AsyncSession, *, user_id: uuid.UUID) -> None:
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))


async def consume(session: AsyncSession, *, user: User, code: str) -> bool:
    """Spend one unused code of `user` atomically; publishes mfa.recovery_code_used."""
    normalized = _normalize(code)
    if len(normalized) != GROUPS * GROUP_LENGTH or not set(normalized) <= set(ALPHABET):
        return False
    spent = await session.scalar(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == hash_code(normalized),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
        .returning(RecoveryCode.id)
    )
    if spent is None:
        return False
    activity.record(
        session,
        tenant_id=user.tenant_id,
        event_type="mfa.recovery_code_used",
        payload=identity_events.MfaChanged(user_id=str(user.id), client=activity.client_info()),
    )
    return True


def _new_code() -> str:
    return "-".join(
        "".join(secrets.choice(ALPHABET) for _ in range(GROUP_LENGTH)) for _ in range(GROUPS)
    )


def _normalize(code: str) -> str:
    return "".join(code.split()).replace("-", "").upper()
