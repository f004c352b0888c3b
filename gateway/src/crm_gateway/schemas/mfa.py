"""Request and response bodies of the second factor (TOTP and recovery codes)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from crm_gateway.schemas import ApiModel, TokenResponse

CODE_DESCRIPTION = "A 6-digit code from the authenticator app"
FACTOR_DESCRIPTION = f"{CODE_DESCRIPTION}, or one of your recovery codes"


class MfaChallengeResponse(ApiModel):
    """The password was right; finish the login with `POST /v1/auth/mfa`."""

    mfa_required: Literal[True]
    mfa_challenge: str = Field(
        description="Pass to `POST /v1/auth/mfa` with a code; works once, for a few minutes"
    )
    mfa_enrollment_required: bool = Field(
        description="Your organization requires a second factor you have not enrolled yet: "
        "enroll one with this challenge (`POST /v1/auth/mfa/enroll`, then "
        "`POST /v1/auth/mfa/enroll/confirm`, which completes the login)"
    )


class MfaLoginRequest(ApiModel):
    challenge: str = Field(min_length=1, max_length=200, description="From the login response")
    code: str = Field(min_length=1, max_length=32, description=FACTOR_DESCRIPTION)


class MfaEnrollmentStart(ApiModel):
    challenge: str = Field(
        min_length=1,
        max_length=200,
        description="From a login response with `mfa_enrollment_required: true`",
    )


class MfaEnrollmentConfirm(ApiModel):
    challenge: str = Field(
        min_length=1, max_length=200, description="The challenge the enrollment started with"
    )
    code: str = Field(min_length=1, max_length=32, description=CODE_DESCRIPTION)


class MfaEnrollmentLogin(TokenResponse):
    """The second factor is on and the login it was required for is complete."""

    recovery_codes: list[str] = Field(
        description="One-time codes for a lost authenticator; shown only now, store them safely"
    )


class TotpEnrollment(ApiModel):
    secret: str = Field(description="Base32 secret, for typing into an authenticator app")
    otpauth_uri: str = Field(description="The same secret as an otpauth:// URI (show as QR code)")


class TotpCode(ApiModel):
    code: str = Field(min_length=1, max_length=32, description=CODE_DESCRIPTION)


class SecondFactor(ApiModel):
    code: str = Field(min_length=1, max_length=32, description=FACTOR_DESCRIPTION)


class TotpDisable(ApiModel):
    password: str = Field(min_length=1, max_length=200)
    code: str = Field(min_length=1, max_length=32, description=FACTOR_DESCRIPTION)


class RecoveryCodes(ApiModel):
    codes: list[str] = Field(
        description="One-time codes for a lost authenticator; shown only now, store them safely"
    )


class TenantMfaRequirement(ApiModel):
    required: bool = Field(description="Every user of the organization must use a second factor")
