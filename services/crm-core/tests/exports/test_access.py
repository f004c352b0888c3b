"""An export holds only what its requester may see: its tenant's records, its own
ones under `own` visibility; another tenant's export is 404; download links are
signed for one job and expire; viewers may not export."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from crm_core.exports import links
from crm_core.exports import service as exports
from crm_core.exports.worker import ExportWorker
from crm_core.models import ExportJob
from crm_core.permissions.roles import authorize_export
from crm_core.permissions.visibility import EVERYONE
from crm_kit.db.models import utcnow
from crm_kit.db.session import unit_of_work
from crm_kit.errors import NotFound, PermissionDenied, PreconditionFailed

from ..contacts.factories import create_contact
from ..permissions.factories import calling_as, set_visibility
from .factories import Factory, job_of, queue_export, read_csv, requester_for, run_all

pytestmark = pytest.mark.integration

LINK_LIFETIME = timedelta(minutes=15)


async def completed(factory: Factory, worker: ExportWorker, *, tenant: uuid.UUID) -> ExportJob:
    job = await queue_export(factory, tenant=tenant)
    await run_all(worker)
    return await job_of(factory, tenant=tenant, job_id=job.id)


async def open_download(factory: Factory, *, job_id: uuid.UUID, token: str) -> ExportJob:
    tenant = links.read_claims(token).tenant_id
    async with unit_of_work(factory, tenant_id=tenant) as session:
        return await exports.open_download(session, job_id=job_id, token=token)


class TestWhatAnExportHolds:
    async def test_own_visibility_limits_a_members_export_to_its_records(
        self, factory: Factory, tenant: uuid.UUID, worker: ExportWorker, tmp_path: Path
    ) -> None:
        me, someone = uuid.uuid4(), uuid.uuid4()
        await create_contact(factory, tenant=tenant, first_name="Mine", owner_id=me)
        await create_contact(
            factory, tenant=tenant, first_name="Theirs", email="t@x.example", owner_id=someone
        )
        await set_visibility(factory, tenant=tenant, visibility="own", object_types=("contacts",))

        job = await queue_export(factory, tenant=tenant, requester=requester_for(me, "member"))
        await run_all(worker)

        done = await job_of(factory, tenant=tenant, job_id=job.id)
        assert [r["first_name"] for r in read_csv(tmp_path, done)] == ["Mine"]

    async def test_rules_are_read_when_the_job_runs(
        self, factory: Factory, tenant: uuid.UUID, worker: ExportWorker, tmp_path: Path
    ) -> None:
        me = uuid.uuid4()
        await create_contact(factory, tenant=tenant, first_name="Theirs", owner_id=uuid.uuid4())
        job = await queue_export(factory, tenant=tenant, requester=requester_for(me, "member"))
        await set_visibility(factory, tenant=tenant, visibility="own", object_types=("contacts",))

        await run_all(worker)

        assert read_csv(tmp_path, await job_of(factory, tenant=tenant, job_id=job.id)) == []

    async def test_another_tenants_rows_never_appear_and_its_job_is_404(
        self,
        factory: Factory,
        tenant: uuid.UUID,
        other_tenant: uuid.UUID,
        worker: ExportWorker,
        tmp_path: Path,
    ) -> None:
        await create_contact(factory, tenant=tenant, first_name="Ours")
        await create_contact(factory, tenant=other_tenant, first_name="Theirs")

        ours = await completed(factory, worker, tenant=tenant)

        assert [r["first_name"] for r in read_csv(tmp_path, ours)] == ["Ours"]
        async with unit_of_work(factory, tenant_id=other_tenant) as session:
            with pytest.raises(NotFound):
                await exports.get(session, job_id=ours.id, audience=EVERYONE)
            listed, _ = await exports.list_page(
                session, limit=100, cursor="", object_types=["contacts"], audience=EVERYONE
            )
            assert ours.id not in [j.id for j in listed]


class TestWhoReadsAJob:
    async def test_a_member_reads_only_its_own_exports_admins_read_all(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        member, teammate = uuid.uuid4(), uuid.uuid4()
        admins = await queue_export(factory, tenant=tenant)
        mine = await queue_export(factory, tenant=tenant, requester=requester_for(member, "member"))
        as_member = requester_for(member, "member").audience
        as_teammate = requester_for(teammate, "member").audience

        async with unit_of_work(factory, tenant_id=tenant) as session:
            with pytest.raises(NotFound):
                await exports.get(session, job_id=admins.id, audience=as_member)
            with pytest.raises(NotFound):
                await exports.get(session, job_id=mine.id, audience=as_teammate)
            own = await exports.get(session, job_id=mine.id, audience=as_member)
            listed, _ = await exports.list_page(
                session, limit=100, cursor="", object_types=["contacts"], audience=as_member
            )
            everything, _ = await exports.list_page(
                session, limit=100, cursor="", object_types=["contacts"], audience=EVERYONE
            )

        assert own.id == mine.id
        assert [j.id for j in listed] == [mine.id]
        assert {j.id for j in everything} == {admins.id, mine.id}


class TestDownloadLinks:
    async def test_a_fresh_link_opens_the_file(
        self, factory: Factory, tenant: uuid.UUID, worker: ExportWorker
    ) -> None:
        job = await completed(factory, worker, tenant=tenant)
        link = exports.download_link(job, lifetime=LINK_LIFETIME)
        assert link is not None
        assert link.expires_at > utcnow() + timedelta(minutes=14)

        opened = await open_download(factory, job_id=job.id, token=link.token)

        assert opened.id == job.id

    async def test_no_link_until_the_file_exists(self, factory: Factory, tenant: uuid.UUID) -> None:
        job = await queue_export(factory, tenant=tenant)

        assert exports.download_link(job, lifetime=LINK_LIFETIME) is None

    async def test_an_expired_link_is_gone(
        self, factory: Factory, tenant: uuid.UUID, worker: ExportWorker
    ) -> None:
        job = await completed(factory, worker, tenant=tenant)
        link = exports.download_link(job, lifetime=timedelta(seconds=-1))
        assert link is not None

        with pytest.raises(PreconditionFailed) as refused:
            await open_download(factory, job_id=job.id, token=link.token)

        assert refused.value.code == "link_expired"

    async def test_a_tampered_or_borrowed_link_is_404(
        self, factory: Factory, tenant: uuid.UUID, worker: ExportWorker
    ) -> None:
        job = await completed(factory, worker, tenant=tenant)
        other = await completed(factory, worker, tenant=tenant)
        link = exports.download_link(job, lifetime=LINK_LIFETIME)
        assert link is not None
        tenant_hex, expires, signature = link.token.split(".")
        later = f"{tenant_hex}.{int(expires) + 3600}.{signature}"

        for job_id, token in (
            (job.id, later),
            (other.id, link.token),
            (job.id, "not-a-token"),
            (job.id, f"{uuid.uuid4().hex}.{expires}.{signature}"),
        ):
            with pytest.raises(NotFound):
                await open_download(factory, job_id=job_id, token=token)


class TestWhoMayExport:
    @pytest.mark.parametrize("role", ["owner", "admin", "member"])
    def test_owners_admins_and_members_may(self, tenant: uuid.UUID, role: str) -> None:
        with calling_as(tenant, uuid.uuid4(), role):
            authorize_export("contacts")

    def test_viewers_may_not(self, tenant: uuid.UUID) -> None:
        with calling_as(tenant, uuid.uuid4(), "viewer"), pytest.raises(PermissionDenied):
            authorize_export("contacts")

    def test_an_api_key_needs_read_on_the_type(self, tenant: uuid.UUID) -> None:
        with calling_as(tenant, uuid.uuid4(), kind="api_key", scopes=("deals:write",)):
            authorize_export("deals")
            with pytest.raises(PermissionDenied) as refused:
                authorize_export("contacts")

        assert refused.value.code == "insufficient_scope"
