"""Activities, tasks and notes export like records: a fixed set of columns, their
list's filters and order, what their list would show the requester, formulas
neutralized; search filters, task-only filters on other types and item filters on
records are refused naming the field."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from crm.crm_core.v1 import exports_pb2
from crm.crm_core.v1.engagements_pb2 import RecordRef as RecordRefMessage
from crm_core.engagements import activities, notes, tasks
from crm_core.engagements.tasks import TaskFilter
from crm_core.exports import service as exports
from crm_core.exports.items import ITEM_EXPORTS
from crm_core.exports.mappers import request_from_proto
from crm_core.exports.query import ExportSelection
from crm_core.exports.service import ExportRequest, Requester
from crm_core.exports.worker import ExportWorker
from crm_core.permissions.roles import authorize_export
from crm_core.permissions.visibility import caller_session
from crm_core.queries.filters import Filter
from crm_core.queries.sorting import Sort
from crm_core.timeline.record_refs import RecordRef
from crm_kit.db.session import unit_of_work
from crm_kit.errors import InvalidArgument, NotFound, PermissionDenied

from ..contacts.factories import create_contact
from ..deals.factories import create_deal
from ..engagements.factories import create_activity, create_note, create_task
from ..permissions.factories import calling_as, set_visibility
from ..pipelines.factories import create_default_pipeline
from .factories import Factory, export_rows, job_of, queue_export, read_csv, requester_for, run_all
from .test_export_jobs import ISO_UTC

pytestmark = pytest.mark.integration

ITEM_TYPES = ("activities", "tasks", "notes")


async def contact_ref(factory: Factory, tenant: uuid.UUID, **extra: object) -> RecordRef:
    contact = await create_contact(factory, tenant=tenant, **extra)  # type: ignore[arg-type]
    return RecordRef("contacts", contact.id)


async def create_item(
    factory: Factory, object_type: str, *, tenant: uuid.UUID, ref: RecordRef
) -> uuid.UUID:
    if object_type == "activities":
        return (await create_activity(factory, tenant=tenant, refs=[ref])).id
    if object_type == "tasks":
        return (await create_task(factory, tenant=tenant, refs=[ref])).id
    return (await create_note(factory, tenant=tenant, refs=[ref])).id


async def refused_field(factory: Factory, *, tenant: uuid.UUID, **kwargs: object) -> object:
    with pytest.raises(InvalidArgument) as refused:
        await queue_export(factory, tenant=tenant, **kwargs)  # type: ignore[arg-type]
    return refused.value.details.get("field")


class TestColumns:
    async def test_an_activity_with_every_column(
        self, factory: Factory, tenant: uuid.UUID, worker: ExportWorker, tmp_path: Path
    ) -> None:
        contact = await contact_ref(factory, tenant)
        await create_default_pipeline(factory, tenant=tenant)
        deal = await create_deal(factory, tenant=tenant)
        refs = [RecordRef("deals", deal.id), contact]
        activity = await create_activity(
            factory,
            tenant=tenant,
            refs=refs,
            kind="meeting",
            body="Agenda",
            occurred_at="2026-03-01T10:30:00+02:00",
            duration_seconds=900,
            participant_contact_ids=[contact.record_id],
            participant_emails=["b@x.example", "a@x.example"],
        )

        rows = await export_rows(factory, worker, tmp_path, tenant=tenant, object_type="activities")

        assert list(rows[0]) == list(ITEM_EXPORTS["activities"].columns)
        [row] = rows
        assert row["id"] == str(activity.id)
        assert (row["kind"], row["subject"], row["body"]) == ("meeting", "Intro", "Agenda")
        assert row["occurred_at"] == "2026-03-01T08:30:00.000000Z"
        assert row["duration_seconds"] == "900"
        assert row["participant_contact_ids"] == str(contact.record_id)
        assert row["participant_emails"] == "a@x.example; b@x.example"
        assert row["records"] == f"contacts:{contact.record_id}; deals:{deal.id}"
        assert row["version"] == "1"
        assert ISO_UTC.match(row["created_at"])
        assert ISO_UTC.match(row["updated_at"])
        assert row["owner_id"] == ""

    async def test_tasks_in_their_lists_order_with_reminders_and_completion(
        self, factory: Factory, tenant: uuid.UUID, worker: ExportWorker, tmp_path: Path
    ) -> None:
        assignee = uuid.uuid4()
        undated = await create_task(factory, tenant=tenant, refs=[], title="Undated")
        later = await create_task(
            factory, tenant=tenant, refs=[], title="Later", due_at="2026-05-02T09:00:00+00:00"
        )
        soon = await create_task(
            factory,
            tenant=tenant,
            refs=[],
            title="Soon",
            description="Ring twice",
            due_at="2026-05-01T09:00:00+00:00",
            assignee_id=assignee,
            status="done",
            reminders=[("2026-04-30T18:00:00+02:00", "email"), ("2026-04-30T09:00:00Z", "in_app")],
        )

        rows = await export_rows(factory, worker, tmp_path, tenant=tenant, object_type="tasks")

        assert list(rows[0]) == list(ITEM_EXPORTS["tasks"].columns)
        assert [r["id"] for r in rows] == [str(soon.id), str(later.id), str(undated.id)]
        first = rows[0]
        assert (first["title"], first["description"], first["status"]) == (
            "Soon",
            "Ring twice",
            "done",
        )
        assert first["due_at"] == "2026-05-01T09:00:00.000000Z"
        assert ISO_UTC.match(first["completed_at"])
        assert first["assignee_id"] == str(assignee)
        assert first["reminders"] == (
            "2026-04-30T09:00:00.000000Z in_app; 2026-04-30T16:00:00.000000Z email"
        )
        assert (rows[2]["due_at"], rows[2]["completed_at"], rows[2]["reminders"]) == ("", "", "")

    async def test_notes_carry_their_stored_sanitized_html_newest_first(
        self, factory: Factory, tenant: uuid.UUID, worker: ExportWorker, tmp_path: Path
    ) -> None:
        ref = await contact_ref(factory, tenant)
        older = await create_note(
            factory, tenant=tenant, refs=[ref], body='<p onclick="x()">Hi<script>1</script></p>'
        )
        newer = await create_note(factory, tenant=tenant, refs=[], body="<p>Later</p>")

        rows = await export_rows(factory, worker, tmp_path, tenant=tenant, object_type="notes")

        assert list(rows[0]) == list(ITEM_EXPORTS["notes"].columns)
        assert [(r["id"], r["body_html"]) for r in rows] == [
            (str(newer.id), "<p>Later</p>"),
            (str(older.id), older.body_html),
        ]
        assert older.body_html == "<p>Hi</p>"
        assert (rows[0]["records"], rows[1]["records"]) == ("", f"contacts:{ref.record_id}")

    async def test_a_subset_of_columns_in_the_order_asked(
        self, factory: Factory, tenant: uuid.UUID, worker: ExportWorker, tmp_path: Path
    ) -> None:
        await create_task(factory, tenant=tenant, refs=[], title="Call", status="in_progress")

        rows = await export_rows(
            factory, worker, tmp_path, tenant=tenant, object_type="tasks",
            columns=["status", "title"],
        )  # fmt: skip

        assert rows == [{"status": "in_progress", "title": "Call"}]

    @pytest.mark.parametrize(
        ("object_type", "columns", "field"),
        [
            ("tasks", ["title", "body_html"], "columns[1]"),
            ("notes", ["body_html", "custom_fields.tier"], "columns[1]"),
            ("activities", ["subject", "subject"], "columns[1]"),
        ],
    )
    async def test_unknown_or_repeated_columns_are_refused_naming_them(
        self, factory: Factory, tenant: uuid.UUID, object_type: str, columns: list[str], field: str
    ) -> None:
        assert (
            await refused_field(factory, tenant=tenant, object_type=object_type, columns=columns)
            == field
        )


class TestFilters:
    @pytest.mark.parametrize("object_type", ITEM_TYPES)
    async def test_record_keeps_the_items_attached_to_it(
        self,
        factory: Factory,
        tenant: uuid.UUID,
        worker: ExportWorker,
        tmp_path: Path,
        object_type: str,
    ) -> None:
        ada = await contact_ref(factory, tenant)
        bob = await contact_ref(factory, tenant, first_name="Bob", email="bob@x.example")
        mine = await create_item(factory, object_type, tenant=tenant, ref=ada)
        await create_item(factory, object_type, tenant=tenant, ref=bob)

        rows = await export_rows(
            factory, worker, tmp_path, tenant=tenant, object_type=object_type,
            items=TaskFilter(record=ada), columns=["id"],
        )  # fmt: skip

        assert rows == [{"id": str(mine)}]

    async def test_task_filters_as_the_list_takes_them(
        self, factory: Factory, tenant: uuid.UUID, worker: ExportWorker, tmp_path: Path
    ) -> None:
        alice, bob = uuid.uuid4(), uuid.uuid4()
        day = datetime(2026, 6, 1, tzinfo=UTC)
        made = {}
        for title, assignee, status, due in (
            ("a-open-d1", alice, "open", day),
            ("a-progress-d2", alice, "in_progress", day + timedelta(days=1)),
            ("a-done-d3", alice, "done", day + timedelta(days=2)),
            ("b-open-d4", bob, "open", day + timedelta(days=3)),
        ):
            made[title] = await create_task(
                factory, tenant=tenant, refs=[], title=title, assignee_id=assignee,
                status=status, due_at=due.isoformat(),
            )  # fmt: skip

        async def titles(items: TaskFilter) -> list[str]:
            rows = await export_rows(
                factory, worker, tmp_path, tenant=tenant, object_type="tasks",
                items=items, columns=["title"],
            )  # fmt: skip
            return [r["title"] for r in rows]

        assert await titles(TaskFilter(assignee_id=alice)) == [
            "a-open-d1",
            "a-progress-d2",
            "a-done-d3",
        ]
        assert await titles(TaskFilter(statuses=("open", "in_progress"))) == [
            "a-open-d1",
            "a-progress-d2",
            "b-open-d4",
        ]
        # due_before is exclusive, due_after inclusive.
        assert await titles(TaskFilter(due_before=day + timedelta(days=1))) == ["a-open-d1"]
        assert await titles(TaskFilter(due_after=day + timedelta(days=2))) == [
            "a-done-d3",
            "b-open-d4",
        ]
        assert await titles(
            TaskFilter(assignee_id=alice, statuses=("open", "done"), due_after=day)
        ) == ["a-open-d1", "a-done-d3"]

    @pytest.mark.parametrize(
        ("object_type", "kwargs", "field"),
        [
            (
                "tasks",
                {"filters": [Filter(field="title", operator="eq", value="x")]},
                "filter_groups",
            ),
            ("notes", {"sorts": [Sort(field="created_at", direction="asc")]}, "sorts"),
            ("activities", {"query": "call"}, "query"),
            ("contacts", {"items": TaskFilter()}, "items"),
            ("notes", {"items": TaskFilter(assignee_id=uuid.uuid4())}, "items.assignee_id"),
            ("activities", {"items": TaskFilter(statuses=("open",))}, "items.statuses"),
            ("notes", {"items": TaskFilter(due_after=datetime.now(UTC))}, "items.due_after"),
            ("tasks", {"items": TaskFilter(statuses=("open", "later"))}, "items.statuses"),
            ("timelines", {}, "object_type"),
        ],
    )
    async def test_filters_of_the_wrong_kind_are_refused_naming_the_field(
        self,
        factory: Factory,
        tenant: uuid.UUID,
        object_type: str,
        kwargs: dict[str, object],
        field: str,
    ) -> None:
        assert (
            await refused_field(factory, tenant=tenant, object_type=object_type, **kwargs) == field
        )

    async def test_an_unknown_record_is_404_as_in_the_list(
        self, factory: Factory, tenant: uuid.UUID, other_tenant: uuid.UUID
    ) -> None:
        theirs = await contact_ref(factory, other_tenant)

        for ref in (theirs, RecordRef("deals", uuid.uuid4())):
            with pytest.raises(NotFound):
                await queue_export(
                    factory, tenant=tenant, object_type="notes", items=TaskFilter(record=ref)
                )


class TestFormulas:
    async def test_text_cells_that_would_run_get_a_quote(
        self, factory: Factory, tenant: uuid.UUID, worker: ExportWorker, tmp_path: Path
    ) -> None:
        note = await create_note(factory, tenant=tenant, refs=[], body="=cmd|' /C calc'!A0")
        titles = ["+SUM(A1)", "-2+3", "@SUM(A1)", "tab", "cr", "-12.5", "plain"]
        for title in titles:
            await create_task(factory, tenant=tenant, refs=[], title=title, description="=1+1")
        # The API strips leading whitespace; older or imported rows may still hold it.
        async with unit_of_work(factory, tenant_id=tenant) as session:
            await session.execute(text("UPDATE tasks SET title = E'\\tx' WHERE title = 'tab'"))
            await session.execute(text("UPDATE tasks SET title = E'\\rx' WHERE title = 'cr'"))
        await create_activity(
            factory, tenant=tenant, refs=[], subject="=HYPERLINK(1)", body="@x",
            participant_emails=["=x@y.example"],
        )  # fmt: skip

        [note_row] = await export_rows(
            factory, worker, tmp_path, tenant=tenant, object_type="notes", columns=["body_html"]
        )
        task_rows = await export_rows(
            factory, worker, tmp_path, tenant=tenant, object_type="tasks",
            columns=["title", "description"],
        )  # fmt: skip
        [activity_row] = await export_rows(
            factory, worker, tmp_path, tenant=tenant, object_type="activities",
            columns=["subject", "body", "participant_emails"],
        )  # fmt: skip

        assert note_row["body_html"] == "'" + note.body_html
        assert note.body_html.startswith("=cmd|")
        assert sorted(r["title"] for r in task_rows) == sorted(
            ["'+SUM(A1)", "'-2+3", "'@SUM(A1)", "'\tx", "'\rx", "-12.5", "plain"]
        )
        assert {r["description"] for r in task_rows} == {"'=1+1"}
        assert activity_row == {
            "subject": "'=HYPERLINK(1)",
            "body": "'@x",
            "participant_emails": "'=x@y.example",
        }


class TestVisibility:
    @pytest.mark.parametrize("object_type", ITEM_TYPES)
    async def test_a_member_gets_what_the_list_shows_it(
        self,
        factory: Factory,
        tenant: uuid.UUID,
        worker: ExportWorker,
        tmp_path: Path,
        object_type: str,
    ) -> None:
        me, someone = uuid.uuid4(), uuid.uuid4()
        ref = await contact_ref(factory, tenant, owner_id=someone)
        await create_task(factory, tenant=tenant, refs=[ref], owner_id=me, title="Mine")
        await create_task(factory, tenant=tenant, refs=[], assignee_id=me, title="Assigned")
        await create_task(factory, tenant=tenant, refs=[ref], owner_id=someone, title="Theirs")
        await create_activity(factory, tenant=tenant, refs=[ref], owner_id=someone)
        await create_note(factory, tenant=tenant, refs=[ref])
        await set_visibility(
            factory, tenant=tenant, visibility="own", object_types=("contacts", "tasks")
        )

        with calling_as(tenant, me, "member"):
            async with caller_session(factory) as session:
                listed = await list_ids(session, object_type)
        rows = await export_rows(
            factory, worker, tmp_path, tenant=tenant, object_type=object_type,
            requester=requester_for(me, "member"), columns=["id"],
        )  # fmt: skip

        assert sorted(r["id"] for r in rows) == sorted(listed)
        if object_type == "tasks":
            assert len(rows) == 2  # its own and its assigned, not theirs

    async def test_a_record_the_member_may_not_see_is_404_and_later_yields_nothing(
        self, factory: Factory, tenant: uuid.UUID, worker: ExportWorker, tmp_path: Path
    ) -> None:
        me = uuid.uuid4()
        hidden = await contact_ref(factory, tenant, owner_id=uuid.uuid4())
        await create_note(factory, tenant=tenant, refs=[hidden])
        member = requester_for(me, "member")
        request = ExportRequest(
            "notes", ExportSelection([], [], items=TaskFilter(record=hidden)), []
        )
        # Allowed while the rule is `all`; the job runs after the rule became `own`.
        job = await create_as(factory, tenant, member, request)
        await set_visibility(factory, tenant=tenant, visibility="own", object_types=("contacts",))

        with pytest.raises(NotFound):
            await create_as(factory, tenant, member, request)
        await run_all(worker)

        assert read_csv(tmp_path, await job_of(factory, tenant=tenant, job_id=job)) == []

    @pytest.mark.parametrize("object_type", ITEM_TYPES)
    async def test_another_tenants_items_never_appear(
        self,
        factory: Factory,
        tenant: uuid.UUID,
        other_tenant: uuid.UUID,
        worker: ExportWorker,
        tmp_path: Path,
        object_type: str,
    ) -> None:
        ours = await create_item(
            factory, object_type, tenant=tenant, ref=await contact_ref(factory, tenant)
        )
        await create_item(
            factory, object_type, tenant=other_tenant, ref=await contact_ref(factory, other_tenant)
        )

        rows = await export_rows(
            factory, worker, tmp_path, tenant=tenant, object_type=object_type, columns=["id"]
        )

        assert rows == [{"id": str(ours)}]


class TestWhoMayExport:
    @pytest.mark.parametrize("object_type", ITEM_TYPES)
    def test_an_api_key_needs_read_on_the_item_type(
        self, tenant: uuid.UUID, object_type: str
    ) -> None:
        with calling_as(tenant, uuid.uuid4(), kind="api_key", scopes=(f"{object_type}:read",)):
            authorize_export(object_type)
        with (
            calling_as(tenant, uuid.uuid4(), kind="api_key", scopes=("contacts:read",)),
            pytest.raises(PermissionDenied),
        ):
            authorize_export(object_type)

    def test_viewers_may_not_as_for_records(self, tenant: uuid.UUID) -> None:
        with calling_as(tenant, uuid.uuid4(), "viewer"), pytest.raises(PermissionDenied):
            authorize_export("tasks")


async def list_ids(session: object, object_type: str) -> list[str]:
    """The ids the item type's list shows in this session (one page holds them all)."""
    if object_type == "tasks":
        page = await tasks.list_page(session, filters=TaskFilter(), limit=100, cursor="")  # type: ignore[arg-type]
    else:
        module = activities if object_type == "activities" else notes
        page = await module.list_page(session, record=None, limit=100, cursor="")  # type: ignore[arg-type]
    return [str(i.id) for i in page.items]


