"""The one place that wires identity's parts together."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.identity.v1 import identity_pb2_grpc
from crm_identity.entrypoints.grpc_server import PUBLIC_METHODS, SERVICE_NAME, IdentityServicer
from crm_identity.login.lockout import LockoutPolicy
from crm_identity.login.service import LoginPolicies
from crm_identity.models import OutboxRecord
from crm_identity.passwords.hashing import PasswordHasher
from crm_identity.passwords.service import ResetPolicy
from crm_identity.settings import IdentitySettings
from crm_identity.tokens.access import TokenPolicy
from crm_identity.tokens.keys import KeyStore
from crm_kit.grpc.server import ServiceRegistration
from crm_kit.runtime import ServiceParts
from crm_kit.settings import ServiceSettings


def login_policies(settings: IdentitySettings, keys: KeyStore) -> LoginPolicies:
    return LoginPolicies(
        hasher=PasswordHasher(rounds=settings.bcrypt_rounds),
        lockout=LockoutPolicy(
            max_failures=settings.max_failed_logins,
            window=timedelta(minutes=settings.failure_window_minutes),
            base_lock=timedelta(minutes=settings.lockout_minutes),
            max_lock=timedelta(hours=settings.max_lockout_hours),
        ),
        keys=keys,
        tokens=TokenPolicy(
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            access_ttl_seconds=settings.access_token_ttl_seconds,
            refresh_ttl=timedelta(days=settings.refresh_token_ttl_days),
            refresh_idle=timedelta(days=settings.refresh_token_idle_days),
        ),
    )


def build(settings: ServiceSettings, factory: async_sessionmaker[AsyncSession]) -> ServiceParts:
    assert isinstance(settings, IdentitySettings)
    keys = KeyStore(factory)
    servicer = IdentityServicer(
        factory=factory,
        policies=login_policies(settings, keys),
        reset=ResetPolicy(
            ttl=timedelta(minutes=settings.password_reset_ttl_minutes),
            url=settings.password_reset_url,
        ),
    )
    return ServiceParts(
        registrations=[
            ServiceRegistration(
                SERVICE_NAME,
                lambda server: identity_pb2_grpc.add_IdentityServiceServicer_to_server(
                    servicer, server
                ),
            )
        ],
        public_methods=PUBLIC_METHODS,
        outbox_model=OutboxRecord,
        jwks_fetcher=keys.fetch_jwks,
        on_start=[keys.load],
    )
