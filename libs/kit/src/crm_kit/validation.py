"""Input rules every service applies the same way: text fields and ids."""

from __future__ import annotations

import uuid

from crm_kit.errors import InvalidArgument, NotFound


def clean_text(value: str, *, field: str, max_length: int, required: bool = False) -> str:
    """Stripped text; refuses NUL (PostgreSQL cannot store it), overlong and missing values."""
    value = value.strip()
    if "\x00" in value:
        raise InvalidArgument(f"{field} must not contain NUL", code="invalid_text", field=field)
    if len(value) > max_length:
        raise InvalidArgument(
            f"{field} must be at most {max_length} characters", code="too_long", field=field
        )
    if required and not value:
        raise InvalidArgument(f"{field} is required", code="required", field=field)
    return value


def optional_uuid(value: str, *, field: str) -> uuid.UUID | None:
    """An optional id in a request: empty is None, malformed is a clear 422."""
    if not value:
        return None
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise InvalidArgument(f"{field} is not a UUID", code="invalid_uuid", field=field) from exc


def resource_id(value: str, *, resource: str) -> uuid.UUID:
    """The id in a resource path: a malformed one answers like an unknown one (404)."""
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise NotFound(f"{resource} not found", code=f"{resource}_not_found") from exc
