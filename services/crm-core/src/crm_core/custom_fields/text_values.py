"""A custom value typed as text (a CSV cell, a form input) as the JSON value its field's
cleaner takes: numbers, yes/no, `1999 EUR`, `a|b` or `a;b` for multi selects. The
cleaner (`field_types.value_cleaner`) then checks it as it checks an API write."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from crm_core.custom_fields.field_types import FieldType
from crm_kit.errors import InvalidArgument

_TRUE = frozenset({"true", "yes", "y", "1", "x", "on", "ja", "oui"})
_FALSE = frozenset({"false", "no", "n", "0", "off", "nein", "non"})


def _number(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return float(_not_a(text, "a number"))


def _not_a(text: str, what: str) -> Any:
    raise InvalidArgument(f"{text!r} is not {what}", code="invalid_custom_field")


def _boolean(text: str) -> bool:
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    return bool(_not_a(text, "true or false (yes/no, 1/0)"))


def _currency(text: str) -> dict[str, Any]:
    parts = text.split()
    if len(parts) == 2 and parts[0].isalpha():
        parts.reverse()
    if len(parts) != 2 or not parts[0].lstrip("-").isdigit():
        return dict(_not_a(text, "an amount in minor units and a currency (1999 EUR)"))
    return {"amount_minor": int(parts[0]), "currency": parts[1]}


def _multi(text: str) -> list[str]:
    return [part.strip() for part in re.split(r"[|;]", text) if part.strip()]


# How a text becomes the JSON value the custom field's cleaner takes; types missing
# here take the text as it is.
_TEXT_PARSERS: dict[FieldType, Callable[[str], Any]] = {
    FieldType.NUMBER: _number,
    FieldType.BOOLEAN: _boolean,
    FieldType.CURRENCY: _currency,
    FieldType.MULTI_SELECT: _multi,
}


def _as_is(text: str) -> str:
    return text


def text_parser(field_type: FieldType) -> Callable[[str], Any]:
    """The parser for a field type's text."""
    return _TEXT_PARSERS.get(field_type, _as_is)
