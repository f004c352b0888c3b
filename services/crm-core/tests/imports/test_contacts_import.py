"""Contacts imported from CSV: every dialect of the file, bad rows reported while good
ones land, the three modes and their match keys, typed custom fields, events."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from crm.events.v1 import crm_core_pb2 as events
from crm.events.v1 import envelope_pb2
from crm_core.contacts import service as contacts
from crm_core.contacts.schemas import ContactUpdate
from crm_core.files.storage import LocalDiskStore
from crm_core.imports.worker import ImportWorker
from crm_core.models import Contact, OutboxRecord, RecordChange
from crm_core.queries.filters import Filter
from crm_core.queries.search import SearchParams
from crm_kit.db.session import unit_of_work
from crm_kit.errors import Conflict, InvalidArgument

from ..contacts.factories import create_contact
from ..custom_fields.factories import define_field
from .factories import Factory, drain, error_rows, imported, reload, start, upload

pytestmark = pytest.mark.integration


async def contacts_of(factory: Factory, tenant: uuid.UUID) -> list[Contact]:
    async with unit_of_work(factory, tenant_id=tenant) as session:
        found = await session.scalars(select(Contact).order_by(Contact.email))
        return list(found)


class TestFileDialects:
    @pytest.mark.parametrize(
        "data",
        [
            b"First Name,Last Name,E-mail\r\nAda,Lovelace,ada@example.com\r\n",
            b"\xef\xbb\xbfFirst Name;Last Name;E-mail\nAda;Lovelace;ada@example.com\n",
            b"First Name\tLast Name\tE-mail\nAda\tLovelace\tada@example.com",
        ],
        ids=["comma-crlf", "bom-semicolon", "tab-no-final-newline"],
    )
    async def test_bom_and_delimiters_are_detected(
        self, factory: Factory, store: LocalDiskStore, tenant: uuid.UUID, data: bytes
    ) -> None:
        job = await upload(factory, store, tenant=tenant, data=data)
        assert job.columns == ["First Name", "Last Name", "E-mail"]
        assert job.suggested_mapping == {
            "First Name": "first_name",
            "Last Name": "last_name",
            "E-mail": "email",
        }
        assert job.preview == [["Ada", "Lovelace", "ada@example.com"]]
        await start(factory, tenant=tenant, job=job)
        await drain(ImportWorker(factory, store, chunk_rows=2, poll_seconds=0.01))
        done = await reload(factory, tenant=tenant, job_id=job.id)
        assert (done.state, done.rows_done, done.created_count, done.failed_count) == (
            "completed",
            1,
            1,
            0,
        )
        [contact] = await contacts_of(factory, tenant)
        assert (contact.first_name, contact.last_name, contact.email) == (
            "Ada",
            "Lovelace",
            "ada@example.com",
        )

    async def test_quoted_fields_keep_delimiters_newlines_and_quotes(
        self, factory: Factory, store: LocalDiskStore, tenant: uuid.UUID
    ) -> None:
        data = (
            b'first_name,last_name,email\n"Smith, Jr.","O""Brien\nthe second",a@x.example\n'
            b"Bob,Lee,b@x.example\n"
        )
        job = await imported(factory, store, tenant=tenant, data=data)
        assert (job.created_count, job.failed_count, job.rows_done) == (2, 0, 2)
        first = (await contacts_of(factory, tenant))[0]
        assert (first.first_name, first.last_name) == ("Smith, Jr.", 'O"Brien\nthe second')


class TestBadRows:
    async def test_bad_rows_are_reported_and_good_rows_land(
        self, factory: Factory, store: LocalDiskStore, tenant: uuid.UUID
    ) -> None:
        await define_field(factory, tenant=tenant, key="score", field_type="number")
        data = (
            b"First Name,Email,Phone,Score\n"
            b"Ada,ada@example.com,+44 20 7946 0958,12\n"
            b"Bad,not-an-email,,3\n"
            b",,,\n"
            b"Nameless,,,\n"
            b"Worse,w@example.com,call me,abc\n"
            b"Bob,bob@example.com,,7.5\n"
            b"Empty,,,\n"
        )
        job = await imported(factory, store, tenant=tenant, data=data)
        # The blank line (row 4) is skipped but still counted as a spreadsheet row.
        assert (job.state, job.rows_done, job.created_count, job.failed_count) == (
            "completed",
            6,
            4,
            2,
        )
        report = await error_rows(factory, tenant=tenant, job=job)
        assert report[0] == "row,column,reason"
        assert report[1].startswith("3,Email,")
        assert report[2] == "6,Phone,phone is not a phone number"
        assert report[3].startswith("6,Score,")
        assert "'abc' is not a number" in report[3]
        assert len(report) == 4
        emails = {c.email: c for c in await contacts_of(factory, tenant)}
        assert set(emails) == {"", "ada@example.com", "bob@example.com"}
        assert emails["ada@example.com"].phone_e164 == "+442079460958"
        assert emails["ada@example.com"].custom_fields == {"score": 12}
        assert emails["bob@example.com"].custom_fields == {"score": 7.5}

    async def test_a_row_needing_a_name_or_email_is_refused_by_the_merge(
        self, factory: Factory, store: LocalDiskStore, tenant: uuid.UUID
    ) -> None:
        data = b"Phone,Email\n+44 20 7946 0958,\n,ok@example.com\n"
        job = await imported(factory, store, tenant=tenant, data=data)
        assert (job.created_count, job.failed_count) == (1, 1)
        report = await error_rows(factory, tenant=tenant, job=job)
        assert report[1:] == ['2,,"a contact needs a first name, a last name or an email"']

    async def test_create_mode_refuses_existing_and_repeated_emails(
        self, factory: Factory, store: LocalDiskStore, tenant: uuid.UUID
    ) -> None:
        await create_contact(factory, tenant=tenant, email="taken@example.com")
        data = (
            b"email,first_name\nTAKEN@example.com,X\nnew@example.com,A\n"
            b"new@example.com,B\nother@example.com,C\n"
        )
        job = await imported(factory, store, tenant=tenant, data=data)
        assert (job.created_count, job.failed_count) == (2, 2)
        report = await error_rows(factory, tenant=tenant, job=job)
        assert report[1:] == [
            "2,email,a contact with this email exists",
            "4,email,repeats row 3",
        ]


class TestModes:
    async def test_update_by_email_changes_only_non_empty_cells_and_records_history(
        self, factory: Factory, store: LocalDiskStore, tenant: uuid.UUID
    ) -> None:
        ada = await create_contact(
            factory, tenant=tenant, email="ada@example.com", last_name="Byron"
        )
        data = b"email,first_name,last_name\nADA@example.com,Augusta,\nnobody@example.com,N,\n"
        job = await imported(
            factory, store, tenant=tenant, data=data, mode="update", match_key="email"
        )
        assert (job.created_count, job.updated_count, job.failed_count) == (0, 1, 1)
        report = await error_rows(factory, tenant=tenant, job=job)
        assert report[1:] == ["3,email,no contact with this email"]
        [contact] = await contacts_of(factory, tenant)
        assert (contact.id, contact.first_name, contact.last_name, contact.version) == (
            ada.id,
            "Augusta",
            "Byron",
            2,
        )
        async with unit_of_work(factory, tenant_id=tenant) as session:
            changes = list(await session.scalars(select(RecordChange.changes)))
            events = list(
                await session.scalars(
                    select(OutboxRecord.event_type).where(OutboxRecord.tenant_id == tenant)
                )
            )
        assert changes == [{"first_name": ["Ada", "Augusta"]}]
        assert sorted(events) == [
            "crm_core.contact.created",
            "crm_core.contact.updated",
            "crm_core.import.completed",
        ]

    async def test_upsert_by_external_id_creates_then_updates_later_row_wins(
        self, factory: Factory, store: LocalDiskStore, tenant: uuid.UUID
    ) -> None:
        data = (
            b"External ID,First Name,Email\n"
            b"crm-1,Ada,ada@example.com\n"
            b"crm-2,Bob,bob@example.com\n"
            b"crm-1,Augusta,\n"
        )
        job = await imported(
            factory, store, tenant=tenant, data=data, mode="upsert", match_key="external_id"
        )
        assert (job.created_count, job.updated_count, job.failed_count) == (2, 1, 0)
        again = b"External ID,First Name\ncrm-2,Robert\ncrm-3,Cy\n"
        job = await imported(
            factory, store, tenant=tenant, data=again, mode="upsert", match_key="external_id"
        )
        assert (job.created_count, job.updated_count, job.failed_count) == (1, 1, 0)
        found = {c.external_id: c for c in await contacts_of(factory, tenant)}
        assert {k: (c.first_name, c.email) for k, c in found.items()} == {
            "crm-1": ("Augusta", "ada@example.com"),
            "crm-2": ("Robert", "bob@example.com"),
            "crm-3": ("Cy", ""),
        }

    async def test_the_api_filters_and_guards_what_an_import_wrote(
        self, factory: Factory, store: LocalDiskStore, tenant: uuid.UUID
    ) -> None:
        data = b"External ID,First Name,Email\n  crm-7 ,Ada,ada@example.com\n"
        job = await imported(factory, store, tenant=tenant, data=data)
        assert (job.created_count, job.failed_count) == (1, 0)
        by_id = SearchParams(filter_groups=[[Filter("external_id", "eq", "crm-7", has_value=True)]])
        async with unit_of_work(factory, tenant_id=tenant) as session:
            page = await contacts.search_page(session, params=by_id)
            [raw] = await session.scalars(
                select(OutboxRecord.envelope).where(
                    OutboxRecord.tenant_id == tenant,
                    OutboxRecord.event_type == "crm_core.contact.created",
                )
            )
        [found] = page.rows
        assert (found.first_name, found.external_id) == ("Ada", "crm-7")
        created = events.ContactCreated()
        envelope_pb2.Envelope.FromString(raw).payload.Unpack(created)
        assert created.contact.external_id == "crm-7"

        other = await create_contact(factory, tenant=tenant, email="bob@example.com")
        taking = ContactUpdate(changes={"external_id": "crm-7"})
        with pytest.raises(Conflict, match="external_id"):
            async with unit_of_work(factory, tenant_id=tenant) as session:
                await contacts.update(session, contact_id=other.id, data=taking)

    async def test_upsert_by_unique_custom_field_with_typed_values(
        self, factory: Factory, store: LocalDiskStore, tenant: uuid.UUID
    ) -> None:
        await define_field(
            factory, tenant=tenant, key="member_no", field_type="text", is_unique=True
        )
        await define_field(factory, tenant=tenant, key="vip", field_type="boolean")
        await define_field(
            factory,
            tenant=tenant,
            key="tier",
            field_type="single_select",
            options=["gold", "silver"],
        )
        await define_field(factory, tenant=tenant, key="joined", field_type="date")
        data = (
            b"Member No,VIP,Tier,Joined,first_name\n"
            b"M1,yes,gold,2024-01-31,Ada\n"
            b"M2,no,bronze,2024-02-01,Bob\n"
            b"M3,maybe,silver,31/01/2024,Cy\n"
        )
        job = await imported(
            factory,
            store,
            tenant=tenant,
            data=data,
            mode="upsert",
            match_key="custom_fields.member_no",
        )
        assert (job.created_count, job.failed_count) == (1, 2)
        report = await error_rows(factory, tenant=tenant, job=job)
        assert [line.split(",")[:2] for line in report[1:]] == [
            ["3", "Tier"],
            ["4", "VIP"],
            ["4", "Joined"],
        ]
        update = b"Member No,VIP\nM1,no\n"
        job = await imported(
            factory,
            store,
            tenant=tenant,
            data=update,
            mode="upsert",
            match_key="custom_fields.member_no",
        )
        assert (job.created_count, job.updated_count) == (0, 1)
        [contact] = await contacts_of(factory, tenant)
        assert contact.custom_fields == {
            "member_no": "M1",
            "vip": False,
            "tier": "gold",
            "joined": "2024-01-31",
        }


class TestStart:
    async def test_a_bad_mapping_names_the_problem(
        self, factory: Factory, store: LocalDiskStore, tenant: uuid.UUID
    ) -> None:
        job = await upload(factory, store, tenant=tenant, data=b"a,b\n1,2\n")
        with pytest.raises(InvalidArgument) as caught:
            await start(factory, tenant=tenant, job=job, mapping={"a": "shoe_size"})
        assert (caught.value.code, caught.value.details["field"]) == ("unknown_field", "mapping.a")
        with pytest.raises(InvalidArgument) as caught:
            await start(factory, tenant=tenant, job=job, mapping={"a": "email"}, mode="update")
        assert (caught.value.code, caught.value.details["field"]) == (
            "invalid_match_key",
            "match_key",
        )
        with pytest.raises(InvalidArgument) as caught:
            await start(factory, tenant=tenant, job=job, mapping={"a": "email", "b": "email"})
        assert caught.value.code == "field_mapped_twice"

    async def test_a_file_that_is_not_utf8_is_refused_and_leaves_nothing(
        self, factory: Factory, store: LocalDiskStore, tenant: uuid.UUID, tmp_path: Path
    ) -> None:
        with pytest.raises(InvalidArgument) as caught:
            await upload(factory, store, tenant=tenant, data="Nom,Prénom\n".encode("latin-1") * 3)
        assert caught.value.code == "invalid_encoding"
        assert [
            p for p in await asyncio.to_thread(lambda: list(tmp_path.rglob("*"))) if p.is_file()
        ] == []

    async def test_a_file_with_nul_characters_is_refused(
        self, factory: Factory, store: LocalDiskStore, tenant: uuid.UUID
    ) -> None:
        with pytest.raises(InvalidArgument) as caught:
            await upload(factory, store, tenant=tenant, data=b"email,na\x00me\na@x.example,b\n")
        assert caught.value.code == "invalid_csv"

    async def test_a_reason_quoting_a_nul_is_stored_escaped(
        self, factory: Factory, store: LocalDiskStore, tenant: uuid.UUID
    ) -> None:
        await define_field(factory, tenant=tenant, key="score", field_type="number")
        # Blank lines (skipped, still counted) carry the NUL past the sniffed head.
        blank = 300_000
        data = b"email,score\nok@x.example,1\n" + b"\n" * blank + b"b@x.example,1\x002\n"
        job = await upload(factory, store, tenant=tenant, data=data)
        await start(factory, tenant=tenant, job=job)
        await drain(ImportWorker(factory, store, poll_seconds=0.01))
        job = await reload(factory, tenant=tenant, job_id=job.id)
        assert (job.state, job.created_count, job.failed_count) == ("completed", 1, 1)
        report = await error_rows(factory, tenant=tenant, job=job)
        assert report[1:] == [f"{blank + 3},score,'1\\x002' is not a number"]
