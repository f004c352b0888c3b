"""What every identity servicer may need, built once by bootstrap."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_identity.login.service import LoginPolicies
from crm_identity.passwords.service import ResetPolicy
from crm_identity.settings import IdentitySettings


@dataclass(frozen=True)
class IdentityDependencies:
    factory: async_sessionmaker[AsyncSession]
    settings: IdentitySettings
    policies: LoginPolicies
    reset: ResetPolicy
