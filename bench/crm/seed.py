"""Contacts by the hundred thousand in seconds: generated from a fixed random seed and
copied straight into crm-core's tables as the owner role (through the API it would take
hours). PostgreSQL fills the generated search columns and maintains every index."""

from __future__ import annotations

import json
import random
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from bench.crm.stack import TIERS
from crm_core.custom_fields.field_types import normalize_phone


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


RANDOM_SEED = 20261128
# Contacts were created over two years before this instant, oldest first.
FIRST_CREATED_AT = datetime(2024, 11, 1, tzinfo=UTC)
SPAN = timedelta(days=730)

FIRST_NAMES = _words(
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara "
    "Richard Susan Joseph Jessica Thomas Sarah Charles Karen Christopher Lisa Daniel Nancy "
    "Matthew Betty Anthony Margaret Mark Sandra Donald Ashley Steven Kimberly Paul Emily "
    "Andrew Donna Joshua Michelle Kenneth Carol Kevin Amanda Brian Dorothy George Melissa "
    "Timothy Deborah Ronald Stephanie Edward Rebecca Jason Sharon Jeffrey Laura Ryan Cynthia "
    "Jacob Kathleen Gary Amy Nicholas Angela Eric Shirley Jonathan Anna Stephen Brenda Larry "
    "Pamela Justin Emma Scott Nicole Brandon Helen Benjamin Samantha Samuel Katherine Gregory "
    "Christine Alexander Debra Frank Rachel Patrick Carolyn Raymond Janet Jack Catherine "
    "Dennis Maria Jerry Heather Tyler Diane Aaron Ruth Jose Julie Adam Olivia Nathan Joyce "
    "Henry Virginia Douglas Victoria Zachary Kelly Peter Lauren Kyle Christina Noah Joan "
    "Ethan Evelyn Jeremy Judith Walter Megan Christian Andrea Keith Cheryl Roger Hannah "
    "Terry Jacqueline Austin Martha Sean Gloria Gerald Teresa Carl Ann Harold Sara Dylan "
    "Madison Arthur Frances Lawrence Kathryn Jordan Janice Jesse Jean Bryan Abigail Billy "
    "Alice Bruce Judy Gabriel Sophia Joe Grace Logan Denise Alan Amber Juan Doris Albert "
    "Marilyn Willie Danielle Elijah Beverly Wayne Isabella Randy Theresa Vincent Diana "
    "Mason Natalie Roy Brittany Ralph Charlotte Bobby Marie Russell Kayla Bradley Alexis "
    "Philip Lori Eugene Ada Grace Aiko Chen Priya Arjun Mei Hiroshi Fatima Omar Ingrid Lars "
    "Sofia Mateo Lucia Diego Chloe Louis Amelie Felix Lea Jonas Mia Luca Giulia Marco"
)
LAST_NAMES = _words(
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez "
    "Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson "
    "White Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott "
    "Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter "
    "Roberts Gomez Phillips Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart "
    "Morris Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed "
    "Kelly Howard Ramos Kim Cox Ward Richardson Watson Brooks Chavez Wood James Bennett Gray "
    "Mendoza Ruiz Hughes Price Alvarez Castillo Sanders Patel Myers Long Ross Foster "
    "Jimenez Powell Jenkins Perry Russell Sullivan Bell Coleman Butler Henderson Barnes "
    "Fisher Vasquez Simmons Romero Jordan Patterson Alexander Hamilton Graham Reynolds "
    "Griffin Wallace Moreno West Cole Hayes Bryant Herrera Gibson Ellis Tran Medina Aguilar "
    "Stevens Murray Ford Castro Marshall Owens Harrison Fernandez McDonald Woods Washington "
    "Kennedy Wells Vargas Henry Chen Freeman Webb Tucker Guzman Burns Crawford Olson Simpson "
    "Porter Hunter Gordon Mendez Silva Shaw Snyder Mason Dixon Munoz Hunt Hicks Holmes "
    "Palmer Wagner Black Robertson Boyd Rose Stone Salazar Fox Warren Mills Meyer Rice "
    "Schmidt Garza Daniels Ferguson Nichols Stephens Soto Weaver Ryan Gardner Payne Grant "
    "Dunn Kelley Spencer Hawkins Arnold Pierce Hansen Peters Santos Hart Bradley Knight "
    "Lovelace Hopper Tanaka Suzuki Sato Yamamoto Kowalski Novak Muller Schneider Rossi "
    "Ricci Dubois Lefebvre Johansson Lindqvist Okafor Mensah Haddad Kapoor Sharma Singh"
)
EMAIL_DOMAINS = _words(
    "gmail.com outlook.com yahoo.com icloud.com proton.me fastmail.com hey.com aol.com "
    "acme.example globex.example initech.example umbrella.example hooli.example "
    "soylent.example wayne.example stark.example wonka.example tyrell.example "
    "cyberdyne.example oscorp.example massive.example gringotts.example "
    "northwind.example contoso.example fabrikam.example tailspin.example"
)
INDUSTRIES = (
    "Software",
    "Retail",
    "Biotechnology",
    "Banking",
    "Insurance",
    "Manufacturing",
    "Logistics",
    "Healthcare",
    "Education",
    "Media",
    "Telecommunications",
    "Energy",
    "Real Estate",
    "Hospitality",
    "Agriculture",
    "Automotive",
    "Aerospace",
    "Consulting",
    "Legal",
    "Non-profit",
)
COMPANY_WORDS = _words(
    "Blue Red Green North South East West Pacific Atlantic Summit River Lake Stone Iron "
    "Silver Golden Bright Clear Swift Prime Apex Vertex Nova Orbit Quantum Cedar Maple Oak "
    "Pine Harbor Bridge Beacon Pioneer Liberty Union Crown Royal Delta Sigma Alpha Omega"
)
COMPANY_SUFFIXES = ("Labs", "Systems", "Group", "Partners", "Works", "Holdings", "Co", "Inc")
AREA_CODES = (212, 213, 206, 303, 305, 312, 404, 415, 503, 512, 602, 617, 646, 702, 718, 919)
TIER_WEIGHTS = (50, 30, 15, 5)

