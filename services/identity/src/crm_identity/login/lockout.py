"""Counting failed logins atomically, and locking the account when they pile up.

Each attempt is one UPDATE of the user's row, so parallel attempts serialize on the
row lock and every one counts. Failures count while the account is locked too, and
every `max_failures`-th one locks it again for twice as long (up to a ceiling).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_identity.models import User


@dataclass(frozen=True)
class LockoutPolicy:
    max_failures: int
    window: timedelta
    base_lock: timedelta
    max_lock: timedelta

    def lock_duration(self, previous_lockouts: int) -> timedelta:
        doubled: timedelta = self.base_lock * (2 ** min(previous_lockouts, 30))
        return min(doubled, self.max_lock)


@dataclass(frozen=True)
class FailureCount:
    consecutive: int
    locked_until: datetime | None


async def record_failure(
    session: AsyncSession, *, user_id: uuid.UUID, policy: LockoutPolicy, now: datetime
) -> FailureCount:
    window_expired = (User.failure_window_started_at.is_(None)) | (
        User.failure_window_started_at < now - policy.window
    )
    row = (
        await session.execute(
            update(User)
            .where(User.id == user_id)
            .values(
                failed_logins=case((window_expired, 1), else_=User.failed_logins + 1),
                failure_window_started_at=case(
                    (window_expired, now), else_=User.failure_window_started_at
                ),
            )
            .returning(User.failed_logins, User.lockouts, User.locked_until)
        )
    ).one()
    failures, lockouts, locked_until = row
    if failures % policy.max_failures == 0:
        locked_until = now + policy.lock_duration(lockouts)
        await session.execute(
            update(User)
            .where(User.id == user_id)
            .values(locked_until=locked_until, lockouts=User.lockouts + 1)
        )
        return FailureCount(failures, locked_until)
    return FailureCount(failures, None)


async def record_success(session: AsyncSession, *, user_id: uuid.UUID) -> None:
    await session.execute(
        update(User)
        .where(User.id == user_id)
        .values(failed_logins=0, failure_window_started_at=None, locked_until=None, lockouts=0)
    )
