"""Each object type's standard fields and links, declared once.

The filter compiler, the sorter and cursor, custom-field validation and full-text
search read these declarations, so a new object type is a new entry here rather than
a copy of the query code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import InstrumentedAttribute, aliased

from crm_core.models import Company, Contact, ContactCompany, Deal, DealContact, Lead
from crm_core.timeline.field_history import track_field_changes
from crm_core.timeline.record_deletion import apply_deletion_rules
from crm_kit.errors import InvalidArgument


class ValueKind(StrEnum):
    """How a field's values compare: decides the operators and the SQL cast."""

    TEXT = "text"
    UUID = "uuid"
    NUMBER = "number"
    DATE = "date"
    DATETIME = "datetime"
    BOOLEAN = "boolean"
    MULTI = "multi"  # a set of strings (multi select)


@dataclass(frozen=True)
class StandardField:
    name: str
    kind: ValueKind
    column: InstrumentedAttribute[Any]
    filterable: bool = True
    sortable: bool = True


@dataclass(frozen=True)
class LinkSpec:
    """Records of `target` linked through a link table (`contacts` -> `companies`)."""

    name: str
    target: str
    link_model: type[Any]
    local_key: InstrumentedAttribute[Any]
    remote_key: InstrumentedAttribute[Any]


@dataclass(frozen=True)
class ObjectSpec:
    name: str
    model: type[Any]
    fields: dict[str, StandardField]
    links: dict[str, LinkSpec] = field(default_factory=dict)

    @property
    def id_column(self) -> InstrumentedAttribute[Any]:
        return self.fields["id"].column

    @property
    def custom_fields_column(self) -> InstrumentedAttribute[Any]:
        column: InstrumentedAttribute[Any] = self.model.custom_fields
        return column


def _fields(*items: StandardField) -> dict[str, StandardField]:
    return {item.name: item for item in items}


def _common_fields(model: Any) -> tuple[StandardField, ...]:
    return (
        # The id in another system: `external_id eq X` is one probe of the partial
        # unique index (tenant_id, external_id); NULL when none, so is_empty holds.
        StandardField("external_id", ValueKind.TEXT, model.external_id),
        StandardField("id", ValueKind.UUID, model.id),
        StandardField("owner_id", ValueKind.UUID, model.owner_id),
        StandardField("created_by", ValueKind.UUID, model.created_by),
        StandardField("updated_by", ValueKind.UUID, model.updated_by),
        StandardField("version", ValueKind.NUMBER, model.version),
        StandardField("created_at", ValueKind.DATETIME, model.created_at),
        StandardField("updated_at", ValueKind.DATETIME, model.updated_at),
    )


CONTACTS = ObjectSpec(
    name="contacts",
    model=Contact,
    fields=_fields(
        StandardField("first_name", ValueKind.TEXT, Contact.first_name),
        StandardField("last_name", ValueKind.TEXT, Contact.last_name),
        StandardField("email", ValueKind.TEXT, Contact.email),
        StandardField("phone", ValueKind.TEXT, Contact.phone),
        *_common_fields(Contact),
    ),
    links={
        "companies": LinkSpec(
            name="companies",
            target="companies",
            link_model=ContactCompany,
            local_key=ContactCompany.contact_id,
            remote_key=ContactCompany.company_id,
        )
    },
)

COMPANIES = ObjectSpec(
    name="companies",
    model=Company,
    fields=_fields(
        StandardField("name", ValueKind.TEXT, Company.name),
        StandardField("domain", ValueKind.TEXT, Company.domain),
        StandardField("industry", ValueKind.TEXT, Company.industry),
        *_common_fields(Company),
    ),
    links={
        "contacts": LinkSpec(
            name="contacts",
            target="contacts",
            link_model=ContactCompany,
            local_key=ContactCompany.company_id,
            remote_key=ContactCompany.contact_id,
        )
    },
)

