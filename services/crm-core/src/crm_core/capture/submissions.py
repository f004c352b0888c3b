"""A visitor's submission: find the form by its public key, then in that form's tenant
create a lead or record the submission against the lead or contact with its email.

Attach rule: a lead with the same email (any case) gets the submission, and only its
empty fields and empty first-touch attribution are filled; else a contact with that
email gets it (no lead is made); else a new lead, source `web_form`, carries the
attribution. A filled honeypot answers exactly like success and writes nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.events.v1 import capture_pb2 as events
from crm_core.capture.forms import form_fields
from crm_core.capture.repository import FORM_KEY_GUC, capture_form_repository
from crm_core.capture.schemas import (
    ATTRIBUTION_FIELDS,
    Attribution,
    FormField,
    Submission,
    is_public_key,
)
from crm_core.custom_fields.field_types import FieldType
from crm_core.custom_fields.repository import custom_field_repository
from crm_core.custom_fields.text_values import text_parser
from crm_core.events import outbox
from crm_core.leads import service as leads
from crm_core.leads.schemas import LeadCreate, LeadUpdate
from crm_core.models import CaptureForm, FormSubmission, Lead
from crm_core.records.registry import LEADS
from crm_kit.db.models import new_id, utcnow
from crm_kit.db.session import unit_of_work
from crm_kit.errors import InvalidArgument, NotFound, PermissionDenied
from crm_kit.timestamps import to_timestamp

VALUE_MAX = 10_000
SUBMISSION_EVENT = "crm_core.capture.submission.received"


@dataclass(frozen=True)
class Outcome:
    """What the visitor is told; the same whether the submission was kept or a bot's."""

    redirect_url: str
    thank_you_message: str


def _form_not_found() -> NotFound:
    # One answer for unknown, malformed and disabled keys.
    return NotFound("form not found", code="form_not_found")


async def tenant_of_key(factory: async_sessionmaker[AsyncSession], public_key: str) -> uuid.UUID:
    """The form's tenant, read through the key-bound lookup policy and nothing else."""
    if not is_public_key(public_key):
        raise _form_not_found()
    async with unit_of_work(factory, tenant_id=None, gucs={FORM_KEY_GUC: public_key}) as session:
        tenant = await capture_form_repository.tenant_of_key(session, public_key)
    if tenant is None:
        raise _form_not_found()
    return tenant


async def enabled_form(session: AsyncSession, public_key: str) -> CaptureForm:
    form = await capture_form_repository.by_key(session, public_key)
    if form is None or not form.enabled:
        raise _form_not_found()
    return form


def check_origin(form: CaptureForm, origin: str) -> None:
    """A browser on another site sends its Origin: it must be one the form allows."""
    if origin and origin.lower().rstrip("/") not in form.allowed_origins:
        raise PermissionDenied(
            "this form does not accept submissions from that origin", code="origin_not_allowed"
        )


def _typed(form_field: FormField, field_type: FieldType, value: str) -> Any:
    """The input as its custom field's type takes it (an import's cells are read alike),
    whatever the input's own type."""
    try:
        return text_parser(field_type)(value)
    except InvalidArgument as exc:
        raise InvalidArgument(
            f"{form_field.label}: {exc.message}", code="invalid_value", field=form_field.name
        ) from exc


async def _custom_types(session: AsyncSession, fields: list[FormField]) -> dict[str, FieldType]:
    """The lead custom fields' types, read only for a form that fills some."""
    if all(f.custom_key is None for f in fields):
        return {}
    definitions = await custom_field_repository.list_for(session, LEADS.name)
    return {d.key: FieldType(d.field_type) for d in definitions}


def _mapped_values(
    fields: list[FormField], values: dict[str, str], types: dict[str, FieldType]
) -> tuple[dict[str, str], dict[str, Any]]:
    """(standard lead values, custom values) from the visitor's input; required checked.
    A custom field deleted since the form was saved is sent as text; the lead's own
    checks decide."""
    standard: dict[str, str] = {}
    custom: dict[str, Any] = {}
    for form_field in fields:
        value = values.get(form_field.name, "").strip()
        if len(value) > VALUE_MAX:
            raise InvalidArgument(
                f"{form_field.label} is too long", code="too_long", field=form_field.name
            )
        if not value:
            if form_field.required:
                raise InvalidArgument(
                    f"{form_field.label} is required", code="required", field=form_field.name
                )
            continue
        key = form_field.custom_key
        if key is None:
            standard[form_field.maps_to] = value
        else:
            custom[key] = _typed(form_field, types.get(key, FieldType.TEXT), value)
    return standard, custom


