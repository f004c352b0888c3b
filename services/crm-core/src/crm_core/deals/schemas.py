"""Deal inputs, validated here so every transport gets the same rules."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from crm_core.custom_fields.currencies import ISO_4217_CODES
from crm_core.models.deal import DEAL_STATUSES
from crm_core.pipelines.schemas import clean_probability
from crm_core.records.external_ids import external_id_value
from crm_kit.errors import InvalidArgument
from crm_kit.validation import clean_text

NAME_MAX = 200
AMOUNT_MAX = 2**63 - 1
DEAL_FIELDS = (
    "name",
    "amount_minor",
    "currency",
    "expected_close_date",
    "owner_id",
    "probability",
    "status",
    "company_id",
    "external_id",
)


def clean_name(value: str) -> str:
    return clean_text(value, field="name", max_length=NAME_MAX, required=True)


def clean_amount(value: int, *, field_name: str = "amount_minor") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= AMOUNT_MAX:
        raise InvalidArgument(
            "amount_minor is a whole number of minor units, 0 or more",
            code="invalid_amount",
            field=field_name,
        )
    return value


def clean_currency(value: str, *, field_name: str = "currency") -> str:
    code = value.strip().upper()
    if code not in ISO_4217_CODES:
        raise InvalidArgument(
            "currency must be an ISO 4217 code", code="invalid_currency", field=field_name
        )
    return code


def clean_close_date(value: str, *, field_name: str = "expected_close_date") -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidArgument(
            "expected_close_date is YYYY-MM-DD", code="invalid_date", field=field_name
        ) from exc


def clean_status(value: str) -> str:
    if value not in DEAL_STATUSES:
        raise InvalidArgument(
            f"status is one of {', '.join(DEAL_STATUSES)}", code="invalid_status", field="status"
        )
    return value


@dataclass(frozen=True)
class DealCreate:
    name: str
    currency: str
    amount_minor: int = 0
    expected_close_date: str = ""
    owner_id: uuid.UUID | None = None
    pipeline_id: uuid.UUID | None = None
    stage_id: uuid.UUID | None = None
    probability: int | None = None
    company_id: uuid.UUID | None = None
    contact_ids: list[uuid.UUID] = field(default_factory=list)
    custom_fields: dict[str, Any] = field(default_factory=dict)
    # The deal's id in another system; empty for none.
    external_id: str = ""


@dataclass(frozen=True)
class CleanDeal:
    name: str
    currency: str
    amount_minor: int
    expected_close_date: date | None
    probability: int | None
    external_id: str | None


def cleaned_create(data: DealCreate) -> CleanDeal:
    return CleanDeal(
        name=clean_name(data.name),
        currency=clean_currency(data.currency),
        amount_minor=clean_amount(data.amount_minor),
        expected_close_date=clean_close_date(data.expected_close_date),
        probability=None if data.probability is None else clean_probability(data.probability),
        external_id=external_id_value(data.external_id),
    )


@dataclass(frozen=True)
class DealUpdate:
    """Only the fields in `changes` are touched; custom values merge (None clears a key);
    `stage_id` moves the deal; `contact_ids`, when not None, replaces its contacts."""

    changes: dict[str, object] = field(default_factory=dict)
    stage_id: uuid.UUID | None = None
    contact_ids: list[uuid.UUID] | None = None
    custom_fields: dict[str, Any] = field(default_factory=dict)
    expected_version: int | None = None

    def cleaned(self) -> dict[str, object]:
        cleaners: dict[str, Callable[[Any], object]] = {
            "name": lambda v: clean_name(str(v)),
            "amount_minor": clean_amount,
            "currency": lambda v: clean_currency(str(v)),
            "expected_close_date": lambda v: clean_close_date(str(v)),
            "owner_id": lambda v: v,
            "probability": clean_probability,
            "status": lambda v: clean_status(str(v)),
            "company_id": lambda v: v,
            "external_id": lambda v: external_id_value(str(v)),
        }
        unknown = set(self.changes) - set(cleaners)
        if unknown:
            raise InvalidArgument(f"unknown fields: {sorted(unknown)}", code="unknown_field")
        return {name: cleaners[name](value) for name, value in self.changes.items()}
