"""Bodies of the users, invitations and tenant endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from crm_gateway.schemas import ApiModel

Role = Literal["owner", "admin", "member", "viewer"]
TenantStatus = Literal["active", "cancelled", "pending_deletion"]


class User(ApiModel):
    id: str = Field(examples=["7d1c5d0e-8d6b-4c39-9a8c-2f4a0f7b9e11"])
    name: str = Field(examples=["Grace Hopper"])
    email: str = Field(examples=["grace@acme.example"])
    phone: str | None = Field(description="E.164, when known", examples=["+14155550123"])
    role: Role = Field(examples=["member"])
    status: Literal["active", "deactivated"] = Field(examples=["active"])
    mfa_enabled: bool = Field(examples=[False])
    locked_until: datetime | None = Field(
        description="Set while too many failed logins keep the account locked"
    )
    created_at: datetime


class UserList(ApiModel):
    data: list[User]


class RoleChange(ApiModel):
    role: Role = Field(
        description="Only an owner may grant or remove the owner role", examples=["admin"]
    )


class InvitationCreate(ApiModel):
    email: str = Field(min_length=3, max_length=320, examples=["grace@acme.example"])
    role: Role = Field(examples=["member"])
    name: str = Field(default="", max_length=200, examples=["Grace Hopper"])


class Invitation(ApiModel):
    id: str = Field(examples=["2b8e7f5a-31c4-4d0e-b8a1-6f0c2d9e4a77"])
    email: str = Field(examples=["grace@acme.example"])
    role: Role = Field(examples=["member"])
    status: Literal["pending", "accepted", "revoked", "expired"] = Field(examples=["pending"])
    expires_at: datetime
    invited_by: str | None = Field(description="The user who sent it")
    created_at: datetime


class InvitationList(ApiModel):
    data: list[Invitation]


class InvitationAcceptance(ApiModel):
    token: str = Field(min_length=1, max_length=200, description="From the emailed link")
    password: str = Field(min_length=8, max_length=200, examples=["correct horse battery"])
    name: str = Field(
        default="",
        max_length=200,
        description="Defaults to the name the invitation was sent with",
        examples=["Grace Hopper"],
    )
    age_attested: Literal[True] = Field(
        description="The person attests being 18 or older; acceptance is refused without it",
        examples=[True],
    )


class InvitationAccepted(ApiModel):
    tenant_id: str
    user_id: str


class Tenant(ApiModel):
    id: str
    name: str = Field(examples=["Acme Inc."])
    status: TenantStatus = Field(examples=["active"])
    mfa_required: bool = Field(description="Every user must log in with a second factor")
    status_changed_at: datetime


class TenantStatusChange(ApiModel):
    status: TenantStatus = Field(
        description="An owner may cancel (`cancelled`) and reactivate (`active`); "
        "`pending_deletion` is set by the platform 30 days after cancellation",
        examples=["cancelled"],
    )