def _form_field_error(exc: InvalidArgument, fields: list[FormField]) -> InvalidArgument:
    """A lead field's error, renamed to the form field the visitor filled."""
    names = {f.maps_to: f.name for f in fields}
    lead_field = str(exc.details.get("field", ""))
    exc.details["field"] = names.get(lead_field, lead_field)
    return exc


async def _attach_to_lead(
    session: AsyncSession,
    lead: Lead,
    *,
    standard: dict[str, str],
    custom: dict[str, Any],
    form: CaptureForm,
    attribution: Attribution,
) -> None:
    """Fills what the lead lacks; never overwrites a value or the first touch."""
    changes: dict[str, object] = {k: v for k, v in standard.items() if not getattr(lead, k)}
    new_custom = {k: v for k, v in custom.items() if k not in lead.custom_fields}
    if changes or new_custom:
        await leads.update(
            session,
            lead_id=lead.id,
            data=LeadUpdate(changes=changes, custom_fields=new_custom),
        )
    has_touch = lead.capture_form_id is not None or any(
        getattr(lead, name) for name in ATTRIBUTION_FIELDS
    )
    if not has_touch:
        _set_first_touch(lead, form, attribution)
        await session.flush()


def _set_first_touch(lead: Lead, form: CaptureForm, attribution: Attribution) -> None:
    for name, value in attribution.as_columns().items():
        setattr(lead, name, value)
    lead.capture_form_id = form.id


async def record(
    session: AsyncSession, *, form: CaptureForm, values: dict[str, str], attribution: Attribution
) -> FormSubmission:
    """Creates the lead, or attaches to the lead/contact with the email; logs the submission."""
    fields = form_fields(form)
    standard, custom = _mapped_values(fields, values, await _custom_types(session, fields))
    email = standard["email"]  # the form's email field is required (see FormSettings)
    await capture_form_repository.lock_email(session, form.tenant_id, email)
    submission = FormSubmission(
        id=new_id(), form_id=form.id, submitted_at=utcnow(), **attribution.as_columns()
    )
    try:
        lead = await capture_form_repository.lead_by_email(session, email)
        if lead is not None:
            await _attach_to_lead(
                session, lead, standard=standard, custom=custom, form=form, attribution=attribution
            )
            submission.outcome, submission.lead_id = "attached_to_lead", lead.id
        elif contact_id := await capture_form_repository.contact_id_by_email(session, email):
            submission.outcome, submission.contact_id = "attached_to_contact", contact_id
        else:
            data = LeadCreate(
                first_name=standard.get("first_name", ""),
                last_name=standard.get("last_name", ""),
                email=email,
                phone=standard.get("phone", ""),
                company_name=standard.get("company_name", ""),
                domain=standard.get("domain", ""),
                source="web_form",
                custom_fields=custom,
            )
            lead = await leads.create(session, data=data)
            _set_first_touch(lead, form, attribution)
            submission.outcome, submission.lead_id = "lead_created", lead.id
    except InvalidArgument as exc:
        raise _form_field_error(exc, fields) from None
    session.add(submission)
    await session.flush()
    outbox.add(
        session,
        event_type=SUBMISSION_EVENT,
        tenant_id=form.tenant_id,
        payload=_event(submission),
    )
    return submission


def _event(submission: FormSubmission) -> events.CaptureSubmissionReceived:
    return events.CaptureSubmissionReceived(
        submission_id=str(submission.id),
        form_id=str(submission.form_id),
        outcome=submission.outcome,
        lead_id=str(submission.lead_id or ""),
        contact_id=str(submission.contact_id or ""),
        submitted_at=to_timestamp(submission.submitted_at),
        **{name: getattr(submission, name) for name in ATTRIBUTION_FIELDS},
    )


async def submit(factory: async_sessionmaker[AsyncSession], *, submission: Submission) -> Outcome:
    """The public entry: resolve the key's tenant, then do everything bound to it."""
    tenant = await tenant_of_key(factory, submission.public_key)
    async with unit_of_work(factory, tenant_id=tenant) as session:
        form = await enabled_form(session, submission.public_key)
        check_origin(form, submission.origin)
        outcome = Outcome(form.redirect_url, form.thank_you_message)
        if submission.values.get(form.honeypot_field, "").strip():
            return outcome
        await record(
            session,
            form=form,
            values=submission.values,
            attribution=submission.attribution.cleaned(),
        )
    return outcome


async def public_form(factory: async_sessionmaker[AsyncSession], public_key: str) -> CaptureForm:
    """An enabled form by its key, for the hosted page and the snippet."""
    tenant = await tenant_of_key(factory, public_key)
    async with unit_of_work(factory, tenant_id=tenant) as session:
        return await enabled_form(session, public_key)
