"""A chunk of CSV rows cleaned in Python with the API's own rules, into staging records
(one per record to write) and per-cell problems.

Rows that name the same record (the same match key) within a chunk are folded into one:
in update and upsert the later row wins cell by cell (an empty cell keeps the earlier
value, as it keeps the stored one), exactly as applying them one after the other would.
In create mode the second is refused as a duplicate of the first.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from crm_core.imports.csv_format import CsvRow
from crm_core.imports.mapping import CUSTOM_PREFIX, JobMapping, custom_json
from crm_core.imports.targets import ImportTarget
from crm_core.records.external_ids import EXTERNAL_ID
from crm_kit.errors import ServiceError

WHOLE_ROW = ""  # the column named by a problem with the whole row


@dataclass
class StagedRow:
    number: int
    values: dict[str, str | None]
    custom: dict[str, Any]
    match: str | None
    folded: list[int] = field(default_factory=list)  # earlier rows folded into this one


@dataclass
class CleanChunk:
    staged: list[StagedRow]
    # (row number, position in the row, column header, reason)
    problems: list[tuple[int, int, str, str]]
    rows: int
    end_offset: int
    next_number: int


def _reason(error: Exception) -> str:
    """The problem as text PostgreSQL can store (a reason may quote the cell)."""
    text = error.message if isinstance(error, ServiceError) else str(error)
    return text.replace("\x00", "\\x00")


class RowCleaner:
    """Cleans rows of one job; keeps what must stay unique within the chunk."""

    def __init__(self, target: ImportTarget, mapping: JobMapping) -> None:
        self.target = target
        self.mapping = mapping
        self.standard = sorted(mapping.standard.items())
        self.custom = sorted(mapping.custom.items())
        self.derived = [d for d in target.derived if d[1] in mapping.standard.values()]
        # Values that must not repeat across records: external id and unique custom fields.
        self.unique_fields = [f for f in mapping.standard.values() if f == EXTERNAL_ID] + [
            CUSTOM_PREFIX + c.key for c in mapping.custom.values() if c.unique
        ]

    def _match_value(self, values: dict[str, str | None], custom: dict[str, Any]) -> str | None:
        key = self.mapping.match_key
        if not key:
            return None
        if key.startswith(CUSTOM_PREFIX):
            found = custom.get(key.removeprefix(CUSTOM_PREFIX))
            return None if found is None else custom_json(found)
        value = values.get(key)
        if not value:
            return None
        return value.lower() if key == "email" else value

    def clean_row(self, row: CsvRow, problems: list[tuple[int, int, str, str]]) -> StagedRow | None:
        if row.problem:
            problems.append((row.number, 0, WHOLE_ROW, row.problem))
            return None
        cells = row.cells
        width = len(cells)
        values: dict[str, str | None] = {}
        custom: dict[str, Any] = {}
        failed = False
        headers = self.mapping.headers
        for index, name in self.standard:
            text = cells[index].strip() if index < width else ""
            if not text:
                values[name] = None
                continue
            try:
                values[name] = self.target.fields[name](text) or None
            except ServiceError as error:
                failed = True
                problems.append((row.number, index + 1, headers[index], _reason(error)))
        for index, column in self.custom:
            text = cells[index].strip() if index < width else ""
            if not text:
                continue
            try:
                custom[column.key] = column.clean(column.parse(text), CUSTOM_PREFIX + column.key)
            except ServiceError as error:
                failed = True
                problems.append((row.number, index + 1, headers[index], _reason(error)))
        if failed:
            return None
        for derived, source, derive in self.derived:
            source_value = values.get(source)
            values[derived] = None if source_value is None else derive(source_value)
        match = self._match_value(values, custom)
        if self.mapping.mode == "update" and match is None:
            index = self._index_of(self.mapping.match_key)
            problems.append(
                (row.number, index + 1, headers[index], f"{self.mapping.match_key} is empty")
            )
            return None
        return StagedRow(row.number, values, custom, match)

    def _index_of(self, field_name: str) -> int:
        for index, name in self.standard:
            if name == field_name:
                return index
        for index, column in self.custom:
            if CUSTOM_PREFIX + column.key == field_name:
                return index
        return -1

    def _unique_values(self, row: StagedRow) -> Iterable[tuple[str, str]]:
        for name in self.unique_fields:
            if name.startswith(CUSTOM_PREFIX):
                value = row.custom.get(name.removeprefix(CUSTOM_PREFIX))
                if value is not None:
                    yield name, custom_json(value)
            elif row.values.get(name):
                yield name, str(row.values[name])

    def clean_chunk(self, rows: list[CsvRow], *, next_number: int, offset: int) -> CleanChunk:
        problems: list[tuple[int, int, str, str]] = []
        by_match: dict[str, StagedRow] = {}
        unique_seen: dict[tuple[str, str], int] = {}
        staged: list[StagedRow] = []
        for row in rows:
            cleaned = self.clean_row(row, problems)
            if cleaned is None:
                continue
            if cleaned.match is not None and cleaned.match in by_match:
                earlier = by_match[cleaned.match]
                if self.mapping.mode == "create":
                    problems.append(self._duplicate(cleaned, earlier))
                    continue
                _fold(earlier, cleaned)
                continue
            clash = next(
                (unique_seen[v] for v in self._unique_values(cleaned) if v in unique_seen), None
            )
            if clash is not None:
                problems.append(
                    (cleaned.number, 0, WHOLE_ROW, f"a unique value repeats row {clash}")
                )
                continue
            for value in self._unique_values(cleaned):
                unique_seen[value] = cleaned.number
            if cleaned.match is not None:
                by_match[cleaned.match] = cleaned
            staged.append(cleaned)
        return CleanChunk(
            staged=staged,
            problems=problems,
            rows=len(rows),
            end_offset=rows[-1].end_offset if rows else offset,
            next_number=rows[-1].number + 1 if rows else next_number,
        )

    def _duplicate(self, row: StagedRow, earlier: StagedRow) -> tuple[int, int, str, str]:
        key = self.mapping.match_key
        index = self._index_of(key)
        return (row.number, index + 1, self.mapping.headers[index], f"repeats row {earlier.number}")


def _fold(earlier: StagedRow, later: StagedRow) -> None:
    """The later row's non-empty cells win; the staged record takes the later number."""
    for name, value in later.values.items():
        if value is not None:
            earlier.values[name] = value
    earlier.custom.update(later.custom)
    earlier.folded.append(earlier.number)
    earlier.number = later.number


def staging_records(target: ImportTarget, staged: list[StagedRow]) -> list[tuple[Any, ...]]:
    """Rows for the staging table, in `staging_columns` order."""
    names = [*target.fields, *(d[0] for d in target.derived)]
    return [
        (
            row.number,
            row.folded,
            uuid.uuid4(),
            row.match,
            *(row.values.get(name) for name in names),
            custom_json(row.custom),
        )
        for row in staged
    ]
