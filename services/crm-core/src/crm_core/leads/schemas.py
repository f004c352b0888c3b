"""Lead inputs, validated here so every transport gets the same rules."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from crm_core.companies.schemas import normalize_domain
from crm_core.contacts.schemas import clean_email, clean_name, clean_phone
from crm_core.deals.schemas import DealCreate
from crm_core.models.lead import LEAD_SOURCES, LEAD_STATUSES
from crm_core.records.external_ids import external_id_value
from crm_kit.errors import InvalidArgument
from crm_kit.validation import clean_text

COMPANY_NAME_MAX = 200
LEAD_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "company_name",
    "domain",
    "source",
    "status",
    "owner_id",
    "external_id",
)
# Conversion sets this status; a write cannot.
CONVERTED = "converted"


def clean_source(value: str) -> str:
    source = value or "manual"
    if source not in LEAD_SOURCES:
        raise InvalidArgument(
            f"source is one of {', '.join(LEAD_SOURCES)}", code="invalid_source", field="source"
        )
    return source


def clean_status(value: str) -> str:
    status = value or "new"
    if status not in LEAD_STATUSES or status == CONVERTED:
        allowed = ", ".join(s for s in LEAD_STATUSES if s != CONVERTED)
        raise InvalidArgument(
            f"status is one of {allowed} (converting a lead sets converted)",
            code="invalid_status",
            field="status",
        )
    return status


def clean_company_name(value: str) -> str:
    return clean_text(value, field="company_name", max_length=COMPANY_NAME_MAX)


CLEANERS: dict[str, Callable[[Any], object]] = {
    "first_name": lambda v: clean_name(str(v), "first_name"),
    "last_name": lambda v: clean_name(str(v), "last_name"),
    "email": lambda v: clean_email(str(v)),
    "phone": lambda v: clean_phone(str(v)),
    "company_name": lambda v: clean_company_name(str(v)),
    "domain": lambda v: normalize_domain(str(v)),
    "source": lambda v: clean_source(str(v)),
    "status": lambda v: clean_status(str(v)),
    "owner_id": lambda v: v,
    "external_id": lambda v: external_id_value(str(v)),
}


@dataclass(frozen=True)
class LeadCreate:
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    phone: str = ""
    company_name: str = ""
    domain: str = ""
    source: str = ""
    status: str = ""
    owner_id: uuid.UUID | None = None
    custom_fields: dict[str, Any] = field(default_factory=dict)
    # The lead's id in another system; empty for none.
    external_id: str = ""

    def cleaned(self) -> dict[str, Any]:
        values = {name: CLEANERS[name](getattr(self, name)) for name in LEAD_FIELDS}
        if not any(values[n] for n in ("first_name", "last_name", "email", "company_name")):
            raise InvalidArgument(
                "a lead needs a name, an email or a company name",
                code="required",
                field="first_name",
            )
        return values


@dataclass(frozen=True)
class LeadUpdate:
    """Only the fields in `changes` are touched; custom values merge (None clears a key)."""

    changes: dict[str, object] = field(default_factory=dict)
    custom_fields: dict[str, Any] = field(default_factory=dict)
    expected_version: int | None = None

    def cleaned(self) -> dict[str, object]:
        unknown = set(self.changes) - set(CLEANERS)
        if unknown:
            raise InvalidArgument(f"unknown fields: {sorted(unknown)}", code="unknown_field")
        return {name: CLEANERS[name](value) for name, value in self.changes.items()}


@dataclass(frozen=True)
class ConvertDeal:
    """The deal a conversion creates; an empty name takes the company's or lead's name."""

    currency: str
    name: str = ""
    amount_minor: int = 0
    pipeline_id: uuid.UUID | None = None
    stage_id: uuid.UUID | None = None
    expected_close_date: str = ""

    def as_create(
        self,
        *,
        name: str,
        owner_id: uuid.UUID | None,
        company_id: uuid.UUID | None,
        contact_id: uuid.UUID,
    ) -> DealCreate:
        return DealCreate(
            name=self.name or name,
            currency=self.currency,
            amount_minor=self.amount_minor,
            expected_close_date=self.expected_close_date,
            owner_id=owner_id,
            pipeline_id=self.pipeline_id,
            stage_id=self.stage_id,
            company_id=company_id,
            contact_ids=[contact_id],
        )


@dataclass(frozen=True)
class LeadConversion:
    create_company: bool = False
    deal: ConvertDeal | None = None
    owner_id: uuid.UUID | None = None
    expected_version: int | None = None
