"""The custom field types and the rule each applies to a value before it is stored.

Stored forms (JSON in the record's `custom_fields`): text-like types, single select,
relation (a record id) and date (`YYYY-MM-DD`) as strings; datetime as an ISO 8601
string in UTC; number as a JSON number; decimal as a canonical decimal string (exact);
currency as `{"amount_minor": int, "currency": "EUR"}`; boolean as true/false;
multi select as a list of option values in the options' order.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from crm_core.custom_fields.currencies import ISO_4217_CODES
from crm_core.records.registry import ValueKind
from crm_kit.errors import InvalidArgument

TEXT_MAX = 1000
LONG_TEXT_MAX = 65_535
URL_MAX = 2048
DECIMAL_MAX_DIGITS = 38
DECIMAL_MAX_EXPONENT = 100
# Larger integers do not survive JSON numbers (doubles) on the way in.
SAFE_INTEGER = 2**53


class FieldType(StrEnum):
    TEXT = "text"
    LONG_TEXT = "long_text"
    NUMBER = "number"
    DECIMAL = "decimal"
    CURRENCY = "currency"
    DATE = "date"
    DATETIME = "datetime"
    BOOLEAN = "boolean"
    SINGLE_SELECT = "single_select"
    MULTI_SELECT = "multi_select"
    EMAIL = "email"
    PHONE = "phone"
    URL = "url"
    RELATION = "relation"


VALUE_KINDS: dict[FieldType, ValueKind] = {
    FieldType.TEXT: ValueKind.TEXT,
    FieldType.LONG_TEXT: ValueKind.TEXT,
    FieldType.NUMBER: ValueKind.NUMBER,
    FieldType.DECIMAL: ValueKind.NUMBER,
    FieldType.CURRENCY: ValueKind.NUMBER,
    FieldType.DATE: ValueKind.DATE,
    FieldType.DATETIME: ValueKind.DATETIME,
    FieldType.BOOLEAN: ValueKind.BOOLEAN,
    FieldType.SINGLE_SELECT: ValueKind.TEXT,
    FieldType.MULTI_SELECT: ValueKind.MULTI,
    FieldType.EMAIL: ValueKind.TEXT,
    FieldType.PHONE: ValueKind.TEXT,
    FieldType.URL: ValueKind.TEXT,
    FieldType.RELATION: ValueKind.UUID,
}

SELECT_TYPES = frozenset({FieldType.SINGLE_SELECT, FieldType.MULTI_SELECT})
# Types whose values can be told apart reliably enough to enforce uniqueness.
UNIQUE_CAPABLE = frozenset(
    {
        FieldType.TEXT,
        FieldType.NUMBER,
        FieldType.DECIMAL,
        FieldType.DATE,
        FieldType.DATETIME,
        FieldType.EMAIL,
        FieldType.PHONE,
        FieldType.URL,
        FieldType.RELATION,
    }
)
# Type changes that keep every stored value valid as it is.
COMPATIBLE_CHANGES: dict[FieldType, frozenset[FieldType]] = {
    FieldType.TEXT: frozenset({FieldType.LONG_TEXT}),
    FieldType.EMAIL: frozenset({FieldType.TEXT, FieldType.LONG_TEXT}),
    FieldType.PHONE: frozenset({FieldType.TEXT, FieldType.LONG_TEXT}),
    FieldType.URL: frozenset({FieldType.TEXT, FieldType.LONG_TEXT}),
    FieldType.SINGLE_SELECT: frozenset({FieldType.TEXT, FieldType.LONG_TEXT}),
}


def parse_field_type(value: str) -> FieldType:
    try:
        return FieldType(value)
    except ValueError as exc:
        raise InvalidArgument(
            f"unknown field type {value!r}; known: {', '.join(FieldType)}",
            code="unknown_field_type",
            field="field_type",
        ) from exc


def _invalid(field: str, message: str) -> InvalidArgument:
    return InvalidArgument(f"{field}: {message}", code="invalid_custom_field", field=field)


def _text(max_length: int) -> Callable[[Any, str], Any]:
    def clean(value: Any, field: str) -> str:
        if not isinstance(value, str):
            raise _invalid(field, "must be a string")
        if "\x00" in value:
            raise _invalid(field, "must not contain NUL")
        if len(value) > max_length:
            raise _invalid(field, f"must be at most {max_length} characters")
        return value

    return clean


def _number(value: Any, field: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _invalid(field, "must be a number")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _invalid(field, "must be a finite number")
        if value.is_integer() and abs(value) < SAFE_INTEGER:
            return int(value)
    elif abs(value) >= SAFE_INTEGER:
        raise _invalid(field, "is too large")
    return value


def parse_decimal(value: Any, field: str) -> Decimal:
    """A finite decimal from a number or a decimal string."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _invalid(field, "must be a decimal number or string")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise _invalid(field, "must be a decimal number") from exc
    if (
        not number.is_finite()
        or len(number.as_tuple().digits) > DECIMAL_MAX_DIGITS
        or abs(number.adjusted()) > DECIMAL_MAX_EXPONENT
    ):
        raise _invalid(field, f"must be finite with at most {DECIMAL_MAX_DIGITS} digits")
    return number


