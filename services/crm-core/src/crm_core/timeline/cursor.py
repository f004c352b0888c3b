"""Opaque keyset cursors over (time, id)."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime

from crm_kit.errors import InvalidArgument


def encode_cursor(at: datetime, item_id: uuid.UUID) -> str:
    raw = json.dumps({"at": at.isoformat(), "id": str(item_id)}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The (time, id) a cursor points after; anything else is a clear InvalidArgument."""
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        at = datetime.fromisoformat(data["at"])
        if at.tzinfo is None:
            raise ValueError("naive time")
        return at, uuid.UUID(data["id"])
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidArgument("cursor is not valid", code="invalid_cursor", field="cursor") from exc