async def create_as(
    factory: Factory, tenant: uuid.UUID, requester: Requester, request: ExportRequest
) -> uuid.UUID:
    """Queues the export in the requester's own session, as the servicer does."""
    assert requester.user_id is not None
    with calling_as(tenant, requester.user_id, *requester.roles):
        async with caller_session(factory) as session:
            return (await exports.create(session, request=request, requester=requester)).id


class TestRequestMessage:
    def test_item_filters_read_from_the_message_name_items_fields(self) -> None:
        record_id = str(uuid.uuid4())
        message = exports_pb2.CreateExportRequest(
            object_type="tasks",
            items=exports_pb2.ItemFilter(
                record=RecordRefMessage(record_type="deals", record_id=record_id),
                statuses=["open"],
                due_before="2026-01-01T00:00:00+00:00",
            ),
        )

        items = request_from_proto(message).selection.items

        assert items == TaskFilter(
            record=RecordRef("deals", uuid.UUID(record_id)),
            statuses=("open",),
            due_before=datetime(2026, 1, 1, tzinfo=UTC),
        )
        assert request_from_proto(exports_pb2.CreateExportRequest()).selection.items is None

    @pytest.mark.parametrize(
        ("items", "field"),
        [
            ({"assignee_id": "nobody"}, "items.assignee_id"),
            ({"due_after": "2026-01-01"}, "items.due_after"),
            ({"record": RecordRefMessage(record_type="people", record_id="x")}, "items.record"),
        ],
    )
    def test_a_malformed_item_filter_names_its_field(
        self, items: dict[str, Any], field: str
    ) -> None:
        message = exports_pb2.CreateExportRequest(
            object_type="tasks", items=exports_pb2.ItemFilter(**items)
        )

        with pytest.raises(InvalidArgument) as refused:
            request_from_proto(message)

        assert refused.value.details["field"] == field
