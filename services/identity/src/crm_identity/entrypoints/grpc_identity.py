"""IdentityService servicer: decode, call one use case, encode."""

from __future__ import annotations

from dataclasses import dataclass, field

from grpc.aio import ServicerContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.identity.v1 import identity_pb2, identity_pb2_grpc
from crm_identity.accounts import service as accounts
from crm_identity.accounts.schemas import AuthenticatedUser, Credentials, SignupData
from crm_identity.login.service import LoginPolicies, LoginResult, log_in
from crm_identity.mfa.challenges import PendingSecondFactor
from crm_identity.models import UserSession
from crm_identity.passwords import service as passwords
from crm_identity.plans.service import DEFAULT_PLAN
from crm_identity.sessions import by_token
from crm_identity.sessions import service as sessions
from crm_kit.background import BackgroundTasks
from crm_kit.context import current_context
from crm_kit.db.session import caller_unit_of_work, unit_of_work
from crm_kit.timestamps import to_timestamp
from crm_kit.validation import optional_uuid, resource_id

SERVICE_NAME = identity_pb2.DESCRIPTOR.services_by_name["IdentityService"].full_name
PUBLIC_METHODS = frozenset(
    f"/{SERVICE_NAME}/{m}"
    for m in (
        "Signup",
        "Login",
        "RefreshToken",
        "GetJwks",
        "Logout",
        "RequestPasswordReset",
        "ResetPassword",
    )
)


def _token_pair(pair: LoginResult) -> identity_pb2.TokenPair:
    if isinstance(pair, PendingSecondFactor):
        # No tokens and no ids: only the challenge, answered through MfaService.
        return identity_pb2.TokenPair(
            mfa_challenge=pair.challenge, mfa_enrollment_required=pair.enrollment_required
        )
    return identity_pb2.TokenPair(
        access_token=pair.access_token,
        token_type="Bearer",
        expires_in=pair.expires_in,
        refresh_token=pair.refresh_token,
        tenant_id=str(pair.tenant_id),
        user_id=str(pair.user_id),
    )


def _session(user_session: UserSession) -> identity_pb2.Session:
    return identity_pb2.Session(
        id=str(user_session.id),
        created_at=to_timestamp(user_session.created_at),
        last_used_at=to_timestamp(user_session.last_used_at),
        expires_at=to_timestamp(user_session.expires_at),
        ip=user_session.ip,
        user_agent=user_session.user_agent,
        current=sessions.is_current(user_session),
    )


@dataclass
class IdentityServicer(identity_pb2_grpc.IdentityServiceServicer):
    factory: async_sessionmaker[AsyncSession]
    policies: LoginPolicies
    reset: passwords.ResetPolicy
    background: BackgroundTasks = field(default_factory=BackgroundTasks)

    async def Signup(  # noqa: N802 - gRPC method name
        self, request: identity_pb2.SignupRequest, context: ServicerContext
    ) -> identity_pb2.SignupResponse:
        data = SignupData(
            organization_name=request.organization_name,
            owner_name=request.owner_name,
            email=request.email,
            password=request.password,
            phone=request.phone or None,
            age_attested=request.age_attested,
        )
        async with unit_of_work(self.factory, tenant_id=accounts.new_tenant_id()) as session:
            owner = await accounts.signup(session, data=data, hasher=self.policies.hasher)
            # A new organization starts on the default plan until billing says otherwise.
            user = AuthenticatedUser(
                tenant_id=owner.tenant_id,
                user_id=owner.id,
                roles=tuple(owner.roles),
                plan=DEFAULT_PLAN,
            )
            pair = await sessions.start(
                session, user=user, keys=self.policies.keys, policy=self.policies.tokens
            )
        return identity_pb2.SignupResponse(
            tenant_id=str(owner.tenant_id), user_id=str(owner.id), tokens=_token_pair(pair)
        )

    async def Login(  # noqa: N802
        self, request: identity_pb2.LoginRequest, context: ServicerContext
    ) -> identity_pb2.TokenPair:
        credentials = Credentials(
            email=request.email,
            password=request.password,
            tenant_id=optional_uuid(request.tenant_id, field="tenant_id"),
        )
        return _token_pair(
            await log_in(self.factory, credentials=credentials, policies=self.policies)
        )

    async def RefreshToken(  # noqa: N802
        self, request: identity_pb2.RefreshTokenRequest, context: ServicerContext
    ) -> identity_pb2.TokenPair:
        pair = await by_token.refresh(
            self.factory,
            token=request.refresh_token,
            keys=self.policies.keys,
            policy=self.policies.tokens,
        )
        return _token_pair(pair)

    async def GetJwks(  # noqa: N802
        self, request: identity_pb2.GetJwksRequest, context: ServicerContext
    ) -> identity_pb2.Jwks:
        return identity_pb2.Jwks(json=self.policies.keys.jwks())

    async def Logout(  # noqa: N802
        self, request: identity_pb2.LogoutRequest, context: ServicerContext
    ) -> identity_pb2.LogoutResponse:
        await by_token.logout(self.factory, token=request.refresh_token)
        return identity_pb2.LogoutResponse()

    async def LogoutEverywhere(  # noqa: N802
        self, request: identity_pb2.LogoutEverywhereRequest, context: ServicerContext
    ) -> identity_pb2.LogoutResponse:
        async with caller_unit_of_work(self.factory) as session:
            await sessions.end_all(
                session, user_id=current_context().require_user(), reason="logout_everywhere"
            )
        return identity_pb2.LogoutResponse()

    async def ListSessions(  # noqa: N802
        self, request: identity_pb2.ListSessionsRequest, context: ServicerContext
    ) -> identity_pb2.ListSessionsResponse:
        async with caller_unit_of_work(self.factory) as session:
            found = await sessions.list_open(session, user_id=current_context().require_user())
        return identity_pb2.ListSessionsResponse(sessions=[_session(s) for s in found])

    async def EndSession(  # noqa: N802
        self, request: identity_pb2.EndSessionRequest, context: ServicerContext
    ) -> identity_pb2.LogoutResponse:
        session_id = resource_id(request.session_id, resource="session")
        async with caller_unit_of_work(self.factory) as session:
            await sessions.end_own(
                session, user_id=current_context().require_user(), session_id=session_id
            )
        return identity_pb2.LogoutResponse()

    async def ChangePassword(  # noqa: N802
        self, request: identity_pb2.ChangePasswordRequest, context: ServicerContext
    ) -> identity_pb2.ChangePasswordResponse:
        async with caller_unit_of_work(self.factory) as session:
            await passwords.change_password(
                session,
                user_id=current_context().require_user(),
                current_password=request.current_password,
                new_password=request.new_password,
                hasher=self.policies.hasher,
            )
        return identity_pb2.ChangePasswordResponse()

    async def RequestPasswordReset(  # noqa: N802
        self, request: identity_pb2.RequestPasswordResetRequest, context: ServicerContext
    ) -> identity_pb2.RequestPasswordResetResponse:
        # Answered before any account is looked up: known and unknown emails cost the same.
        self.background.spawn(
            passwords.request_reset(self.factory, email=request.email, policy=self.reset)
        )
        return identity_pb2.RequestPasswordResetResponse()

    async def ResetPassword(  # noqa: N802
        self, request: identity_pb2.ResetPasswordRequest, context: ServicerContext
    ) -> identity_pb2.ResetPasswordResponse:
        await passwords.reset_password(
            self.factory,
            token=request.token,
            new_password=request.new_password,
            hasher=self.policies.hasher,
        )
        return identity_pb2.ResetPasswordResponse()
