"""MfaService servicer: decode, call one use case, encode."""

from __future__ import annotations

import uuid
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from grpc.aio import ServicerContext
from sqlalchemy.ext.asyncio import AsyncSession

from crm.identity.v1 import mfa_pb2, mfa_pb2_grpc
from crm_identity.dependencies import IdentityDependencies
from crm_identity.mfa import service as mfa
from crm_identity.mfa.login import complete_login
from crm_kit.context import current_context
from crm_kit.db.session import unit_of_work

SERVICE_NAME = mfa_pb2.DESCRIPTOR.services_by_name["MfaService"].full_name


@dataclass
class MfaServiceServicer(mfa_pb2_grpc.MfaServiceServicer):
    deps: IdentityDependencies

    def _caller_unit(self) -> AbstractAsyncContextManager[AsyncSession]:
        return unit_of_work(self.deps.factory, tenant_id=current_context().require_tenant())

    @staticmethod
    def _caller() -> uuid.UUID:
        user_id = current_context().user_id
        assert user_id is not None, "authenticated calls carry a user"
        return user_id

    async def StartTotpEnrollment(  # noqa: N802 - gRPC method name
        self, request: mfa_pb2.StartTotpEnrollmentRequest, context: ServicerContext
    ) -> mfa_pb2.TotpEnrollment:
        async with self._caller_unit() as session:
            enrollment = await mfa.start_enrollment(
                session, user_id=self._caller(), issuer=self.deps.settings.totp_issuer
            )
        return mfa_pb2.TotpEnrollment(secret=enrollment.secret, otpauth_uri=enrollment.otpauth_uri)

    async def ConfirmTotpEnrollment(  # noqa: N802
        self, request: mfa_pb2.ConfirmTotpEnrollmentRequest, context: ServicerContext
    ) -> mfa_pb2.RecoveryCodes:
        async with self._caller_unit() as session:
            codes = await mfa.confirm_enrollment(session, user_id=self._caller(), code=request.code)
        return mfa_pb2.RecoveryCodes(codes=codes)

    async def DisableTotp(  # noqa: N802
        self, request: mfa_pb2.DisableTotpRequest, context: ServicerContext
    ) -> mfa_pb2.DisableTotpResponse:
        async with self._caller_unit() as session:
            await mfa.disable(
                session,
                user_id=self._caller(),
                password=request.password,
                code=request.code,
                hasher=self.deps.policies.hasher,
            )
        return mfa_pb2.DisableTotpResponse()

    async def RegenerateRecoveryCodes(  # noqa: N802
        self, request: mfa_pb2.RegenerateRecoveryCodesRequest, context: ServicerContext
    ) -> mfa_pb2.RecoveryCodes:
        async with self._caller_unit() as session:
            codes = await mfa.regenerate_recovery_codes(
                session, user_id=self._caller(), code=request.code
            )
        return mfa_pb2.RecoveryCodes(codes=codes)

    async def CompleteMfaLogin(  # noqa: N802
        self, request: mfa_pb2.CompleteMfaLoginRequest, context: ServicerContext
    ) -> mfa_pb2.MfaLoginResult:
        pair = await complete_login(
            self.deps.factory,
            challenge=request.challenge,
            code=request.code,
            policies=self.deps.policies,
        )
        return mfa_pb2.MfaLoginResult(
            access_token=pair.access_token,
            token_type="Bearer",
            expires_in=pair.expires_in,
            refresh_token=pair.refresh_token,
            tenant_id=str(pair.tenant_id),
            user_id=str(pair.user_id),
        )

    async def SetTenantMfaRequirement(  # noqa: N802
        self, request: mfa_pb2.SetTenantMfaRequirementRequest, context: ServicerContext
    ) -> mfa_pb2.SetTenantMfaRequirementResponse:
        ctx = current_context()
        async with self._caller_unit() as session:
            await mfa.set_tenant_requirement(
                session,
                tenant_id=ctx.require_tenant(),
                user_id=self._caller(),
                roles=ctx.roles,
                required=request.required,
            )
        return mfa_pb2.SetTenantMfaRequirementResponse()


# Methods callable without an access token (their request carries its own credential).
PUBLIC_METHODS: frozenset[str] = frozenset({f"/{SERVICE_NAME}/CompleteMfaLogin"})
