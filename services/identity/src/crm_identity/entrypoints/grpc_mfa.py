"""MfaService servicer: decode, call one use case, encode."""

from __future__ import annotations

from dataclasses import dataclass

from grpc.aio import ServicerContext

from crm.identity.v1 import mfa_pb2, mfa_pb2_grpc
from crm_identity.dependencies import IdentityDependencies
from crm_identity.mfa import login as mfa_login
from crm_identity.mfa import service as mfa
from crm_identity.sessions.service import TokenPair
from crm_kit.context import current_context
from crm_kit.db.session import caller_unit_of_work

SERVICE_NAME = mfa_pb2.DESCRIPTOR.services_by_name["MfaService"].full_name


@dataclass
class MfaServiceServicer(mfa_pb2_grpc.MfaServiceServicer):
    deps: IdentityDependencies

    async def StartTotpEnrollment(  # noqa: N802 - gRPC method name
        self, request: mfa_pb2.StartTotpEnrollmentRequest, context: ServicerContext
    ) -> mfa_pb2.TotpEnrollment:
        issuer = self.deps.settings.totp_issuer
        if request.challenge:
            enrollment = await mfa_login.start_enrollment(
                self.deps.factory, challenge=request.challenge, issuer=issuer
            )
        else:
            async with caller_unit_of_work(self.deps.factory) as session:
                enrollment = await mfa.start_enrollment(
                    session, user_id=current_context().require_user(), issuer=issuer
                )
        return mfa_pb2.TotpEnrollment(secret=enrollment.secret, otpauth_uri=enrollment.otpauth_uri)

    async def ConfirmTotpEnrollment(  # noqa: N802
        self, request: mfa_pb2.ConfirmTotpEnrollmentRequest, context: ServicerContext
    ) -> mfa_pb2.RecoveryCodes:
        if request.challenge:
            enrolled = await mfa_login.confirm_enrollment(
                self.deps.factory,
                challenge=request.challenge,
                code=request.code,
                policies=self.deps.policies,
            )
            return mfa_pb2.RecoveryCodes(
                codes=enrolled.recovery_codes, login=_login_result(enrolled.tokens)
            )
        async with caller_unit_of_work(self.deps.factory) as session:
            codes = await mfa.confirm_enrollment(
                session, user_id=current_context().require_user(), code=request.code
            )
        return mfa_pb2.RecoveryCodes(codes=codes)

    async def DisableTotp(  # noqa: N802
        self, request: mfa_pb2.DisableTotpRequest, context: ServicerContext
    ) -> mfa_pb2.DisableTotpResponse:
        async with caller_unit_of_work(self.deps.factory) as session:
            await mfa.disable(
                session,
                user_id=current_context().require_user(),
                password=request.password,
                code=request.code,
                hasher=self.deps.policies.hasher,
            )
        return mfa_pb2.DisableTotpResponse()

    async def RegenerateRecoveryCodes(  # noqa: N802
        self, request: mfa_pb2.RegenerateRecoveryCodesRequest, context: ServicerContext
    ) -> mfa_pb2.RecoveryCodes:
        async with caller_unit_of_work(self.deps.factory) as session:
            codes = await mfa.regenerate_recovery_codes(
                session, user_id=current_context().require_user(), code=request.code
            )
        return mfa_pb2.RecoveryCodes(codes=codes)

    async def CompleteMfaLogin(  # noqa: N802
        self, request: mfa_pb2.CompleteMfaLoginRequest, context: ServicerContext
    ) -> mfa_pb2.MfaLoginResult:
        pair = await mfa_login.complete_login(
            self.deps.factory,
            challenge=request.challenge,
            code=request.code,
            policies=self.deps.policies,
        )
        return _login_result(pair)

    async def SetTenantMfaRequirement(  # noqa: N802
        self, request: mfa_pb2.SetTenantMfaRequirementRequest, context: ServicerContext
    ) -> mfa_pb2.SetTenantMfaRequirementResponse:
        ctx = current_context()
        async with caller_unit_of_work(self.deps.factory) as session:
            await mfa.set_tenant_requirement(
                session,
                tenant_id=ctx.require_tenant(),
                user_id=current_context().require_user(),
                roles=ctx.roles,
                required=request.required,
            )
        return mfa_pb2.SetTenantMfaRequirementResponse()


def _login_result(pair: TokenPair) -> mfa_pb2.MfaLoginResult:
    return mfa_pb2.MfaLoginResult(
        access_token=pair.access_token,
        token_type="Bearer",
        expires_in=pair.expires_in,
        refresh_token=pair.refresh_token,
        tenant_id=str(pair.tenant_id),
        user_id=str(pair.user_id),
    )


# Methods callable without an access token (their request carries its own credential:
# a login challenge). Enrollment without a challenge still needs the caller's session.
PUBLIC_METHODS: frozenset[str] = frozenset(
    {
        f"/{SERVICE_NAME}/CompleteMfaLogin",
        f"/{SERVICE_NAME}/StartTotpEnrollment",
        f"/{SERVICE_NAME}/ConfirmTotpEnrollment",
    }
)
