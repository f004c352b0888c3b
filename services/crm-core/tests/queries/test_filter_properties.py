"""Property: any filter expression either is refused with InvalidArgument or selects exactly
the caller tenant's rows that a Python evaluation of the same expression selects."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_core.contacts import service as contacts
from crm_core.queries.filters import OPERATORS, Filter
from crm_core.queries.search import SearchParams
from crm_core.records.registry import ValueKind
from crm_kit.db.session import create_engine, make_session_factory, unit_of_work
from crm_kit.errors import InvalidArgument

from ..companies.factories import create_company
from ..contacts.factories import create_contact
from ..custom_fields.factories import define_field

pytestmark = pytest.mark.integration

TEXTS = ["", "ann", "anna", "bob", "b", "cid", "zed"]
NUMBERS = [-1, 0, 2, 2.5, 10, "7.25"]
DATES = ["1999-12-31", "2000-01-01", "2010-06-15", "2024-02-29"]
DATETIMES = ["2020-01-01T00:00:00+00:00", "2020-01-01T03:00:00+02:00", "2025-05-05T12:00:00Z"]
TAGS = ["a", "b", "c"]
# One operand of the wrong type per kind: always refused.
WRONG = {
    ValueKind.TEXT: 5,
    ValueKind.NUMBER: "many",
    ValueKind.DATE: "2020-13-45",
    ValueKind.DATETIME: "2020-01-01T00:00:00",
    ValueKind.BOOLEAN: "maybe",
    ValueKind.MULTI: 7,
    ValueKind.UUID: "not-an-id",
}
POOLS: dict[ValueKind, list[Any]] = {
    ValueKind.TEXT: TEXTS,
    ValueKind.NUMBER: NUMBERS,
    ValueKind.DATE: DATES,
    ValueKind.DATETIME: DATETIMES,
    ValueKind.BOOLEAN: [True, False],
    ValueKind.MULTI: TAGS,
    ValueKind.UUID: [str(uuid.UUID(int=1))],
}
CUSTOM = {
    "nick": ("text", ValueKind.TEXT, TEXTS[1:]),
    "score": ("number", ValueKind.NUMBER, [-1, 0, 2, 10]),
    "ratio": ("decimal", ValueKind.NUMBER, ["2.5", "7.25", "0"]),
    "born": ("date", ValueKind.DATE, DATES),
    "seen": ("datetime", ValueKind.DATETIME, DATETIMES),
    "vip": ("boolean", ValueKind.BOOLEAN, [True, False]),
    "tags": ("multi_select", ValueKind.MULTI, [["a"], ["b", "c"], [], ["a", "b", "c"]]),
}
FIELDS: dict[str, ValueKind] = {
    "first_name": ValueKind.TEXT,
    "owner_id": ValueKind.UUID,
    **{f"custom_fields.{key}": kind for key, (_, kind, _) in CUSTOM.items()},
    "companies.industry": ValueKind.TEXT,
    "companies.custom_fields.size": ValueKind.NUMBER,
}


def typed(kind: ValueKind, raw: Any) -> Any:
    """What a raw (JSON) value means for comparison, as the database compares it."""
    if raw is None:
        return None
    if kind is ValueKind.NUMBER:
        return Decimal(str(raw))
    if kind is ValueKind.DATE:
        return date.fromisoformat(raw)
    if kind is ValueKind.DATETIME:
        return datetime.fromisoformat(raw)
    if kind is ValueKind.UUID:
        return uuid.UUID(raw)
    return raw


@dataclass
class Row:
    id: uuid.UUID
    values: dict[str, Any]  # field -> raw value, or a list of raw values for linked fields


def _scalar(op: str, kind: ValueKind, value: Any, operands: list[Any]) -> bool:
    a = operands[0] if operands else None
    present = value is not None
    checks = {
        "eq": lambda: present and value == a,
        "neq": lambda: not (present and value == a),
        "lt": lambda: present and value < a,
        "lte": lambda: present and value <= a,
        "gt": lambda: present and value > a,
        "gte": lambda: present and value >= a,
        "between": lambda: present and operands[0] <= value <= operands[1],
        "in": lambda: present and value in operands,
        "not_in": lambda: not (present and value in operands),
        "contains": lambda: present and a.lower() in value.lower(),
        "starts_with": lambda: present and value.lower().startswith(a.lower()),
        "is_empty": lambda: not present or (kind is ValueKind.TEXT and value == ""),
    }
    if op == "is_not_empty":
        return not checks["is_empty"]()
    return bool(checks[op]())


def _multi(op: str, value: list[str] | None, operands: list[str]) -> bool:
    has = set(value or [])
    exactly = value is not None and has == set(operands)
    checks = {
        "eq": exactly,
        "neq": not exactly,
        "contains": value is not None and bool(operands) and operands[0] in has,
        "in": value is not None and bool(has & set(operands)),
        "not_in": not (value is not None and bool(has & set(operands))),
        "is_empty": not has,
        "is_not_empty": bool(has),
    }
    return checks[op]


def matches(row: Row, condition: Filter) -> bool:
    kind = FIELDS[condition.field]
    raw_operands = condition.values if condition.values else [condition.value]
    operands = [typed(kind, v) for v in raw_operands if v is not None]
    if kind is ValueKind.MULTI:
        return _multi(condition.operator, row.values.get(condition.field), operands)
    if condition.field.startswith("companies."):
        linked = row.values.get(condition.field, [])
        return any(_scalar(condition.operator, kind, typed(kind, v), operands) for v in linked)
    value = typed(kind, row.values.get(condition.field))
    return _scalar(condition.operator, kind, value, operands)


@st.composite
def filters(draw: st.DrawFn) -> tuple[Filter, bool]:
    """A filter and whether it is valid."""
    if draw(st.integers(0, 60)) == 0:
        return Filter("nope", "eq", value="x", has_value=True), False
    field = draw(st.sampled_from(sorted(FIELDS)))
    kind = FIELDS[field]
    # Mostly operators that apply to the field's kind, sometimes any operator at all.
    if draw(st.integers(0, 20)) == 0:
        operator = draw(st.sampled_from(sorted(set().union(*OPERATORS.values()))))
    else:
        operator = draw(st.sampled_from(sorted(OPERATORS[kind])))
    valid = operator in OPERATORS[kind]
    pool = POOLS[kind]
    if draw(st.integers(0, 40)) == 0:
        pool, valid = [WRONG[kind]], valid and operator in ("is_empty", "is_not_empty")
    if operator in ("is_empty", "is_not_empty"):
        return Filter(field, operator), valid
    if operator == "between":
        return Filter(
            field, operator, values=draw(st.lists(st.sampled_from(pool), min_size=2, max_size=2))
        ), valid
    if operator in ("in", "not_in") or (kind is ValueKind.MULTI and operator in ("eq", "neq")):
        return Filter(
            field, operator, values=draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3))
        ), valid
    return Filter(field, operator, value=draw(st.sampled_from(pool)), has_value=True), valid


expressions = st.lists(st.lists(filters(), min_size=1, max_size=2), min_size=1, max_size=3)


async def _seed(factory: Any, tenant: uuid.UUID) -> list[Row]:
    rng = random.Random(20261128)
    for key, (field_type, _, _) in CUSTOM.items():
        await define_field(
            factory,
            tenant=tenant,
            key=key,
            field_type=field_type,
            options=TAGS if key == "tags" else None,
        )
    await define_field(
        factory, tenant=tenant, key="size", field_type="number", object_type="companies"
    )
    companies = []
    for industry, size in (("retail", 5), ("bob", 50), ("", None)):
        custom = {"size": size} if size is not None else {}
        company = await create_company(
            factory, tenant=tenant, name=industry or "none", industry=industry, custom_fields=custom
        )
        companies.append((company.id, industry, size))
    rows = []
    for n in range(14):
        custom = {k: rng.choice(pool) for k, (_, _, pool) in CUSTOM.items() if rng.random() < 0.7}
        links = rng.sample(companies, rng.randint(0, 2))
        contact = await create_contact(
            factory,
            tenant=tenant,
            first_name=rng.choice(TEXTS[1:]) if n % 5 else "",
            email=f"p{n}@example.com",
            custom_fields=custom,
            company_ids=[c[0] for c in links],
        )
        values: dict[str, Any] = {"first_name": contact.first_name, "owner_id": None}
        values.update({f"custom_fields.{k}": v for k, v in contact.custom_fields.items()})
        values["companies.industry"] = [c[1] for c in links]
        values["companies.custom_fields.size"] = [c[2] for c in links]
        rows.append(Row(contact.id, values))
    return rows


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    # Hypothesis drives a synchronous test; it runs the searches on a loop of its own.
    own = asyncio.new_event_loop()
    yield own
    own.close()


def test_filters_select_what_the_reference_selects(
    database_urls: tuple[str, str], loop: asyncio.AbstractEventLoop
) -> None:
    engine = create_engine(database_urls[0], pool_size=2)
    factory = make_session_factory(engine)
    tenant, other = uuid.uuid4(), uuid.uuid4()
    rows = loop.run_until_complete(_seed(factory, tenant))
    loop.run_until_complete(_seed(factory, other))

    async def run(groups: list[list[Filter]]) -> list[Any]:
        async with unit_of_work(factory, tenant_id=tenant) as session:
            page = await contacts.search_page(
                session, params=SearchParams(filter_groups=groups, limit=100)
            )
        return page.rows

    @settings(
        max_examples=100, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(expression=expressions)
    def check(expression: list[list[tuple[Filter, bool]]]) -> None:
        groups = [[f for f, _ in group] for group in expression]
        if not all(valid for group in expression for _, valid in group):
            with pytest.raises(InvalidArgument):
                loop.run_until_complete(run(groups))
            return
        found = loop.run_until_complete(run(groups))
        expected = {r.id for r in rows if any(all(matches(r, f) for f in g) for g in groups)}
        assert {c.id for c in found} == expected
        assert {c.tenant_id for c in found} <= {tenant}

    try:
        check()
    finally:
        loop.run_until_complete(engine.dispose())
