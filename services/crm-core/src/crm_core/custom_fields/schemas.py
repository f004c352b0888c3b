"""Custom field definition inputs, validated here so every transport gets the same rules."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from crm_core.custom_fields.field_types import (
    SELECT_TYPES,
    UNIQUE_CAPABLE,
    FieldType,
    parse_field_type,
    value_cleaner,
)
from crm_core.records.registry import object_spec
from crm_kit.errors import InvalidArgument
from crm_kit.validation import clean_text

KEY_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,63}")
MAX_OPTIONS = 200
LABEL_MAX = 200


@dataclass(frozen=True)
class SelectOption:
    value: str
    label: str


def clean_options(field_type: FieldType, options: list[SelectOption]) -> list[dict[str, str]]:
    """Select options as stored; other types take none."""
    if field_type not in SELECT_TYPES:
        if options:
            raise InvalidArgument(
                "only select fields take options", code="options_not_allowed", field="options"
            )
        return []
    if not options or len(options) > MAX_OPTIONS:
        raise InvalidArgument(
            f"a select field needs 1..{MAX_OPTIONS} options",
            code="invalid_options",
            field="options",
        )
    cleaned = [
        {
            "value": clean_text(o.value, field="options.value", max_length=200, required=True),
            "label": clean_text(o.label or o.value, field="options.label", max_length=200),
        }
        for o in options
    ]
    if len({o["value"] for o in cleaned}) != len(cleaned):
        raise InvalidArgument(
            "option values must be unique", code="invalid_options", field="options"
        )
    return cleaned


def check_default(
    field_type: FieldType, options: list[dict[str, str]], default: Any, *, is_unique: bool
) -> Any:
    """The default in stored form; relations and unique fields take none."""
    if default is None:
        return None
    if field_type is FieldType.RELATION or is_unique:
        raise InvalidArgument(
            "relation and unique fields cannot have a default",
            code="default_not_allowed",
            field="default_value",
        )
    return value_cleaner(field_type, [o["value"] for o in options])(default, "default_value")


def check_unique_capable(field_type: FieldType, is_unique: bool) -> None:
    if is_unique and field_type not in UNIQUE_CAPABLE:
        raise InvalidArgument(
            f"a {field_type} field cannot be unique", code="unique_not_allowed", field="is_unique"
        )


@dataclass(frozen=True)
class CustomFieldCreate:
    object_type: str
    key: str
    label: str
    field_type: str
    required: bool = False
    is_unique: bool = False
    default_value: Any = None
    options: list[SelectOption] = field(default_factory=list)
    relation_object_type: str = ""
    position: int = 0

    def cleaned(self) -> dict[str, Any]:
        """The definition's columns, or InvalidArgument naming the first bad field."""
        object_spec(self.object_type)
        if not KEY_PATTERN.fullmatch(self.key):
            raise InvalidArgument(
                "key must be a lowercase slug: a-z first, then a-z, 0-9 or _ (at most 64)",
                code="invalid_key",
                field="key",
            )
        field_type = parse_field_type(self.field_type)
        options = clean_options(field_type, self.options)
        check_unique_capable(field_type, self.is_unique)
        relation = None
        if field_type is FieldType.RELATION:
            relation = object_spec(
                self.relation_object_type, field_name="relation_object_type"
            ).name
        elif self.relation_object_type:
            raise InvalidArgument(
                "only relation fields take relation_object_type",
                code="relation_not_allowed",
                field="relation_object_type",
            )
        return {
            "object_type": self.object_type,
            "key": self.key,
            "label": clean_text(self.label, field="label", max_length=LABEL_MAX, required=True),
            "field_type": field_type.value,
            "required": self.required,
            "is_unique": self.is_unique,
            "default_value": check_default(
                field_type, options, self.default_value, is_unique=self.is_unique
            ),
            "options": options,
            "relation_object_type": relation,
            "position": self.position,
        }


UNSET: Any = object()


@dataclass(frozen=True)
class CustomFieldUpdate:
    """Only the fields given are changed; `default_value=None` removes the default."""

    label: str | None = None
    field_type: str | None = None
    required: bool | None = None
    is_unique: bool | None = None
    default_value: Any = UNSET
    options: list[SelectOption] | None = None
    position: int | None = None
    expected_version: int | None = None