def _decimal(value: Any, field: str) -> str:
    return format(parse_decimal(value, field), "f")


def _currency(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict) or set(value) != {"amount_minor", "currency"}:
        raise _invalid(field, "must be {amount_minor, currency}")
    amount = _number(value["amount_minor"], field)
    if not isinstance(amount, int):
        raise _invalid(field, "amount_minor must be an integer (minor units)")
    code = value["currency"]
    if not isinstance(code, str) or code.upper() not in ISO_4217_CODES:
        raise _invalid(field, "currency must be an ISO 4217 code")
    return {"amount_minor": amount, "currency": code.upper()}


def parse_date(value: Any, field: str) -> date:
    if not isinstance(value, str) or len(value) != 10:
        raise _invalid(field, "must be a date YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise _invalid(field, "must be a date YYYY-MM-DD") from exc


def parse_datetime(value: Any, field: str) -> datetime:
    """An aware datetime in UTC; a time without an offset is refused, not guessed."""
    if not isinstance(value, str) or len(value) < 16:
        raise _invalid(field, "must be an ISO 8601 date-time with an offset")
    try:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise _invalid(field, "must carry a UTC offset")
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise _invalid(field, "must be an ISO 8601 date-time with an offset") from exc


def _date(value: Any, field: str) -> str:
    return parse_date(value, field).isoformat()


def _datetime(value: Any, field: str) -> str:
    return parse_datetime(value, field).isoformat()


def _boolean(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise _invalid(field, "must be true or false")
    return value


def _email(value: Any, field: str) -> str:
    text = _text(320)(value, field)
    try:
        return validate_email(text, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise _invalid(field, "must be an email address") from exc


def normalize_phone(value: str) -> str | None:
    """E.164 of a valid international number (with its +country code), else None."""
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _phone(value: Any, field: str) -> str:
    normalized = normalize_phone(_text(50)(value, field))
    if normalized is None:
        raise _invalid(field, "must be a valid phone number with its country code (+...)")
    return normalized


def _url(value: Any, field: str) -> str:
    text = str(_text(URL_MAX)(value, field)).strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname or " " in text:
        raise _invalid(field, "must be an http(s) URL")
    return text


def _relation(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise _invalid(field, "must be a record id")
    try:
        return str(uuid.UUID(value))
    except ValueError as exc:
        raise _invalid(field, "must be a record id") from exc


def _single_select(options: Sequence[str]) -> Callable[[Any, str], Any]:
    def clean(value: Any, field: str) -> str:
        if not isinstance(value, str) or value not in options:
            raise _invalid(field, f"must be one of {list(options)}")
        return value

    return clean


def _multi_select(options: Sequence[str]) -> Callable[[Any, str], Any]:
    def clean(value: Any, field: str) -> list[str]:
        if not isinstance(value, list) or any(v not in options for v in value):
            raise _invalid(field, f"must be a list of values among {list(options)}")
        return [option for option in options if option in value]

    return clean


def value_cleaner(field_type: FieldType, options: Sequence[str]) -> Callable[[Any, str], Any]:
    """The function that turns an input value into its stored form, or raises."""
    cleaners: dict[FieldType, Callable[[Any, str], Any]] = {
        FieldType.TEXT: _text(TEXT_MAX),
        FieldType.LONG_TEXT: _text(LONG_TEXT_MAX),
        FieldType.NUMBER: _number,
        FieldType.DECIMAL: _decimal,
        FieldType.CURRENCY: _currency,
        FieldType.DATE: _date,
        FieldType.DATETIME: _datetime,
        FieldType.BOOLEAN: _boolean,
        FieldType.SINGLE_SELECT: _single_select(options),
        FieldType.MULTI_SELECT: _multi_select(options),
        FieldType.EMAIL: _email,
        FieldType.PHONE: _phone,
        FieldType.URL: _url,
        FieldType.RELATION: _relation,
    }
    return cleaners[field_type]
