"""Columns to fields: the suggestion made from the header, and the checked mapping a job
runs with (standard fields, custom fields with their cell parser, the match key)."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from crm_core.custom_fields.field_types import FieldType, value_cleaner
from crm_core.custom_fields.text_values import text_parser
from crm_core.imports.targets import ImportTarget
from crm_core.models import CustomFieldDefinition
from crm_core.records.external_ids import EXTERNAL_ID
from crm_kit.errors import InvalidArgument

CUSTOM_PREFIX = "custom_fields."
MODES = ("create", "update", "upsert")
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


def normalized(header: str) -> str:
    """`E-mail Address` -> `emailaddress`: what synonyms are compared on."""
    return _NOT_ALNUM.sub("", header.lower())


def suggest(
    target: ImportTarget, columns: Sequence[str], definitions: Sequence[CustomFieldDefinition]
) -> dict[str, str]:
    """Header -> field for the columns recognised (by name or synonym, custom fields by key
    or label); each field is suggested once, for the first column that names it."""
    candidates: dict[str, str] = {}
    for name, synonyms in target.synonyms.items():
        for spelling in (normalized(name), *synonyms):
            candidates.setdefault(spelling, name)
    for definition in definitions:
        if definition.field_type == FieldType.RELATION:
            continue
        field = CUSTOM_PREFIX + definition.key
        for spelling in (normalized(definition.key), normalized(definition.label)):
            candidates.setdefault(spelling, field)
    suggested: dict[str, str] = {}
    taken: set[str] = set()
    for column in columns:
        found = candidates.get(normalized(column))
        if found is not None and found not in taken:
            suggested[column] = found
            taken.add(found)
    return suggested


@dataclass(frozen=True)
class CustomColumn:
    definition_id: uuid.UUID
    key: str
    field_type: FieldType
    parse: Callable[[str], Any]
    clean: Callable[[Any, str], Any]
    required: bool
    unique: bool


def custom_column(definition: CustomFieldDefinition) -> CustomColumn:
    field_type = FieldType(definition.field_type)
    options = [o["value"] for o in definition.options]
    return CustomColumn(
        definition_id=definition.id,
        key=definition.key,
        field_type=field_type,
        parse=text_parser(field_type),
        clean=value_cleaner(field_type, options),
        required=definition.required,
        unique=definition.is_unique,
    )


@dataclass(frozen=True)
class JobMapping:
    """A checked mapping: for each column index, a standard field or a custom column."""

    standard: dict[int, str]
    custom: dict[int, CustomColumn]
    headers: list[str]
    mode: str
    match_key: str  # a standard key, external_id or custom_fields.<key>; "" in create mode
    defaults: dict[str, Any]  # custom defaults a created record gets
    required_custom: list[str]  # custom keys a created record must have

    def column_of(self, field: str) -> str:
        for index, name in self.standard.items():
            if name == field:
                return self.headers[index]
        for index, column in self.custom.items():
            if CUSTOM_PREFIX + column.key == field:
                return self.headers[index]
        return ""

    def to_json(self) -> dict[str, Any]:
        fields = {self.headers[i]: f for i, f in self.standard.items()}
        fields.update({self.headers[i]: CUSTOM_PREFIX + c.key for i, c in self.custom.items()})
        return {"fields": fields}


def _problem(message: str, code: str, field: str) -> InvalidArgument:
    return InvalidArgument(message, code=code, field=field)


def checked_mapping(
    target: ImportTarget,
    *,
    headers: Sequence[str],
    fields: dict[str, str],
    mode: str,
    match_key: str,
    definitions: Sequence[CustomFieldDefinition],
) -> JobMapping:
    """The mapping a job may start with, or the first problem, naming its field."""
    if mode not in MODES:
        raise _problem(f"mode is one of {', '.join(MODES)}", "invalid_mode", "mode")
    by_key = {d.key: d for d in definitions}
    standard: dict[int, str] = {}
    custom: dict[int, CustomColumn] = {}
    seen: dict[str, str] = {}
    for header, field in fields.items():
        where = f"mapping.{header}"
        if not field:
            continue
        if header not in headers:
            raise _problem(f"the file has no column {header!r}", "unknown_column", where)
        if field in seen:
            raise _problem(
                f"{field} is mapped from two columns ({seen[field]!r} and {header!r})",
                "field_mapped_twice",
                where,
            )
        seen[field] = header
        index = list(headers).index(header)
        if field.startswith(CUSTOM_PREFIX):
            definition = by_key.get(field.removeprefix(CUSTOM_PREFIX))
            if definition is None:
                raise _problem(f"no custom field {field!r}", "unknown_field", where)
            if definition.field_type == FieldType.RELATION:
                raise _problem(
                    "relation fields cannot be imported (map record ids through the API)",
                    "field_not_importable",
                    where,
                )
            custom[index] = custom_column(definition)
        elif field in target.fields:
            standard[index] = field
        else:
            known = ", ".join([*target.fields, CUSTOM_PREFIX + "<key>"])
            raise _problem(f"unknown field {field!r}; known: {known}", "unknown_field", where)
    if not seen:
        raise _problem("map at least one column to a field", "empty_mapping", "mapping")
    key = _checked_match_key(target, mode, match_key, seen, by_key)
    return JobMapping(
        standard=standard,
        custom=custom,
        headers=list(headers),
        mode=mode,
        match_key=key,
        defaults={
            d.key: d.default_value
            for d in definitions
            if d.default_value is not None and d.field_type != FieldType.RELATION
        },
        required_custom=[
            d.key
            for d in definitions
            if d.required and d.default_value is None and d.field_type != FieldType.RELATION
        ],
    )


def _checked_match_key(
    target: ImportTarget,
    mode: str,
    match_key: str,
    mapped: dict[str, str],
    definitions: dict[str, CustomFieldDefinition],
) -> str:
    if mode == "create":
        # Created rows are checked for duplicates on the type's natural key (email, domain).
        return next((k for k in target.keys if k in mapped), "")
    keys = [*target.keys, EXTERNAL_ID]
    custom_keys = [CUSTOM_PREFIX + k for k, d in definitions.items() if d.is_unique]
    if match_key not in (*keys, *custom_keys):
        allowed = ", ".join([*keys, *custom_keys]) or "none"
        raise _problem(
            f"match_key is one of {allowed} (a unique custom field counts)",
            "invalid_match_key",
            "match_key",
        )
    if match_key not in mapped:
        raise _problem(
            f"map a column to {match_key} to match on it", "match_key_not_mapped", "match_key"
        )
    return match_key


def stored(mapping: JobMapping) -> dict[str, Any]:
    """The mapping as kept on the job (headers to fields), from which it is rebuilt."""
    return mapping.to_json()


def custom_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)
