"""Identity's tables, one entity a module; importing this package registers them all."""

from crm_identity.models.api_key import ApiKey
from crm_identity.models.base import Base, OutboxRecord, ProcessedEvent
from crm_identity.models.invitation import Invitation
from crm_identity.models.mfa import MfaChallenge, RecoveryCode
from crm_identity.models.password_reset_token import PasswordResetToken
from crm_identity.models.refresh_token import RefreshToken
from crm_identity.models.signing_key import SigningKey
from crm_identity.models.tenant import Tenant
from crm_identity.models.user import User
from crm_identity.models.user_session import UserSession

__all__ = [
    "ApiKey",
    "Base",
    "Invitation",
    "MfaChallenge",
    "OutboxRecord",
    "PasswordResetToken",
    "ProcessedEvent",
    "RecoveryCode",
    "RefreshToken",
    "SigningKey",
    "Tenant",
    "User",
    "UserSession",
]
