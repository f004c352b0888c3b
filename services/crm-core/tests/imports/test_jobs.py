"""Import jobs as a whole: resuming after a worker died, cancelling, other object types,
tenant isolation and the events integrations receive."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from crm.events.v1 import crm_core_pb2 as events
from crm.events.v1 import envelope_pb2
from crm_core.files.storage import LocalDiskStore
from crm_core.imports import service as imports
from crm_core.imports.worker import ImportWorker
from crm_core.models import (
    Company,
    Contact,
    Deal,
    DealStageHistory,
    ImportQueueEntry,
    Lead,
    OutboxRecord,
)
from crm_core.pipelines import service as pipelines
from crm_kit.context import bind_context
from crm_kit.db.session import unit_of_work
from crm_kit.errors import Conflict, NotFound

from .factories import Factory, admin, drain, expire_lease, imported, reload, start, upload

pytestmark = pytest.mark.integration


def people(count: int) -> bytes:
    lines = ["first_name,email"] + [f"P{i},p{i}@example.com" for i in range(count)]
    return ("\n".join(lines) + "\n").encode()


async def count(factory: Factory, tenant: uuid.UUID, model: type[object]) -> int:
    async with unit_of_work(factory, tenant_id=tenant) as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


class TestResume:
    async def test_a_job_whose_worker_died_between_chunks_resumes_at_its_checkpoint(
        self, factory: Factory, store: LocalDiskStore, tenant: uuid.UUID
    ) -> None:
        job = await upload(factory, store, tenant=tenant, data=people(10))
        await start(factory, tenant=tenant, job=job)
        first = ImportWorker(factory, store, chunk_rows=4)
        claim = await first.claim()
        assert claim is not None
        assert claim.job_id == job.id
        await first.process(claim, max_chunks=1)  # then "dies", still holding the lease
        halfway = await reload(factory, tenant=tenant, job_id=job.id)
        assert (halfway.state, halfway.rows_done, halfway.created_count) == ("running", 4, 4)
        assert await count(factory, tenant, Contact) == 4
        second = ImportWorker(factory, store, chunk_rows=4)
        assert await second.claim() is None  # the lease still holds
        await expire_lease(factory, job_id=job.id)
        await drain(second)
        done = await reload(factory, tenant=tenant, job_id=job.id)
        assert (done.state, done.rows_done, done.created_count, done.rows_total) == (
            "completed",
            10,
            10,
            10,
        )
        with pytest.raises(FileNotFoundError):  # the upload goes once the job has ended
            await anext(aiter(store.read(done.storage_key)))
        async with unit_of_work(factory, tenant_id=tenant) as session:
            emails = list(await session.scalars(select(Contact.email)))
        assert sorted(emails) == sorted(f"p{i}@example.com" for i in range(10))

    async def test_a_chunk_that_fails_midway_leaves_none_of_its_rows_and_is_retried(
        self, factory: Factory, store: LocalDiskStore, tenant: uuid.UUID, failing_row: None
    ) -> None:
        job = await upload(factory, store, tenant=tenant, data=people(10))
        await start(factory, tenant=tenant, job=job)
        worker = ImportWorker(factory, store, chunk_rows=4, poll_seconds=0.01)
        claim = await worker.claim()
        assert claim is not None
        await worker.process(claim)
        stuck = await reload(factory, tenant=tenant, job_id=job.id)
        assert (stuck.state, stuck.rows_done, stuck.created_count) == ("running", 4, 4)
        async with unit_of_work(factory, tenant_id=tenant) as session:
            emails = set(await session.scalars(select(Contact.email)))
        # p4 and p5 were inserted before p6 failed: they went with their chunk.
        assert emails == {f"p{i}@example.com" for i in range(4)}
        async with unit_of_work(factory, tenant_id=None) as session:
            attempts = await session.scalar(
                select(ImportQueueEntry.attempts).where(ImportQueueEntry.job_id == job.id)
            )
        assert attempts == 1
        assert await worker.claim() is None  # retried after a pause, not at once

    async def test_a_chunk_failing_every_time_fails_the_job_after_its_attempts(
        self, factory: Factory, store: LocalDiskStore, tenant: uuid.UUID, failing_row: None
    ) -> None:
        job = await upload(factory, store, tenant=tenant, data=people(10))
        await start(factory, tenant=tenant, job=job)
        worker = ImportWorker(factory, store, chunk_rows=4, poll_seconds=0.01)
        for _ in range(3):
            await expire_lease(factory, job_id=job.id)
            claim = await worker.claim()
            assert claim is not None
            await worker.process(claim)
        failed = await reload(factory, tenant=tenant, job_id=job.id)
        assert (failed.state, failed.rows_done, failed.created_count) == ("failed", 4, 4)
        assert failed.error.startswith("stopped at row 6 after 3 attempts")
        assert await worker.claim() is None


class TestCancel:
    async def test_a_cancelled_job_stops_after_its_committed_chunks(
        self, factory: Factory, store: LocalDiskStore, tenant: uuid.UUID
    ) -> None:
        job = await upload(factory, store, tenant=tenant, data=people(10))
        await start(factory, tenant=tenant, job=job)
        worker = ImportWorker(factory, store, chunk_rows=4)
        claim = await worker.claim()
        assert claim is not None
        await worker.process(claim, max_chunks=1)
        with bind_context(admin(tenant)):
            async with unit_of_work(factory, tenant_id=tenant) as session:
                cancelled = await imports.cancel(session, job_id=job.id)
        assert cancelled.state == "cancelled"
        await expire_lease(factory, job_id=job.id)
        await drain(worker)
        after = await reload(factory, tenant=tenant, job_id=job.id)
        assert (after.state, after.rows_done) == ("cancelled", 4)
        assert await count(factory, tenant, Contact) == 4
        with bind_context(admin(tenant)), pytest.raises(Conflict):
            async with unit_of_work(factory, tenant_id=tenant) as session:
                await imports.cancel(session, job_id=job.id)


class TestTenantIsolation:
    async def test_another_tenants_import_is_not_found_and_rows_stay_in_their_tenant(
        self, factory: Factory, store: LocalDiskStore, tenant: uuid.UUID, other_tenant: uuid.UUID
    ) -> None:
        job = await imported(factory, store, tenant=tenant, data=people(3))
        assert job.created_count == 3
        with bind_context(admin(other_tenant)):
            async with unit_of_work(factory, tenant_id=other_tenant) as session:
                with pytest.raises(NotFound):
                    await imports.get(session, job_id=job.id)
                page = await imports.list_page(
                    session, limit=10, cursor="", object_types=["contacts"]
                )
        assert page.jobs == []
        assert await count(factory, other_tenant, Contact) == 0
        assert await count(factory, tenant, Contact) == 3


class TestOtherTypes:
    async def test_companies_upsert_by_domain(
        self, factory: Factory, store: LocalDiskStore, tenant: uuid.UUID
    ) -> None:
        data = b"Company,Website,Industry\nAcme,https://www.acme.com/about,Tools\nBeta,beta.io,\n"
        job = await upload(factory, store, tenant=tenant, data=data, object_type="companies")
        assert job.suggested_mapping == {
            "Company": "name",
            "Website": "domain",
            "Industry": "industry",
        }
        await start(factory, tenant=tenant, job=job, mode="upsert", match_key="domain")
        await drain(ImportWorker(factory, store))
        again = b"Website,Industry\nacme.com,Hardware\ngamma.dev,\n"
        second = await upload(factory, store, tenant=tenant, data=again, object_type="companies")
        await start(factory, tenant=tenant, job=second, mode="upsert", match_key="domain")
        await drain(ImportWorker(factory, store))
        done = await reload(factory, tenant=tenant, job_id=second.id)
        assert (done.created_count, done.updated_count, done.failed_count) == (0, 1, 1)
        async with unit_of_work(factory, tenant_id=tenant) as session:
            rows = (await session.execute(select(Company.domain, Company.industry))).all()
        assert sorted(rows) == [("acme.com", "Hardware"), ("beta.io", "")]

    async def test_leads_take_import_as_their_source(
        self, factory: Factory, store: LocalDiskStore, tenant: uuid.UUID
    ) -> None:
        data = b"First Name,Company,Status\nAda,Acme,qualified\nBob,,converted\n"
        job = await upload(factory, store, tenant=tenant, data=data, object_type="leads")
        await start(factory, tenant=tenant, job=job)
        await drain(ImportWorker(factory, store))
        done = await reload(factory, tenant=tenant, job_id=job.id)
        assert (done.created_count, done.failed_count) == (1, 1)
        async with unit_of_work(factory, tenant_id=tenant) as session:
            [lead] = list(await session.scalars(select(Lead)))
        assert (lead.first_name, lead.company_name, lead.source, lead.status) == (
            "Ada",
            "Acme",
            "import",
            "qualified",
        )

    async def test_deals_enter_the_default_pipeline_with_their_history(
        self, factory: Factory, store: LocalDiskStore, tenant: uuid.UUID
    ) -> None:
        async with unit_of_work(factory, tenant_id=tenant) as session:
            await pipelines.create_default_pipeline(session)
        data = b"Deal Name,Amount (minor),Currency\nBig one,150000,eur\nNo currency,5,\n"
        job = await upload(factory, store, tenant=tenant, data=data, object_type="deals")
        await start(
            factory,
            tenant=tenant,
            job=job,
            mapping={"Deal Name": "name", "Amount (minor)": "amount_minor", "Currency": "currency"},
        )
        await drain(ImportWorker(factory, store))
        done = await reload(factory, tenant=tenant, job_id=job.id)
        assert (done.created_count, done.failed_count) == (1, 1)
        async with unit_of_work(factory, tenant_id=tenant) as session:
            [deal] = list(await session.scalars(select(Deal)))
            history = list(await session.scalars(select(DealStageHistory)))
        assert (deal.name, deal.amount_minor, deal.currency, deal.status) == (
            "Big one",
            150000,
            "EUR",
            "open",
        )
        assert [(h.deal_id, h.from_stage_id, h.to_stage_id) for h in history] == [
            (deal.id, None, deal.stage_id)
        ]


class TestEvents:
    async def test_each_created_record_has_the_apis_created_event(
        self, factory: Factory, store: LocalDiskStore, tenant: uuid.UUID
    ) -> None:
        user = uuid.uuid4()
        job = await upload(
            factory, store, tenant=tenant, data=people(2), context=admin(tenant, user=user)
        )
        await start(factory, tenant=tenant, job=job, context=admin(tenant, user=user))
        await drain(ImportWorker(factory, store))
        async with unit_of_work(factory, tenant_id=tenant) as session:
            rows = list(
                await session.scalars(
                    select(OutboxRecord)
                    .where(OutboxRecord.tenant_id == tenant)
                    .order_by(OutboxRecord.event_type)
                )
            )
            contacts = {c.id: c for c in await session.scalars(select(Contact))}
        assert [r.event_type for r in rows] == [
            "crm_core.contact.created",
            "crm_core.contact.created",
            "crm_core.import.completed",
        ]
        for row in rows[:2]:
            envelope = envelope_pb2.Envelope.FromString(row.envelope)
            created = events.ContactCreated()
            assert envelope.payload.Unpack(created)
            contact = contacts[uuid.UUID(created.contact.id)]
            assert (envelope.id, envelope.tenant_id, envelope.actor.id) == (
                str(row.id),
                str(tenant),
                str(user),
            )
            assert (created.contact.email, created.contact.owner_id, created.contact.version) == (
                contact.email,
                str(user),
                1,
            )
        completed = events.ImportCompleted()
        assert envelope_pb2.Envelope.FromString(rows[2].envelope).payload.Unpack(completed)
        assert (completed.import_id, completed.state, completed.created) == (
            str(job.id),
            "completed",
            2,
        )
