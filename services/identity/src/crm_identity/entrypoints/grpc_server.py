"""IdentityService servicer."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from grpc.aio import ServicerContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.identity.v1 import identity_pb2, identity_pb2_grpc
from crm_identity.accounts import service as accounts
from crm_identity.accounts.passwords import PasswordHasher
from crm_identity.accounts.repository import LOGIN_EMAIL_GUC
from crm_identity.accounts.schemas import AuthenticatedUser, Credentials, SignupData
from crm_identity.tokens import service as tokens
from crm_identity.tokens.keys import KeyStore
from crm_kit.db.session import unit_of_work
from crm_kit.errors import InvalidArgument, Unauthenticated

SERVICE_NAME = identity_pb2.DESCRIPTOR.services_by_name["IdentityService"].full_name
PUBLIC_METHODS = frozenset(
    f"/{SERVICE_NAME}/{m}" for m in ("Signup", "Login", "RefreshToken", "GetJwks")
)


def _token_pair(pair: tokens.TokenPair) -> identity_pb2.TokenPair:
    return identity_pb2.TokenPair(
        access_token=pair.access_token,
        token_type="Bearer",
        expires_in=pair.expires_in,
        refresh_token=pair.refresh_token,
        tenant_id=str(pair.tenant_id),
        user_id=str(pair.user_id),
    )


def _optional_uuid(value: str, field: str) -> uuid.UUID | None:
    if not value:
        return None
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise InvalidArgument(f"{field} is not a UUID", code="invalid_uuid", field=field) from exc


@dataclass
class IdentityServicer(identity_pb2_grpc.IdentityServiceServicer):
    factory: async_sessionmaker[AsyncSession]
    hasher: PasswordHasher
    keys: KeyStore
    policy: tokens.TokenPolicy

    async def Signup(  # noqa: N802 - gRPC method name
        self, request: identity_pb2.SignupRequest, context: ServicerContext
    ) -> identity_pb2.SignupResponse:
        data = SignupData(
            organization_name=request.organization_name,
            owner_name=request.owner_name,
            email=request.email,
            password=request.password,
        )
        async with unit_of_work(self.factory, tenant_id=accounts.new_tenant_id()) as session:
            owner = await accounts.signup(session, data=data, hasher=self.hasher)
            user = AuthenticatedUser(
                tenant_id=owner.tenant_id, user_id=owner.id, roles=tuple(owner.roles)
            )
            pair = await tokens.issue_pair(session, user=user, keys=self.keys, policy=self.policy)
        return identity_pb2.SignupResponse(
            tenant_id=str(owner.tenant_id), user_id=str(owner.id), tokens=_token_pair(pair)
        )

    async def Login(  # noqa: N802
        self, request: identity_pb2.LoginRequest, context: ServicerContext
    ) -> identity_pb2.TokenPair:
        credentials = Credentials(
            email=request.email,
            password=request.password,
            tenant_id=_optional_uuid(request.tenant_id, "tenant_id"),
        )
        email = accounts.normalize_email_or_blank(request.email)
        async with unit_of_work(
            self.factory, tenant_id=None, gucs={LOGIN_EMAIL_GUC: email}
        ) as session:
            user = await accounts.authenticate(session, credentials=credentials, hasher=self.hasher)
        async with unit_of_work(self.factory, tenant_id=user.tenant_id) as session:
            pair = await tokens.issue_pair(session, user=user, keys=self.keys, policy=self.policy)
        return _token_pair(pair)

    async def RefreshToken(  # noqa: N802
        self, request: identity_pb2.RefreshTokenRequest, context: ServicerContext
    ) -> identity_pb2.TokenPair:
        token_hash = tokens.hash_refresh_token(request.refresh_token)
        async with unit_of_work(
            self.factory, tenant_id=None, gucs={tokens.TOKEN_HASH_GUC: token_hash}
        ) as session:
            tenant_id = await tokens.find_refresh_token_tenant(session, token_hash)
        async with unit_of_work(self.factory, tenant_id=tenant_id) as session:
            pair = await tokens.rotate(
                session, token=request.refresh_token, keys=self.keys, policy=self.policy
            )
        if pair is None:
            raise Unauthenticated("invalid refresh token", code="invalid_refresh_token")
        return _token_pair(pair)

    async def GetJwks(  # noqa: N802
        self, request: identity_pb2.GetJwksRequest, context: ServicerContext
    ) -> identity_pb2.Jwks:
        return identity_pb2.Jwks(json=self.keys.jwks())
