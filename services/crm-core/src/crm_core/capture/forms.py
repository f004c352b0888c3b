"""Capture form use cases for the tenant's admins. Each takes the tenant-bound session,
flushes, never commits."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.capture.repository import capture_form_repository
from crm_core.capture.schemas import FormField, FormSettings, new_public_key
from crm_core.custom_fields.field_types import FieldType
from crm_core.custom_fields.repository import custom_field_repository
from crm_core.models import CaptureForm
from crm_core.records.registry import LEADS
from crm_kit.context import current_context
from crm_kit.db.models import new_id, utcnow
from crm_kit.db.session import session_tenant
from crm_kit.errors import InvalidArgument, NotFound

# Custom field types a visitor's text input can fill (a number input fills a number).
FORM_CUSTOM_TYPES = frozenset(
    {
        FieldType.TEXT,
        FieldType.LONG_TEXT,
        FieldType.EMAIL,
        FieldType.PHONE,
        FieldType.URL,
        FieldType.SINGLE_SELECT,
        FieldType.DATE,
        FieldType.NUMBER,
        FieldType.DECIMAL,
    }
)


async def _check_custom_mappings(session: AsyncSession, fields: list[FormField]) -> None:
    """Every `custom_fields.<key>` names a lead custom field a form input can fill."""
    definitions = {d.key: d for d in await custom_field_repository.list_for(session, LEADS.name)}
    for i, form_field in enumerate(fields):
        key = form_field.custom_key
        if key is None:
            continue
        definition = definitions.get(key)
        if definition is None:
            raise InvalidArgument(
                f"leads have no custom field {key!r}",
                code="invalid_mapping",
                field=f"fields.{i}.maps_to",
            )
        if FieldType(definition.field_type) not in FORM_CUSTOM_TYPES:
            raise InvalidArgument(
                f"a form cannot fill the {definition.field_type} field {key!r}",
                code="invalid_mapping",
                field=f"fields.{i}.maps_to",
            )


def _field_dicts(fields: list[FormField]) -> list[dict[str, object]]:
    return [
        {
            "name": f.name,
            "label": f.label,
            "input_type": f.input_type,
            "required": f.required,
            "maps_to": f.maps_to,
        }
        for f in fields
    ]


def form_fields(form: CaptureForm) -> list[FormField]:
    return [
        FormField(
            name=str(f["name"]),
            label=str(f["label"]),
            input_type=str(f["input_type"]),
            required=bool(f["required"]),
            maps_to=str(f["maps_to"]),
        )
        for f in form.fields
    ]


def _apply(form: CaptureForm, settings: FormSettings) -> None:
    form.name = settings.name
    form.fields = _field_dicts(settings.fields)
    form.allowed_origins = settings.allowed_origins
    form.redirect_url = settings.redirect_url
    form.thank_you_message = settings.thank_you_message
    form.double_opt_in = settings.double_opt_in
    form.honeypot_field = settings.honeypot_field
    form.enabled = settings.enabled


async def create(session: AsyncSession, *, settings: FormSettings) -> CaptureForm:
    cleaned = settings.cleaned()
    await _check_custom_mappings(session, cleaned.fields)
    form = CaptureForm(
        id=new_id(),
        tenant_id=session_tenant(session),
        public_key=new_public_key(),
        created_by=current_context().user_id,
    )
    _apply(form, cleaned)
    session.add(form)
    await session.flush()
    return form


async def get(session: AsyncSession, *, form_id: uuid.UUID) -> CaptureForm:
    form = await capture_form_repository.get(session, form_id)
    if form is None:
        raise NotFound("capture form not found", code="capture_form_not_found")
    return form


async def list_all(session: AsyncSession) -> list[CaptureForm]:
    return await capture_form_repository.all(session)


async def update(
    session: AsyncSession, *, form_id: uuid.UUID, settings: FormSettings
) -> CaptureForm:
    """Replaces the settings; the public key, and so every page carrying it, stays."""
    form = await get(session, form_id=form_id)
    cleaned = settings.cleaned()
    await _check_custom_mappings(session, cleaned.fields)
    _apply(form, cleaned)
    form.updated_at = utcnow()
    await session.flush()
    return form


async def delete(session: AsyncSession, *, form_id: uuid.UUID) -> None:
    """Deletes the form and its submission log; leads keep their attribution."""
    form = await get(session, form_id=form_id)
    await session.delete(form)
    await session.flush()
