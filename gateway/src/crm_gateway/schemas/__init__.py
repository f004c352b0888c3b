"""The public API's request and response bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from crm_gateway.schemas.external_ids import ExternalId, ExternalIdChange, ExternalIdInput


def _text_problem(value: object) -> str | None:
    """Why a (possibly nested) value cannot travel on: NUL bytes, which PostgreSQL text
    refuses, or lone UTF-16 surrogates (JSON may escape them, `"\\ud800"`), which are
    not Unicode text and which protobuf cannot encode."""
    if isinstance(value, str):
        if "\x00" in value:
            return "must not contain NUL characters"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "must be valid Unicode text (no lone surrogates)"
        return None
    if isinstance(value, dict):
        value = [*value.keys(), *value.values()]
    if isinstance(value, list | tuple):
        return next((p for p in map(_text_problem, value) if p is not None), None)
    return None


class ApiModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _valid_text(cls, value: object) -> object:
        problem = _text_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value


class SignupRequest(ApiModel):
    organization_name: str = Field(min_length=1, max_length=200, examples=["Acme Inc."])
    owner_name: str = Field(min_length=1, max_length=200, examples=["Ada Lovelace"])
    email: str = Field(min_length=3, max_length=320, examples=["ada@acme.example"])
    password: str = Field(min_length=8, max_length=200, examples=["correct horse battery"])
    phone: str | None = Field(
        default=None,
        max_length=32,
        description="Optional, in E.164 form",
        examples=["+14155550123"],
    )
    age_attested: Literal[True] = Field(
        description="The owner attests being 18 or older; signup is refused without it",
        examples=[True],
    )


class LoginRequest(ApiModel):
    email: str = Field(min_length=1, max_length=320, examples=["ada@acme.example"])
    password: str = Field(min_length=1, max_length=200)
    tenant_id: str | None = Field(
        default=None,
        description="The organization, needed when the email belongs to several: without "
        "it such a login fails like a wrong password, revealing nothing",
    )


class RefreshRequest(ApiModel):
    refresh_token: str = Field(min_length=1, max_length=200)


class LogoutRequest(ApiModel):
    refresh_token: str = Field(min_length=1, max_length=200)


class PasswordResetRequest(ApiModel):
    email: str = Field(min_length=1, max_length=320, examples=["ada@acme.example"])


class PasswordResetConfirm(ApiModel):
    token: str = Field(min_length=1, max_length=200, description="From the emailed link")
    new_password: str = Field(min_length=1, max_length=200)


class PasswordChange(ApiModel):
    current_password: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=1, max_length=200)


class Session(ApiModel):
    id: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    ip: str
    user_agent: str
    current: bool = Field(description="The session of the access token making this call")


class SessionList(ApiModel):
    data: list[Session]


class TokenResponse(ApiModel):
    access_token: str
    token_type: str = "Bearer"
    expires_in: int = Field(description="Seconds until the access token expires")
    refresh_token: str
    tenant_id: str
    user_id: str
    mfa_required: Literal[False] = Field(
        default=False, description="False: these are tokens, not a second-factor challenge"
    )


class ContactCreate(ApiModel):
    first_name: str = Field(default="", max_length=200, examples=["Grace"])
    last_name: str = Field(default="", max_length=200, examples=["Hopper"])
    email: str = Field(default="", max_length=320, examples=["grace@navy.example"])
    phone: str = Field(default="", max_length=50, examples=["+1 555 0100"])
    owner_id: str | None = Field(default=None, description="Defaults to the caller")
    custom_fields: dict[str, Any] = Field(
        default_factory=dict, description="Values of the tenant's custom fields by key"
    )
    company_ids: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="The companies the contact works at; the first is the primary one",
    )
    allow_duplicate: bool = Field(
        default=False,
        description="Create even when a contact with the same email (any case) or phone "
        "(E.164) exists (else 409 with the candidates)",
    )
    external_id: ExternalIdInput = ""


class ContactUpdate(ApiModel):
    """Only the fields present are changed; an empty string clears a field."""

    first_name: str | None = Field(default=None, max_length=200)
    last_name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=50)
    owner_id: str | None = None
    custom_fields: dict[str, Any] | None = Field(
        default=None, description="Keys present are set; a key set to null is cleared"
    )
    company_ids: list[str] | None = Field(
        default=None, max_length=50, description="Present: the contact's companies become these"
    )
    allow_duplicate: bool = Field(
        default=False,
        description="Save even when another contact has the changed email (any case) or "
        "phone (E.164) (else 409 with the candidates)",
    )
    external_id: ExternalIdChange = None


class Contact(ApiModel):
    id: str
    first_name: str
    last_name: str
    email: str
    phone: str
    owner_id: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    created_by: str | None
    updated_by: str | None
    custom_fields: dict[str, Any] = Field(default_factory=dict)
    company_ids: list[str] = Field(default_factory=list, description="The primary first")
    external_id: ExternalId = None


class ContactList(ApiModel):
    data: list[Contact]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end"
    )


class Stage(ApiModel):
    id: str
    name: str
    position: int
    probability: int = Field(description="Win probability in percent")
    kind: str = Field(
        default="open", description="open, won or lost: deals entering it take this status"
    )


class Pipeline(ApiModel):
    id: str
    name: str
    is_default: bool
    stages: list[Stage]


class PipelineList(ApiModel):
    data: list[Pipeline]


class FieldError(BaseModel):
    field: str
    message: str
    code: str


class ProblemDetails(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    instance: str
    request_id: str
    errors: list[FieldError] | None = None
    candidates: list[str] | None = Field(
        default=None, description="On a duplicate (409): the ids of the existing records"
    )
    survivor_id: str | None = Field(
        default=None, description="On a merged record (404 `merged`): the record it became"
    )
    survivor_url: str | None = Field(
        default=None, description="On a merged record (404 `merged`): where the survivor is"
    )
