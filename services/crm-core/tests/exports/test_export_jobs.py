"""An export job writes the filtered, sorted records as CSV: custom fields as columns,
formulas neutralized, timestamps ISO 8601 UTC, money as decimals beside the currency."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from crm_core.exports.worker import ExportWorker
from crm_core.models import ExportJob, ExportQueueEntry
from crm_core.queries.filters import Filter
from crm_core.queries.sorting import Sort
from crm_kit.db.session import unit_of_work
from crm_kit.errors import InvalidArgument

from ..companies.factories import create_company
from ..contacts.factories import create_contact
from ..custom_fields.factories import define_field
from ..deals.factories import create_deal
from ..leads.factories import create_lead
from ..pipelines.factories import create_default_pipeline
from .factories import Factory, export_rows, job_of, queue_export, run_all

pytestmark = pytest.mark.integration

ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")


class TestRowsAndColumns:
    async def test_filtered_contacts_with_every_custom_field_type(
        self, factory: Factory, tenant: uuid.UUID, worker: ExportWorker, tmp_path: Path
    ) -> None:
        for key, field_type, options in (
            ("tier", "single_select", ["gold", "silver"]),
            ("score", "number", []),
            ("ratio", "decimal", []),
            ("budget", "currency", []),
            ("born", "date", []),
            ("seen", "datetime", []),
            ("vip", "boolean", []),
            ("tags", "multi_select", ["a", "b", "c"]),
        ):
            await define_field(
                factory, tenant=tenant, key=key, field_type=field_type, options=options
            )
        await create_contact(
            factory,
            tenant=tenant,
            first_name="Ada",
            email="ada@x.example",
            custom_fields={
                "tier": "gold",
                "score": -7,
                "ratio": "1.25",
                "budget": {"amount_minor": 123456, "currency": "JPY"},
                "born": "1990-12-10",
                "seen": "2026-03-01T10:30:00+02:00",
                "vip": True,
                "tags": ["a", "c"],
            },
        )
        await create_contact(factory, tenant=tenant, first_name="Bob", email="bob@x.example")

        rows = await export_rows(
            factory,
            worker,
            tmp_path,
            tenant=tenant,
            filters=[Filter("custom_fields.tier", "eq", "gold", has_value=True)],
        )

        assert len(rows) == 1
        row = rows[0]
        assert row["first_name"] == "Ada"
        assert row["email"] == "ada@x.example"
        assert row["custom_fields.tier"] == "gold"
        assert row["custom_fields.score"] == "-7"
        assert row["custom_fields.ratio"] == "1.25"
        assert row["custom_fields.budget"] == "123456"  # yen have no minor unit
        assert row["custom_fields.budget.currency"] == "JPY"
        assert row["custom_fields.born"] == "1990-12-10"
        assert row["custom_fields.seen"] == "2026-03-01T08:30:00.000000Z"
        assert row["custom_fields.vip"] == "true"
        assert row["custom_fields.tags"] == "a; c"
        assert ISO_UTC.match(row["created_at"])
        assert ISO_UTC.match(row["updated_at"])

    async def test_datetimes_with_fractions_or_stored_otherwise_are_utc_with_microseconds(
        self, factory: Factory, tenant: uuid.UUID, worker: ExportWorker, tmp_path: Path
    ) -> None:
        await define_field(factory, tenant=tenant, key="seen", field_type="datetime")
        await create_contact(
            factory,
            tenant=tenant,
            first_name="A",
            custom_fields={"seen": "2026-03-01T10:30:00.123456+02:00"},
        )
        b = await create_contact(factory, tenant=tenant, first_name="B", email="b@x.example")
        async with unit_of_work(factory, tenant_id=tenant) as session:
            # Written by an older version or by hand: parsed rather than rewritten.
            await session.execute(
                text(
                    "UPDATE contacts SET custom_fields = "
                    '\'{"seen": "2026-03-01T10:30:00.5-01:00"}\' WHERE id = :id'
                ),
                {"id": b.id},
            )

        rows = await export_rows(
            factory,
            worker,
            tmp_path,
            tenant=tenant,
            columns=["first_name", "custom_fields.seen"],
            sorts=[Sort("first_name")],
        )

        assert [r["custom_fields.seen"] for r in rows] == [
            "2026-03-01T08:30:00.123456Z",
            "2026-03-01T11:30:00.500000Z",
        ]

    async def test_default_columns_are_standard_fields_then_custom_fields(
        self, factory: Factory, tenant: uuid.UUID, worker: ExportWorker, tmp_path: Path
    ) -> None:
        await define_field(factory, tenant=tenant, key="nick", field_type="text")
        job = await queue_export(factory, tenant=tenant)

        assert job.columns == [
            "first_name",
            "last_name",
            "email",
            "phone",
            "external_id",
            "id",
            "owner_id",
            "created_by",
            "updated_by",
            "version",
            "created_at",
            "updated_at",
            "custom_fields.nick",
        ]

    async def test_chosen_columns_in_their_order_and_sorted_rows(
        self, factory: Factory, tenant: uuid.UUID, worker: ExportWorker, tmp_path: Path
    ) -> None:
        for name in ("Cy", "Ada", "Bo"):
            await create_contact(factory, tenant=tenant, first_name=name, email=f"{name}@x.example")

        rows = await export_rows(
            factory,
            worker,
            tmp_path,
            tenant=tenant,
            columns=["email", "first_name"],
            sorts=[Sort("first_name", "desc")],
        )

        assert [list(r) for r in rows] == [["email", "first_name"]] * 3
        assert [r["first_name"] for r in rows] == ["Cy", "Bo", "Ada"]

    async def test_an_empty_result_is_the_header_alone(
        self, factory: Factory, tenant: uuid.UUID, worker: ExportWorker, tmp_path: Path
    ) -> None:
        job = await queue_export(factory, tenant=tenant, columns=["email", "first_name"])
        await run_all(worker)

        done = await job_of(factory, tenant=tenant, job_id=job.id)
        assert done.storage_key is not None
        assert (tmp_path / done.storage_key).read_bytes() == b"email,first_name\n"
        assert done.rows_written == 0

    async def test_byte_order_mark_for_excel(
        self, factory: Factory, tenant: uuid.UUID, worker: ExportWorker, tmp_path: Path
    ) -> None:
        await create_contact(factory, tenant=tenant, first_name="Zoë", email="zoe@x.example")
        job = await queue_export(
            factory, tenant=tenant, columns=["first_name"], byte_order_mark=True
        )
        await run_all(worker)

        done = await job_of(factory, tenant=tenant, job_id=job.id)
        assert done.storage_key is not None
        data = (tmp_path / done.storage_key).read_bytes()
        assert data == "\ufefffirst_name\nZoë\n".encode()
        assert done.size_bytes == len(data)

    async def test_deals_money_is_a_decimal_beside_its_currency(
        self, factory: Factory, tenant: uuid.UUID, worker: ExportWorker, tmp_path: Path
    ) -> None:
        await create_default_pipeline(factory, tenant=tenant)
        await create_deal(factory, tenant=tenant, name="Euro", amount_minor=1234_50)
        await create_deal(factory, tenant=tenant, name="Dinar", amount_minor=5, currency="KWD")

        rows = await export_rows(
            factory,
            worker,
            tmp_path,
            tenant=tenant,
            object_type="deals",
            columns=["name", "amount", "currency", "amount_minor"],
            sorts=[Sort("name")],
        )

        assert rows == [
            {"name": "Dinar", "amount": "0.005", "currency": "KWD", "amount_minor": "5"},
            {"name": "Euro", "amount": "1234.50", "currency": "EUR", "amount_minor": "123450"},
        ]

    async def test_companies_and_leads_export_too(
        self, factory: Factory, tenant: uuid.UUID, worker: ExportWorker, tmp_path: Path
    ) -> None:
        await create_company(factory, tenant=tenant, name="Acme", domain="acme.example")
        await create_lead(factory, tenant=tenant, first_name="Lin")

        companies = await export_rows(
            factory, worker, tmp_path, tenant=tenant, object_type="companies"
        )
        leads = await export_rows(factory, worker, tmp_path, tenant=tenant, object_type="leads")

        assert [(c["name"], c["domain"]) for c in companies] == [("Acme", "acme.example")]
        assert [(lead["first_name"], lead["status"]) for lead in leads] == [("Lin", "new")]


class TestFormulaInjection:
    @pytest.mark.parametrize(
        ("typed", "written"),
        [
            ('=HYPERLINK("http://evil.example")', '\'=HYPERLINK("http://evil.example")'),
            ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
            ("\t=1+1", "'\t=1+1"),
            ("\r=1+1", "'\r=1+1"),
            ("-12.5", "-12.5"),  # a number, which a spreadsheet never runs
            ("+4930123", "+4930123"),
            ("Ada =1+1", "Ada =1+1"),
            ('a,b "quoted"\nnext line', 'a,b "quoted"\nnext line'),
        ],
    )
    async def test_a_cell_a_spreadsheet_would_run_gets_a_quote(
        self,
        factory: Factory,
        tenant: uuid.UUID,
        worker: ExportWorker,
        tmp_path: Path,
        typed: str,
        written: str,
    ) -> None:
        await define_field(factory, tenant=tenant, key="nick", field_type="text")
        await create_contact(
            factory, tenant=tenant, email="ada@x.example", custom_fields={"nick": typed}
        )

        rows = await export_rows(
            factory, worker, tmp_path, tenant=tenant, columns=["custom_fields.nick", "email"]
        )

        assert rows == [{"custom_fields.nick": written, "email": "ada@x.example"}]

    async def test_standard_text_fields_are_neutralized_too(
        self, factory: Factory, tenant: uuid.UUID, worker: ExportWorker, tmp_path: Path
    ) -> None:
        await create_contact(
            factory, tenant=tenant, first_name="@Ada", last_name="=1+1", phone="+1 415 555 0100"
        )

        rows = await export_rows(
            factory, worker, tmp_path, tenant=tenant, columns=["first_name", "last_name", "phone"]
        )

        assert rows == [{"first_name": "'@Ada", "last_name": "'=1+1", "phone": "'+1 415 555 0100"}]


class TestRefusedUpFront:
    @pytest.mark.parametrize(
        ("kwargs", "field"),
        [
            ({"columns": ["email", "shoe_size"]}, "columns[1]"),
            ({"columns": ["email", "email"]}, "columns[1]"),
            (
                {"filters": [Filter("shoe_size", "eq", "9", has_value=True)]},
                "filter_groups[0].filters[0].field",
            ),
            ({"sorts": [Sort("email", "up")]}, "sorts[0].direction"),
            ({"object_type": "planets"}, "object_type"),
        ],
    )
    async def test_a_bad_request_names_its_field_and_queues_nothing(
        self, factory: Factory, tenant: uuid.UUID, kwargs: dict[str, object], field: str
    ) -> None:
        with pytest.raises(InvalidArgument) as refused:
            await queue_export(factory, tenant=tenant, **kwargs)  # type: ignore[arg-type]

        assert refused.value.details.get("field") == field
        async with unit_of_work(factory, tenant_id=tenant) as session:
            assert await session.scalar(select(func.count()).select_from(ExportJob)) == 0
            queued = select(func.count()).where(ExportQueueEntry.tenant_id == tenant)
            assert await session.scalar(queued) == 0
