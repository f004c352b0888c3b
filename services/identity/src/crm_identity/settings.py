"""Identity's settings (env prefix IDENTITY_)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from crm_kit.settings import ServiceSettings, local_database_urls

_RUNTIME_URL, _MIGRATION_URL = local_database_urls("crm_identity")


class IdentitySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="IDENTITY_", frozen=True, extra="ignore")

    database_url: str = _RUNTIME_URL
    migration_database_url: str = _MIGRATION_URL
    grpc_port: int = Field(default=50051, ge=1, le=65535)
    bcrypt_rounds: int = Field(default=12, ge=10, le=16)
    access_token_ttl_seconds: int = Field(default=900, ge=60, le=3600)
    refresh_token_ttl_days: int = Field(default=30, ge=1, le=365)
    refresh_token_idle_days: int = Field(default=14, ge=1, le=365)
    max_failed_logins: int = Field(default=5, ge=1, le=100)
    failure_window_minutes: int = Field(default=15, ge=1, le=1440)
    lockout_minutes: int = Field(default=15, ge=1, le=1440)
    max_lockout_hours: int = Field(default=24, ge=1, le=720)
    password_reset_ttl_minutes: int = Field(default=30, ge=5, le=1440)
    # The frontend page that takes ?token=...; the emailed link points there.
    password_reset_url: str = "http://127.0.0.1:8000/reset-password"
    invitation_ttl_days: int = Field(default=7, ge=1, le=90)
    # The frontend page that takes ?token=... to accept an invitation.
    invitation_url: str = "http://127.0.0.1:8000/accept-invitation"
    # Lifetime of the internal access token minted for an API key at the gateway.
    api_key_token_ttl_seconds: int = Field(default=300, ge=30, le=3600)
    mfa_challenge_ttl_seconds: int = Field(default=300, ge=30, le=1800)
    # The issuer shown in authenticator apps.
    totp_issuer: str = "CRM"