CONTACT_COLUMNS = (
    "id",
    "tenant_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "phone_e164",
    "owner_id",
    "created_by",
    "updated_by",
    "version",
    "created_at",
    "updated_at",
    "custom_fields",
)
COMPANY_COLUMNS = (
    "id",
    "tenant_id",
    "name",
    "domain",
    "industry",
    "owner_id",
    "created_by",
    "updated_by",
    "version",
    "custom_fields",
    "created_at",
    "updated_at",
)
LINK_COLUMNS = ("contact_id", "company_id", "is_primary", "tenant_id")


@dataclass(frozen=True)
class TenantPlan:
    """How many records to seed into one tenant, created by its owner."""

    tenant_id: str
    owner_id: str
    contacts: int
    companies: int


@dataclass
class Rows:
    contacts: list[tuple[Any, ...]]
    companies: list[tuple[Any, ...]]
    links: list[tuple[Any, ...]]


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _phone(rng: random.Random) -> str:
    """A US number written the ways people write them ('' for about one in six); only
    those with +1 have an E.164 form in crm-core, as for a contact created by the API."""
    if rng.random() < 0.15:
        return ""
    area, exchange, line = rng.choice(AREA_CODES), rng.randint(201, 989), rng.randint(0, 9999)
    if exchange % 100 == 11 or exchange == 555:
        exchange += 1
    return rng.choice(
        (
            f"({area}) {exchange}-{line:04d}",
            f"{area}-{exchange}-{line:04d}",
            f"+1 {area} {exchange} {line:04d}",
            f"+1 ({area}) {exchange}-{line:04d}",
            f"+1{area}{exchange}{line:04d}",
            f"{area}{exchange}{line:04d}",
        )
    )


