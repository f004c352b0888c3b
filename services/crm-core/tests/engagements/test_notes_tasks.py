"""Notes are sanitized, tasks filter and page, items attach only to the tenant's records."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_core.engagements import activities, notes, tags, tasks
from crm_core.engagements.tasks import TaskFilter
from crm_core.timeline.record_refs import RecordRef
from crm_kit.db.session import unit_of_work
from crm_kit.errors import Conflict, InvalidArgument, NotFound, StaleVersion

from ..contacts.factories import create_contact
from .factories import create_activity, create_note, create_task

pytestmark = pytest.mark.integration

Factory = async_sessionmaker[AsyncSession]


async def _contact_ref(factory: Factory, tenant: uuid.UUID) -> RecordRef:
    contact = await create_contact(factory, tenant=tenant, email=f"{uuid.uuid4().hex}@x.example")
    return RecordRef("contacts", contact.id)


class TestNoteSanitization:
    @pytest.mark.parametrize(
        ("body", "kept", "gone"),
        [
            ("<p>Hi<script>alert(1)</script></p>", "<p>Hi</p>", "script"),
            ('<p onclick="steal()">Hi</p>', "<p>Hi</p>", "onclick"),
            ('<a href="javascript:alert(1)">x</a>', "x</a>", "javascript"),
            ('<img src=x onerror="alert(1)"><b>bold</b>', "<b>bold</b>", "onerror"),
            ("<style>p{}</style><em>ok</em>", "<em>ok</em>", "style"),
        ],
    )
    async def test_dangerous_markup_is_stripped(
        self, factory: Factory, tenant: uuid.UUID, body: str, kept: str, gone: str
    ) -> None:
        ref = await _contact_ref(factory, tenant)
        note = await create_note(factory, tenant=tenant, refs=[ref], body=body)
        assert kept in note.body_html
        assert gone not in note.body_html

    async def test_safe_links_keep_their_href(self, factory: Factory, tenant: uuid.UUID) -> None:
        ref = await _contact_ref(factory, tenant)
        note = await create_note(
            factory, tenant=tenant, refs=[ref], body='<a href="https://a.example">a</a>'
        )
        assert 'href="https://a.example"' in note.body_html
        assert "noopener" in note.body_html

    async def test_a_body_that_sanitizes_to_nothing_is_refused(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        with pytest.raises(InvalidArgument) as caught:
            await create_note(factory, tenant=tenant, refs=[], body="<script>x</script>")
        assert caught.value.details.get("field") == "body_html"


class TestAttachment:
    async def test_another_tenants_record_is_refused_like_a_missing_one(
        self, factory: Factory, tenant: uuid.UUID, other_tenant: uuid.UUID
    ) -> None:
        foreign = await _contact_ref(factory, other_tenant)
        for ref in (foreign, RecordRef("contacts", uuid.uuid4())):
            with pytest.raises(InvalidArgument) as caught:
                await create_note(factory, tenant=tenant, refs=[ref])
            assert caught.value.code == "record_not_found"

    async def test_stale_version_is_refused(self, factory: Factory, tenant: uuid.UUID) -> None:
        ref = await _contact_ref(factory, tenant)
        note = await create_note(factory, tenant=tenant, refs=[ref])
        async with unit_of_work(factory, tenant_id=tenant) as session:
            updated = await notes.update(
                session,
                note_id=note.id,
                changes={"body_html": "<p>v2</p>"},
                refs=None,
                expected_version=1,
            )
            assert updated.version == 2
        with pytest.raises(StaleVersion):
            async with unit_of_work(factory, tenant_id=tenant) as session:
                await notes.update(
                    session,
                    note_id=note.id,
                    changes={"body_html": "<p>v3</p>"},
                    refs=None,
                    expected_version=1,
                )


class TestTasks:
    async def test_filters_by_assignee_status_due_and_record(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        ref = await _contact_ref(factory, tenant)
        alice, bob = uuid.uuid4(), uuid.uuid4()
        now = datetime.now(UTC)
        soon = await create_task(
            factory,
            tenant=tenant,
            refs=[ref],
            assignee_id=alice,
            due_at=(now + timedelta(days=1)).isoformat(),
        )
        later = await create_task(
            factory,
            tenant=tenant,
            refs=[],
            assignee_id=alice,
            due_at=(now + timedelta(days=9)).isoformat(),
        )
        await create_task(factory, tenant=tenant, refs=[ref], assignee_id=bob, status="done")
        async with unit_of_work(factory, tenant_id=tenant) as session:
            mine = await tasks.list_page(
                session, filters=TaskFilter(assignee_id=alice), limit=10, cursor=""
            )
            due = await tasks.list_page(
                session, filters=TaskFilter(due_before=now + timedelta(days=2)), limit=10, cursor=""
            )
            open_on_record = await tasks.list_page(
                session, filters=TaskFilter(record=ref, statuses=("open",)), limit=10, cursor=""
            )
        assert [t.id for t in mine.items] == [soon.id, later.id]
        assert [t.id for t in due.items] == [soon.id]
        assert [t.id for t in open_on_record.items] == [soon.id]

    async def test_pages_by_due_date_with_undated_last(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        now = datetime.now(UTC)
        made = [
            await create_task(
                factory, tenant=tenant, refs=[], due_at=(now + timedelta(hours=h)).isoformat()
            )
            for h in (3, 1, 2)
        ]
        undated = await create_task(factory, tenant=tenant, refs=[])
        seen, cursor = [], ""
        async with unit_of_work(factory, tenant_id=tenant) as session:
            while True:
                page = await tasks.list_page(session, filters=TaskFilter(), limit=2, cursor=cursor)
                seen += [t.id for t in page.items]
                cursor = page.next_cursor
                if not cursor:
                    break
        assert seen == [made[1].id, made[2].id, made[0].id, undated.id]

    async def test_done_sets_completed_at_and_reopening_clears_it(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        task = await create_task(factory, tenant=tenant, refs=[])
        async with unit_of_work(factory, tenant_id=tenant) as session:
            done = await tasks.update(
                session,
                task_id=task.id,
                changes={"status": "done"},
                refs=None,
                expected_version=None,
            )
            assert done.completed_at is not None
            reopened = await tasks.update(
                session,
                task_id=task.id,
                changes={"status": "open"},
                refs=None,
                expected_version=None,
            )
            assert reopened.completed_at is None

    async def test_reminders_are_validated_and_stored_sorted(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        task = await create_task(
            factory,
            tenant=tenant,
            refs=[],
            reminders=[("2030-01-02T09:00:00+01:00", "email"), ("2030-01-01T08:00:00Z", "in_app")],
        )
        assert task.reminders == [
            {"remind_at": "2030-01-01T08:00:00+00:00", "channel": "in_app"},
            {"remind_at": "2030-01-02T08:00:00+00:00", "channel": "email"},
        ]
        with pytest.raises(InvalidArgument):
            await create_task(
                factory, tenant=tenant, refs=[], reminders=[("2030-01-01T08:00:00Z", "pigeon")]
            )


class TestActivitiesAndTags:
    async def test_activity_participants_must_be_tenant_contacts(
        self, factory: Factory, tenant: uuid.UUID, other_tenant: uuid.UUID
    ) -> None:
        foreign = await _contact_ref(factory, other_tenant)
        with pytest.raises(InvalidArgument) as caught:
            await create_activity(
                factory, tenant=tenant, refs=[], participant_contact_ids=[foreign.record_id]
            )
        assert caught.value.details.get("field") == "participant_contact_ids"
        own = await _contact_ref(factory, tenant)
        made = await create_activity(
            factory,
            tenant=tenant,
            refs=[own],
            participant_contact_ids=[own.record_id],
            participant_emails=["Bob@Example.com"],
            duration_seconds=60,
        )
        assert (made.participant_emails, made.duration_seconds) == (["bob@example.com"], 60)
        async with unit_of_work(factory, tenant_id=tenant) as session:
            page = await activities.list_page(session, record=own, limit=10, cursor="")
        assert [a.id for a in page.items] == [made.id]

    async def test_tag_names_are_unique_ignoring_case_and_tagging_is_idempotent(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        ref = await _contact_ref(factory, tenant)
        async with unit_of_work(factory, tenant_id=tenant) as session:
            vip = await tags.create(session, name="VIP", color="#FF0000")
            with pytest.raises(Conflict):
                await tags.create(session, name="vip", color="")
            await tags.tag_record(session, tag_id=vip.id, record=ref)
            await tags.tag_record(session, tag_id=vip.id, record=ref)
            assert [t.id for t in await tags.tags_of(session, record=ref)] == [vip.id]
            with pytest.raises(NotFound):
                await tags.tag_record(
                    session, tag_id=vip.id, record=RecordRef("deals", uuid.uuid4())
                )
        assert vip.color == "#ff0000"
