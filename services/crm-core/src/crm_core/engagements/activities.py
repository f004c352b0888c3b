"""Activity use cases: calls, meetings and emails logged against records."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.engagements.items import (
    ItemKind,
    ItemPage,
    add_item,
    attached_to,
    newest_first,
    parse_time,
    update_item,
)
from crm_core.models import Activity
from crm_core.models.engagement import ACTIVITY_KINDS
from crm_core.timeline.record_refs import RecordRef, checked_refs, require_record
from crm_kit.db.models import new_id, utcnow
from crm_kit.errors import InvalidArgument
from crm_kit.validation import clean_text

ACTIVITY = ItemKind(
    name="activity",
    model=Activity,
    fields=(
        "kind",
        "subject",
        "body",
        "occurred_at",
        "duration_seconds",
        "participant_contact_ids",
        "participant_emails",
        "owner_id",
    ),
)
MAX_PARTICIPANTS = 100
# The list (and an export) runs most recent first by this time.
LISTED_AT = Activity.occurred_at


@dataclass(frozen=True)
class ActivityCreate:
    kind: str
    subject: str
    body: str = ""
    occurred_at: str = ""
    duration_seconds: int | None = None
    participant_contact_ids: list[uuid.UUID] = field(default_factory=list)
    participant_emails: list[str] = field(default_factory=list)
    records: list[RecordRef] = field(default_factory=list)
    owner_id: uuid.UUID | None = None


def _kind(value: Any) -> str:
    if value not in ACTIVITY_KINDS:
        raise InvalidArgument(
            f"kind is one of {', '.join(ACTIVITY_KINDS)}", code="invalid_kind", field="kind"
        )
    return str(value)


def _duration(value: Any) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise InvalidArgument(
            "duration_seconds is 0 or more", code="invalid_duration", field="duration_seconds"
        )
    return value


def _emails(values: Any) -> list[str]:
    if len(values) > MAX_PARTICIPANTS:
        raise InvalidArgument(
            "too many participants", code="too_many_participants", field="participant_emails"
        )
    try:
        return sorted(
            {validate_email(str(v), check_deliverability=False).normalized.lower() for v in values}
        )
    except EmailNotValidError as exc:
        raise InvalidArgument(str(exc), code="invalid_email", field="participant_emails") from exc


def _contacts(values: Any) -> list[uuid.UUID]:
    if len(values) > MAX_PARTICIPANTS:
        raise InvalidArgument(
            "too many participants", code="too_many_participants", field="participant_contact_ids"
        )
    return sorted(set(values))


CLEANERS: dict[str, Any] = {
    "kind": _kind,
    "subject": lambda v: clean_text(str(v), field="subject", max_length=200, required=True),
    "body": lambda v: clean_text(str(v), field="body", max_length=65535),
    "occurred_at": lambda v: parse_time(str(v), field="occurred_at") or utcnow(),
    "duration_seconds": _duration,
    "participant_contact_ids": _contacts,
    "participant_emails": _emails,
    "owner_id": lambda v: v,
}


def cleaned(changes: dict[str, Any]) -> dict[str, Any]:
    unknown = set(changes) - set(CLEANERS)
    if unknown:
        raise InvalidArgument(f"unknown fields: {sorted(unknown)}", code="unknown_field")
    return {name: CLEANERS[name](value) for name, value in changes.items()}


async def create(session: AsyncSession, *, data: ActivityCreate) -> Activity:
    values = cleaned({name: getattr(data, name) for name in CLEANERS})
    await _check_participants(session, values["participant_contact_ids"])
    activity = Activity(id=new_id(), **values)
    return cast(Activity, await add_item(session, ACTIVITY, activity, data.records))


async def _check_participants(session: AsyncSession, contact_ids: list[uuid.UUID]) -> None:
    try:
        await checked_refs(session, [RecordRef("contacts", c) for c in contact_ids])
    except InvalidArgument as exc:
        raise InvalidArgument(
            "participant_contact_ids names a contact that does not exist",
            code="contact_not_found",
            field="participant_contact_ids",
        ) from exc


async def update(
    session: AsyncSession,
    *,
    activity_id: uuid.UUID,
    changes: dict[str, Any],
    refs: Sequence[RecordRef] | None,
    expected_version: int | None,
) -> Activity:
    values = cleaned(changes)
    if "participant_contact_ids" in values:
        await _check_participants(session, values["participant_contact_ids"])
    return cast(
        Activity,
        await update_item(
            session,
            ACTIVITY,
            activity_id,
            changes=values,
            refs=refs,
            expected_version=expected_version,
        ),
    )


async def list_page(
    session: AsyncSession, *, record: RecordRef | None, limit: int, cursor: str
) -> ItemPage:
    """Activities, most recent first; only the record's when given (unknown record: 404)."""
    query = select(Activity)
    if record is not None:
        await require_record(session, record)
        query = query.where(attached_to(ACTIVITY, record))
    return await newest_first(
        session, query, at=LISTED_AT, id_=Activity.id, limit=limit, cursor=cursor
    )
