"""Contact inputs, validated here so every transport gets the same rules."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from email_validator import EmailNotValidError, validate_email

from crm_core.records.external_ids import external_id_value
from crm_kit.errors import InvalidArgument
from crm_kit.validation import clean_text

NAME_MAX = 200
PHONE_MAX = 50
CONTACT_FIELDS = ("first_name", "last_name", "email", "phone", "owner_id", "external_id")


def clean_name(value: str, field_name: str) -> str:
    return clean_text(value, field=field_name, max_length=NAME_MAX)


def clean_email(value: str) -> str:
    value = clean_text(value, field="email", max_length=320)
    if not value:
        return ""
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise InvalidArgument(str(exc), code="invalid_email", field="email") from exc


def clean_phone(value: str) -> str:
    value = value.strip()
    if len(value) > PHONE_MAX or any(c not in "+0123456789 ()-." for c in value):
        raise InvalidArgument("phone is not a phone number", code="invalid_phone", field="phone")
    return value


@dataclass(frozen=True)
class ContactCreate:
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    phone: str = ""
    owner_id: uuid.UUID | None = None
    custom_fields: dict[str, Any] = field(default_factory=dict)
    # The first is the primary company.
    company_ids: list[uuid.UUID] = field(default_factory=list)
    allow_duplicate: bool = False
    # The contact's id in another system; empty for none.
    external_id: str = ""

    def cleaned(self) -> ContactCreate:
        created = ContactCreate(
            first_name=clean_name(self.first_name, "first_name"),
            last_name=clean_name(self.last_name, "last_name"),
            email=clean_email(self.email),
            phone=clean_phone(self.phone),
            owner_id=self.owner_id,
            custom_fields=self.custom_fields,
            company_ids=self.company_ids,
            allow_duplicate=self.allow_duplicate,
            external_id=external_id_value(self.external_id) or "",
        )
        if not (created.first_name or created.last_name or created.email):
            raise InvalidArgument(
                "a contact needs a first name, a last name or an email",
                code="required",
                field="first_name",
            )
        return created


@dataclass(frozen=True)
class ContactUpdate:
    """Only the fields in `changes` are touched; custom values merge (None clears a key);
    `company_ids`, when not None, replaces the contact's companies."""

    changes: dict[str, object] = field(default_factory=dict)
    expected_version: int | None = None
    custom_fields: dict[str, Any] = field(default_factory=dict)
    company_ids: list[uuid.UUID] | None = None
    # Save even when the changed email or phone is another contact's.
    allow_duplicate: bool = False

    def cleaned(self) -> dict[str, object]:
        cleaners: dict[str, Callable[[object], object]] = {
            "first_name": lambda v: clean_name(str(v), "first_name"),
            "last_name": lambda v: clean_name(str(v), "last_name"),
            "email": lambda v: clean_email(str(v)),
            "phone": lambda v: clean_phone(str(v)),
            "owner_id": lambda v: v,
            "external_id": lambda v: external_id_value(str(v)),
        }
        unknown = set(self.changes) - set(cleaners)
        if unknown:
            raise InvalidArgument(f"unknown fields: {sorted(unknown)}", code="unknown_field")
        return {name: cleaners[name](value) for name, value in self.changes.items()}