def _email(rng: random.Random, first: str, last: str) -> str:
    if rng.random() < 0.05:
        return ""
    local = rng.choice(
        (
            f"{first}.{last}",
            f"{first[0]}{last}",
            f"{first}_{last}{rng.randint(1, 99)}",
            f"{first}.{last}{rng.randint(1, 999)}",
        )
    )
    return f"{local}@{rng.choice(EMAIL_DOMAINS)}".lower()


def _custom_fields(rng: random.Random) -> str:
    values: dict[str, Any] = {}
    if rng.random() < 0.9:
        values["score"] = rng.randint(0, 1000)
    if rng.random() < 0.8:
        values["tier"] = rng.choices(TIERS, TIER_WEIGHTS)[0]
    return json.dumps(values)


def _companies(rng: random.Random, plan: TenantPlan) -> list[tuple[Any, ...]]:
    tenant, owner = uuid.UUID(plan.tenant_id), uuid.UUID(plan.owner_id)
    rows = []
    for n in range(plan.companies):
        name = f"{rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_WORDS)} {n}"
        created_at = FIRST_CREATED_AT + SPAN * (n / plan.companies)
        domain = f"{name.lower().replace(' ', '-')}.example"
        rows.append(
            (
                _uuid(rng),
                tenant,
                f"{name} {rng.choice(COMPANY_SUFFIXES)}",
                domain,
                rng.choice(INDUSTRIES),
                owner,
                owner,
                owner,
                1,
                "{}",
                created_at,
                created_at,
            )
        )
    return rows


def _contacts(
    rng: random.Random, plan: TenantPlan, company_ids: list[uuid.UUID], rows: Rows
) -> None:
    """Contacts oldest first; about 60% work at one company, 10% at a second one too."""
    tenant, owner = uuid.UUID(plan.tenant_id), uuid.UUID(plan.owner_id)
    step = SPAN / plan.contacts
    for n in range(plan.contacts):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        phone = _phone(rng)
        created_at = FIRST_CREATED_AT + step * n + timedelta(seconds=rng.random())
        contact_id = _uuid(rng)
        rows.contacts.append(
            (
                contact_id,
                tenant,
                first,
                last,
                _email(rng, first, last),
                phone,
                (normalize_phone(phone) or "") if phone else "",
                owner,
                owner,
                owner,
                1,
                created_at,
                created_at,
                _custom_fields(rng),
            )
        )
        linked = rng.random()
        if company_ids and linked < 0.7:
            works_at = rng.sample(company_ids, 2 if linked < 0.1 else 1)
            for position, company_id in enumerate(works_at):
                rows.links.append((contact_id, company_id, position == 0, tenant))


def generate(plans: list[TenantPlan]) -> Rows:
    """Every tenant's rows, the same on every run."""
    rng = random.Random(RANDOM_SEED)  # noqa: S311 - test data, not secrets
    rows = Rows([], [], [])
    for plan in plans:
        companies = _companies(rng, plan)
        rows.companies.extend(companies)
        _contacts(rng, plan, [c[0] for c in companies], rows)
    return rows


async def load(dsn: str, plans: list[TenantPlan]) -> float:
    """Generates and copies every tenant's rows, then ANALYZE; the seconds it took."""
    started = time.perf_counter()
    rows = generate(plans)
    connection = await asyncpg.connect(dsn)
    try:
        async with connection.transaction():
            await connection.copy_records_to_table(
                "companies", records=rows.companies, columns=COMPANY_COLUMNS
            )
            await connection.copy_records_to_table(
                "contacts", records=rows.contacts, columns=CONTACT_COLUMNS
            )
            await connection.copy_records_to_table(
                "contact_companies", records=rows.links, columns=LINK_COLUMNS
            )
        await connection.execute("ANALYZE companies, contacts, contact_companies")
    finally:
        await connection.close()
    return time.perf_counter() - started
