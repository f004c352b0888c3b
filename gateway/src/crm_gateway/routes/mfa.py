"""The second factor: completing a login, TOTP enrollment, recovery codes, and the
organization's requirement."""

from __future__ import annotations

from fastapi import Depends, Request, Response

from crm.identity.v1 import mfa_pb2
from crm_gateway.routes.responses import no_store, problems
from crm_gateway.routes.router import PrefixedRouter
from crm_gateway.schemas import TokenResponse
from crm_gateway.schemas.mfa import (
    MfaEnrollmentConfirm,
    MfaEnrollmentLogin,
    MfaEnrollmentStart,
    MfaLoginRequest,
    RecoveryCodes,
    SecondFactor,
    TenantMfaRequirement,
    TotpCode,
    TotpDisable,
    TotpEnrollment,
)
from crm_gateway.security import Caller, limit_auth_endpoint

router = PrefixedRouter(prefix="/v1", tags=["mfa"])

# Secrets and recovery codes must not linger in any cache on the way.


@router.post(
    "/auth/mfa",
    tags=["auth"],
    summary="Complete a login with a second factor",
    description="Takes the challenge from `POST /v1/auth/login` and a TOTP code or a "
    "recovery code. Five wrong codes end the challenge; wrong codes also count towards "
    "the account lockout.",
    response_model=TokenResponse,
    responses=problems(401, 412, 422),
    dependencies=[Depends(limit_auth_endpoint), Depends(no_store)],
)
async def complete_login(body: MfaLoginRequest, request: Request) -> TokenResponse:
    result = await request.app.state.upstreams.mfa.CompleteMfaLogin(
        mfa_pb2.CompleteMfaLoginRequest(challenge=body.challenge, code=body.code)
    )
    return TokenResponse(
        access_token=result.access_token,
        token_type=result.token_type,
        expires_in=result.expires_in,
        refresh_token=result.refresh_token,
        tenant_id=result.tenant_id,
        user_id=result.user_id,
    )


@router.post(
    "/auth/mfa/enroll",
    tags=["auth"],
    summary="Start enrolling the second factor a login requires",
    description="Takes the challenge of a login that answered "
    "`mfa_enrollment_required: true` (your organization requires a second factor you "
    "have not enrolled yet) and answers a new secret to scan; "
    "`POST /v1/auth/mfa/enroll/confirm` then turns it on and completes the login.",
    response_model=TotpEnrollment,
    responses=problems(401, 422),
    dependencies=[Depends(limit_auth_endpoint), Depends(no_store)],
)
async def start_enrollment_at_login(body: MfaEnrollmentStart, request: Request) -> TotpEnrollment:
    enrollment = await request.app.state.upstreams.mfa.StartTotpEnrollment(
        mfa_pb2.StartTotpEnrollmentRequest(challenge=body.challenge)
    )
    return TotpEnrollment(secret=enrollment.secret, otpauth_uri=enrollment.otpauth_uri)


@router.post(
    "/auth/mfa/enroll/confirm",
    tags=["auth"],
    summary="Confirm the authenticator app and complete the login that required it",
    description="Takes the enrollment's challenge and a code from the app. Answers tokens "
    "and ten one-time recovery codes, shown only this once. Wrong codes count like those "
    "sent to `POST /v1/auth/mfa`: five end the challenge, and they count towards the "
    "account lockout.",
    response_model=MfaEnrollmentLogin,
    responses=problems(401, 409, 422),
    dependencies=[Depends(limit_auth_endpoint), Depends(no_store)],
)
async def confirm_enrollment_at_login(
    body: MfaEnrollmentConfirm, request: Request
) -> MfaEnrollmentLogin:
    confirmed = await request.app.state.upstreams.mfa.ConfirmTotpEnrollment(
        mfa_pb2.ConfirmTotpEnrollmentRequest(challenge=body.challenge, code=body.code)
    )
    login = confirmed.login
    return MfaEnrollmentLogin(
        access_token=login.access_token,
        token_type=login.token_type,
        expires_in=login.expires_in,
        refresh_token=login.refresh_token,
        tenant_id=login.tenant_id,
        user_id=login.user_id,
        recovery_codes=list(confirmed.codes),
    )


@router.post(
    "/me/mfa/totp",
    summary="Start enrolling an authenticator app",
    description="Answers a new secret to scan; it takes effect once "
    "`POST /v1/me/mfa/totp/confirm` proves the app produces its codes.",
    response_model=TotpEnrollment,
    responses=problems(401, 409),
    dependencies=[Depends(no_store)],
)
async def start_totp_enrollment(request: Request, caller: Caller) -> TotpEnrollment:
    enrollment = await request.app.state.upstreams.mfa.StartTotpEnrollment(
        mfa_pb2.StartTotpEnrollmentRequest()
    )
    return TotpEnrollment(secret=enrollment.secret, otpauth_uri=enrollment.otpauth_uri)


@router.post(
    "/me/mfa/totp/confirm",
    summary="Confirm the authenticator app and turn on the second factor",
    description="Answers ten one-time recovery codes, shown only this once.",
    response_model=RecoveryCodes,
    responses=problems(401, 409, 412, 422),
    dependencies=[Depends(limit_auth_endpoint), Depends(no_store)],
)
async def confirm_totp_enrollment(
    body: TotpCode, request: Request, caller: Caller
) -> RecoveryCodes:
    codes = await request.app.state.upstreams.mfa.ConfirmTotpEnrollment(
        mfa_pb2.ConfirmTotpEnrollmentRequest(code=body.code)
    )
    return RecoveryCodes(codes=list(codes.codes))


@router.post(
    "/me/mfa/totp/disable",
    status_code=204,
    summary="Turn off the second factor (needs your password and a code)",
    description="Refused with 412 while your organization requires a second factor.",
    responses=problems(401, 412, 422),
    dependencies=[Depends(limit_auth_endpoint)],
)
async def disable_totp(body: TotpDisable, request: Request, caller: Caller) -> Response:
    await request.app.state.upstreams.mfa.DisableTotp(
        mfa_pb2.DisableTotpRequest(password=body.password, code=body.code)
    )
    return Response(status_code=204)


@router.post(
    "/me/mfa/recovery-codes",
    summary="Replace your recovery codes",
    description="The earlier codes stop working; the new ones are shown only this once.",
    response_model=RecoveryCodes,
    responses=problems(401, 412, 422),
    dependencies=[Depends(limit_auth_endpoint), Depends(no_store)],
)
async def regenerate_recovery_codes(
    body: SecondFactor, request: Request, caller: Caller
) -> RecoveryCodes:
    codes = await request.app.state.upstreams.mfa.RegenerateRecoveryCodes(
        mfa_pb2.RegenerateRecoveryCodesRequest(code=body.code)
    )
    return RecoveryCodes(codes=list(codes.codes))


@router.put(
    "/tenant/mfa",
    summary="Require a second factor of every user in your organization (owners only)",
    description="To turn it on you must have a second factor yourself. Users without one "
    "then enroll one when they next log in (`POST /v1/auth/mfa/enroll`).",
    response_model=TenantMfaRequirement,
    responses=problems(401, 403, 409, 412, 422),
)
async def set_tenant_mfa_requirement(
    body: TenantMfaRequirement, request: Request, caller: Caller
) -> TenantMfaRequirement:
    await request.app.state.upstreams.mfa.SetTenantMfaRequirement(
        mfa_pb2.SetTenantMfaRequirementRequest(required=body.required)
    )
    return TenantMfaRequirement(required=body.required)
