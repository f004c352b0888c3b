"""The one place that wires identity's parts together."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.identity.v1 import api_keys_pb2_grpc, identity_pb2_grpc, mfa_pb2_grpc, users_pb2_grpc
from crm_identity.dependencies import IdentityDependencies
from crm_identity.entrypoints import grpc_api_keys, grpc_identity, grpc_mfa, grpc_users
from crm_identity.entrypoints.consumers import build_consumer
from crm_identity.entrypoints.grpc_identity import IdentityServicer
from crm_identity.login.lockout import LockoutPolicy
from crm_identity.login.service import LoginPolicies
from crm_identity.models import OutboxRecord
from crm_identity.passwords.hashing import PasswordHasher
from crm_identity.passwords.service import ResetPolicy
from crm_identity.settings import IdentitySettings
from crm_identity.tokens.access import TokenPolicy
from crm_identity.tokens.keys import KeyStore
from crm_kit.db.session import create_engine, make_session_factory
from crm_kit.grpc.server import ServiceRegistration
from crm_kit.runtime import ServiceParts
from crm_kit.settings import ServiceSettings

log = logging.getLogger(__name__)


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
        mfa_challenge_ttl=timedelta(seconds=settings.mfa_challenge_ttl_seconds),
    )


def signing_keys(settings: IdentitySettings, factory: async_sessionmaker[AsyncSession]) -> KeyStore:
    # A retired key stays published past the life of the last token it signed.
    window = timedelta(seconds=settings.access_token_ttl_seconds + 300)
    return KeyStore(factory, verify_window=window)


async def rotate_signing_key(settings: ServiceSettings) -> None:
    """`python -m crm_identity rotate-signing-key`: new tokens get a new key; tokens
    signed by the old one keep verifying until they expire."""
    assert isinstance(settings, IdentitySettings)
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        kid = await signing_keys(settings, make_session_factory(engine)).rotate()
    finally:
        await engine.dispose()
    log.info("signing key rotated", extra={"kid": kid})


def build(settings: ServiceSettings, factory: async_sessionmaker[AsyncSession]) -> ServiceParts:
    assert isinstance(settings, IdentitySettings)
    keys = signing_keys(settings, factory)
    deps = IdentityDependencies(
        factory=factory,
        settings=settings,
        policies=login_policies(settings, keys),
        reset=ResetPolicy(
            ttl=timedelta(minutes=settings.password_reset_ttl_minutes),
            url=settings.password_reset_url,
        ),
    )
    identity = IdentityServicer(factory=factory, policies=deps.policies, reset=deps.reset)
    users = grpc_users.UserServiceServicer(deps)
    api_keys = grpc_api_keys.ApiKeyServiceServicer(deps)
    mfa = grpc_mfa.MfaServiceServicer(deps)
    return ServiceParts(
        registrations=[
            ServiceRegistration(
                grpc_identity.SERVICE_NAME,
                lambda server: identity_pb2_grpc.add_IdentityServiceServicer_to_server(
                    identity, server
                ),
            ),
            ServiceRegistration(
                grpc_users.SERVICE_NAME,
                lambda server: users_pb2_grpc.add_UserServiceServicer_to_server(users, server),
            ),
            ServiceRegistration(
                grpc_api_keys.SERVICE_NAME,
                lambda server: api_keys_pb2_grpc.add_ApiKeyServiceServicer_to_server(
                    api_keys, server
                ),
            ),
            ServiceRegistration(
                grpc_mfa.SERVICE_NAME,
                lambda server: mfa_pb2_grpc.add_MfaServiceServicer_to_server(mfa, server),
            ),
        ],
        public_methods=grpc_identity.PUBLIC_METHODS
        | grpc_users.PUBLIC_METHODS
        | grpc_api_keys.PUBLIC_METHODS
        | grpc_mfa.PUBLIC_METHODS,
        outbox_model=OutboxRecord,
        consumers=[build_consumer(factory)],
        jwks_fetcher=keys.fetch_jwks,
        on_start=[keys.load],
        background=[keys.reload_forever],
    )
