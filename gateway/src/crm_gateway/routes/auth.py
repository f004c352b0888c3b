"""Signup, login, token refresh and the JWKS."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Depends, Request, Response

from crm.identity.v1 import identity_pb2
from crm_gateway.routes.responses import no_store, problems
from crm_gateway.routes.router import PrefixedRouter
from crm_gateway.schemas import (
    LoginRequest,
    LogoutRequest,
    PasswordResetConfirm,
    PasswordResetRequest,
    RefreshRequest,
    SignupRequest,
    TokenResponse,
)
from crm_gateway.schemas.mfa import MfaChallengeResponse
from crm_gateway.security import limit_account, limit_auth_endpoint

router = PrefixedRouter(
    prefix="/v1/auth",
    tags=["auth"],
    dependencies=[Depends(limit_auth_endpoint), Depends(no_store)],
)
jwks_router = PrefixedRouter(tags=["auth"])


def _tokens(pair: identity_pb2.TokenPair) -> TokenResponse:
    return TokenResponse(
        access_token=pair.access_token,
        token_type=pair.token_type,
        expires_in=pair.expires_in,
        refresh_token=pair.refresh_token,
        tenant_id=pair.tenant_id,
        user_id=pair.user_id,
    )


@router.post(
    "/signup",
    status_code=201,
    summary="Create an organization and its owner",
    response_model=TokenResponse,
    responses=problems(422),
)
async def signup(body: SignupRequest, request: Request) -> TokenResponse:
    response = await request.app.state.upstreams.identity.Signup(
        identity_pb2.SignupRequest(**body.model_dump())
    )
    return _tokens(response.tokens)


@router.post(
    "/login",
    summary="Exchange email and password for tokens",
    description="Answers tokens, or, when the account uses a second factor (or its "
    "organization requires one), `mfa_required: true` and a challenge to complete with "
    "`POST /v1/auth/mfa`. Branch on `mfa_required`.",
    response_model=TokenResponse | MfaChallengeResponse,
    responses=problems(401, 422),
)
async def login(
    body: LoginRequest, request: Request, response: Response
) -> TokenResponse | MfaChallengeResponse:
    await limit_account(request, response, body.email)
    pair = await request.app.state.upstreams.identity.Login(
        identity_pb2.LoginRequest(
            email=body.email, password=body.password, tenant_id=body.tenant_id or ""
        )
    )
    if pair.mfa_challenge:
        return MfaChallengeResponse(
            mfa_required=True,
            mfa_challenge=pair.mfa_challenge,
            mfa_enrollment_required=pair.mfa_enrollment_required,
        )
    return _tokens(pair)


@router.post(
    "/refresh",
    summary="Rotate a refresh token into a new token pair",
    response_model=TokenResponse,
    responses=problems(401, 422),
)
async def refresh(body: RefreshRequest, request: Request) -> TokenResponse:
    pair = await request.app.state.upstreams.identity.RefreshToken(
        identity_pb2.RefreshTokenRequest(refresh_token=body.refresh_token)
    )
    return _tokens(pair)


@router.post(
    "/logout",
    status_code=204,
    summary="End the session a refresh token belongs to",
    responses=problems(422),
)
async def logout(body: LogoutRequest, request: Request) -> Response:
    await request.app.state.upstreams.identity.Logout(
        identity_pb2.LogoutRequest(refresh_token=body.refresh_token)
    )
    return Response(status_code=204)


@router.post(
    "/password-reset",
    status_code=202,
    response_class=Response,
    summary="Email a password-reset link",
    description="Answers 202 whether or not the email has an account, so nobody can "
    "learn which emails do. The link is valid for 30 minutes and works once.",
    responses=problems(422),
)
async def request_password_reset(body: PasswordResetRequest, request: Request) -> Response:
    await limit_account(request, Response(), body.email)
    await request.app.state.upstreams.identity.RequestPasswordReset(
        identity_pb2.RequestPasswordResetRequest(email=body.email)
    )
    return Response(status_code=202)


@router.post(
    "/password-reset/confirm",
    status_code=204,
    summary="Set a new password with the emailed token; ends every session",
    responses=problems(422),
)
async def confirm_password_reset(body: PasswordResetConfirm, request: Request) -> Response:
    await request.app.state.upstreams.identity.ResetPassword(
        identity_pb2.ResetPasswordRequest(token=body.token, new_password=body.new_password)
    )
    return Response(status_code=204)


@jwks_router.get("/.well-known/jwks.json", summary="Public keys that verify access tokens")
async def jwks(request: Request) -> dict[str, Any]:
    document = await request.app.state.upstreams.identity.GetJwks(identity_pb2.GetJwksRequest())
    parsed: dict[str, Any] = json.loads(document.json)
    return parsed
