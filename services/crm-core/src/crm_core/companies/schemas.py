"""Company inputs, validated here so every transport gets the same rules."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from crm_core.records.external_ids import external_id_value
from crm_kit.errors import InvalidArgument
from crm_kit.validation import clean_text

NAME_MAX = 200
INDUSTRY_MAX = 100
DOMAIN_MAX = 253
COMPANY_FIELDS = ("name", "domain", "industry", "owner_id", "external_id")
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


def normalize_domain(value: str) -> str:
    """`https://www.Acme.com/about` -> `acme.com`; empty stays empty."""
    text = clean_text(value, field="domain", max_length=2048).lower()
    if not text:
        return ""
    host = urlsplit(text if "//" in text else f"//{text}").hostname or ""
    host = host.removeprefix("www.").rstrip(".")
    labels = host.split(".")
    if len(host) > DOMAIN_MAX or len(labels) < 2 or not all(_LABEL.fullmatch(p) for p in labels):
        raise InvalidArgument("domain is not a domain name", code="invalid_domain", field="domain")
    return host


def clean_name(value: str) -> str:
    return clean_text(value, field="name", max_length=NAME_MAX, required=True)


def clean_industry(value: str) -> str:
    return clean_text(value, field="industry", max_length=INDUSTRY_MAX)


@dataclass(frozen=True)
class CompanyCreate:
    name: str
    domain: str = ""
    industry: str = ""
    owner_id: uuid.UUID | None = None
    custom_fields: dict[str, Any] = field(default_factory=dict)
    allow_duplicate: bool = False
    # The company's id in another system; empty for none.
    external_id: str = ""

    def cleaned(self) -> CompanyCreate:
        return CompanyCreate(
            name=clean_name(self.name),
            domain=normalize_domain(self.domain),
            industry=clean_industry(self.industry),
            owner_id=self.owner_id,
            custom_fields=self.custom_fields,
            allow_duplicate=self.allow_duplicate,
            external_id=external_id_value(self.external_id) or "",
        )


@dataclass(frozen=True)
class CompanyUpdate:
    """Only the fields in `changes` are touched; custom values merge (None clears a key)."""

    changes: dict[str, object] = field(default_factory=dict)
    custom_fields: dict[str, Any] = field(default_factory=dict)
    expected_version: int | None = None
    # Save even when the changed domain is another company's.
    allow_duplicate: bool = False

    def cleaned(self) -> dict[str, object]:
        cleaners: dict[str, Callable[[object], object]] = {
            "name": lambda v: clean_name(str(v)),
            "domain": lambda v: normalize_domain(str(v)),
            "industry": lambda v: clean_industry(str(v)),
            "owner_id": lambda v: v,
            "external_id": lambda v: external_id_value(str(v)),
        }
        unknown = set(self.changes) - set(cleaners)
        if unknown:
            raise InvalidArgument(f"unknown fields: {sorted(unknown)}", code="unknown_field")
        return {name: cleaners[name](value) for name, value in self.changes.items()}