LEADS = ObjectSpec(
    name="leads",
    model=Lead,
    fields=_fields(
        StandardField("first_name", ValueKind.TEXT, Lead.first_name),
        StandardField("last_name", ValueKind.TEXT, Lead.last_name),
        StandardField("email", ValueKind.TEXT, Lead.email),
        StandardField("phone", ValueKind.TEXT, Lead.phone),
        StandardField("company_name", ValueKind.TEXT, Lead.company_name),
        StandardField("domain", ValueKind.TEXT, Lead.domain),
        StandardField("source", ValueKind.TEXT, Lead.source),
        StandardField("status", ValueKind.TEXT, Lead.status),
        StandardField("converted_at", ValueKind.DATETIME, Lead.converted_at),
        StandardField("converted_contact_id", ValueKind.UUID, Lead.converted_contact_id),
        StandardField("converted_company_id", ValueKind.UUID, Lead.converted_company_id),
        StandardField("converted_deal_id", ValueKind.UUID, Lead.converted_deal_id),
        # First-touch attribution from capture forms.
        StandardField("utm_source", ValueKind.TEXT, Lead.utm_source),
        StandardField("utm_medium", ValueKind.TEXT, Lead.utm_medium),
        StandardField("utm_campaign", ValueKind.TEXT, Lead.utm_campaign),
        StandardField("utm_term", ValueKind.TEXT, Lead.utm_term),
        StandardField("utm_content", ValueKind.TEXT, Lead.utm_content),
        StandardField("referrer", ValueKind.TEXT, Lead.referrer),
        StandardField("landing_url", ValueKind.TEXT, Lead.landing_url),
        StandardField("capture_form_id", ValueKind.UUID, Lead.capture_form_id),
        *_common_fields(Lead),
    ),
)

# A deal's company is a column, not a link table: the link "table" is the deals table
# itself, aliased, so `company.industry` compiles to the same EXISTS as `companies.x`.
_DEAL_SELF = aliased(Deal)

DEALS = ObjectSpec(
    name="deals",
    model=Deal,
    fields=_fields(
        StandardField("name", ValueKind.TEXT, Deal.name),
        StandardField("amount_minor", ValueKind.NUMBER, Deal.amount_minor),
        StandardField("currency", ValueKind.TEXT, Deal.currency),
        StandardField("expected_close_date", ValueKind.DATE, Deal.expected_close_date),
        StandardField("pipeline_id", ValueKind.UUID, Deal.pipeline_id),
        StandardField("stage_id", ValueKind.UUID, Deal.stage_id),
        StandardField("probability", ValueKind.NUMBER, Deal.probability),
        StandardField("status", ValueKind.TEXT, Deal.status),
        StandardField("stage_entered_at", ValueKind.DATETIME, Deal.stage_entered_at),
        StandardField("company_id", ValueKind.UUID, Deal.company_id),
        *_common_fields(Deal),
    ),
    links={
        "company": LinkSpec(
            name="company",
            target="companies",
            link_model=_DEAL_SELF,
            local_key=_DEAL_SELF.id,
            remote_key=_DEAL_SELF.company_id,
        ),
        "contacts": LinkSpec(
            name="contacts",
            target="contacts",
            link_model=DealContact,
            local_key=DealContact.deal_id,
            remote_key=DealContact.contact_id,
        ),
    },
)

OBJECT_TYPES: dict[str, ObjectSpec] = {
    spec.name: spec for spec in (CONTACTS, COMPANIES, LEADS, DEALS)
}

# Every record's updates go to its timeline, and deleting it applies the deletion
# rules to its notes, tasks, activities, tags and history (one hook per type).
track_field_changes(OBJECT_TYPES.values())
apply_deletion_rules(OBJECT_TYPES.values())


def object_spec(name: str, *, field_name: str = "object_type") -> ObjectSpec:
    """The spec of an object type; an unknown name is a clear InvalidArgument."""
    spec = OBJECT_TYPES.get(name)
    if spec is None:
        raise InvalidArgument(
            f"unknown object type {name!r}; known: {', '.join(OBJECT_TYPES)}",
            code="unknown_object_type",
            field=field_name,
        )
    return spec
