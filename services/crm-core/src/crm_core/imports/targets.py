"""What an import can write for each object type: its standard columns (each with the
same cleaner the API uses), the natural keys rows match on, and the synonyms a header
is recognised by."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from crm_core.companies.schemas import clean_industry, normalize_domain
from crm_core.companies.schemas import clean_name as clean_company_name_field
from crm_core.contacts.schemas import clean_email, clean_name, clean_phone
from crm_core.custom_fields.field_types import normalize_phone
from crm_core.deals.schemas import clean_close_date, clean_currency
from crm_core.deals.schemas import clean_name as clean_deal_name
from crm_core.leads.schemas import clean_company_name, clean_source, clean_status
from crm_core.records.external_ids import EXTERNAL_ID, clean_external_id
from crm_kit.errors import InvalidArgument

AMOUNT_MAX = 2**63 - 1

Cleaner = Callable[[str], str]


def clean_amount_text(value: str) -> str:
    text = value.strip().replace("_", "")
    if not text.isdigit() or int(text) > AMOUNT_MAX:
        raise InvalidArgument(
            "amount_minor is a whole number of minor units, 0 or more",
            code="invalid_amount",
            field="amount_minor",
        )
    return str(int(text))


def clean_date_text(value: str) -> str:
    found = clean_close_date(value.strip())
    return found.isoformat() if found else ""


@dataclass(frozen=True)
class ImportTarget:
    """One object type as an import sees it. Every standard column is text in the staging
    table; `sql_types` casts the few that are not text in the real table."""

    name: str
    table: str
    fields: dict[str, Cleaner]
    # Header spellings (normalized: lowercase letters and digits only) per field.
    synonyms: dict[str, tuple[str, ...]]
    # Natural keys besides external_id and unique custom fields: field -> SQL on the table.
    keys: dict[str, str]
    # At least one of these must be non-empty on a created record.
    needs_one_of: tuple[str, ...]
    needs_message: str
    # Column values a created record gets when its cell is empty or unmapped.
    create_defaults: dict[str, str] = field(default_factory=dict)
    sql_types: dict[str, str] = field(default_factory=dict)
    # Columns computed from a field: (column, source field, function).
    derived: tuple[tuple[str, str, Callable[[str], str]], ...] = ()
    # Fields a created record must have, besides `needs_one_of`.
    required: tuple[str, ...] = ()


def _e164(phone: str) -> str:
    return normalize_phone(phone) or ""


_NAME_SYNONYMS = {
    "first_name": ("firstname", "first", "givenname", "forename", "vorname", "prenom"),
    "last_name": ("lastname", "last", "surname", "familyname", "nachname", "nom"),
    "email": ("email", "emailaddress", "mail", "emailadresse", "courriel", "workemail"),
    "phone": ("phone", "phonenumber", "telephone", "tel", "mobile", "mobilephone", "cell"),
}
_EXTERNAL_SYNONYMS = ("externalid", "extid", "sourceid", "crmid", "recordid")

CONTACTS = ImportTarget(
    name="contacts",
    table="contacts",
    fields={
        "first_name": lambda v: clean_name(v, "first_name"),
        "last_name": lambda v: clean_name(v, "last_name"),
        "email": clean_email,
        "phone": clean_phone,
        EXTERNAL_ID: clean_external_id,
    },
    synonyms={**_NAME_SYNONYMS, EXTERNAL_ID: _EXTERNAL_SYNONYMS},
    keys={"email": "lower(email)"},
    needs_one_of=("first_name", "last_name", "email"),
    needs_message="a contact needs a first name, a last name or an email",
    derived=(("phone_e164", "phone", _e164),),
)

COMPANIES = ImportTarget(
    name="companies",
    table="companies",
    fields={
        "name": clean_company_name_field,
        "domain": normalize_domain,
        "industry": clean_industry,
        EXTERNAL_ID: clean_external_id,
    },
    synonyms={
        "name": ("name", "companyname", "company", "organization", "organisation", "account"),
        "domain": ("domain", "website", "web", "url", "companydomain", "site"),
        "industry": ("industry", "sector", "branche"),
        EXTERNAL_ID: _EXTERNAL_SYNONYMS,
    },
    keys={"domain": "domain"},
    needs_one_of=("name",),
    needs_message="a company needs a name",
)

LEADS = ImportTarget(
    name="leads",
    table="leads",
    fields={
        "first_name": lambda v: clean_name(v, "first_name"),
        "last_name": lambda v: clean_name(v, "last_name"),
        "email": clean_email,
        "phone": clean_phone,
        "company_name": clean_company_name,
        "domain": normalize_domain,
        "source": clean_source,
        "status": clean_status,
        EXTERNAL_ID: clean_external_id,
    },
    synonyms={
        **_NAME_SYNONYMS,
        "company_name": ("company", "companyname", "organization", "organisation", "account"),
        "domain": ("domain", "website", "web", "url"),
        "source": ("source", "leadsource", "channel"),
        "status": ("status", "leadstatus", "stage"),
        EXTERNAL_ID: _EXTERNAL_SYNONYMS,
    },
    keys={"email": "lower(email)"},
    needs_one_of=("first_name", "last_name", "email", "company_name"),
    needs_message="a lead needs a name, an email or a company name",
    create_defaults={"source": "import", "status": "new"},
)

DEALS = ImportTarget(
    name="deals",
    table="deals",
    fields={
        "name": clean_deal_name,
        "amount_minor": clean_amount_text,
        "currency": clean_currency,
        "expected_close_date": clean_date_text,
        EXTERNAL_ID: clean_external_id,
    },
    synonyms={
        "name": ("name", "dealname", "deal", "title", "opportunity"),
        "amount_minor": ("amountminor", "amountcents", "amountinminorunits", "amount"),
        "currency": ("currency", "currencycode"),
        "expected_close_date": ("expectedclosedate", "closedate", "closingdate"),
        EXTERNAL_ID: _EXTERNAL_SYNONYMS,
    },
    keys={},
    needs_one_of=("name",),
    needs_message="a deal needs a name",
    create_defaults={"amount_minor": "0"},
    sql_types={"amount_minor": "bigint", "expected_close_date": "date"},
    required=("currency",),
)

TARGETS: dict[str, ImportTarget] = {t.name: t for t in (CONTACTS, COMPANIES, LEADS, DEALS)}


def import_target(name: str) -> ImportTarget:
    target = TARGETS.get(name)
    if target is None:
        raise InvalidArgument(
            f"object_type is one of {', '.join(TARGETS)}",
            code="unknown_object_type",
            field="object_type",
        )
    return target
