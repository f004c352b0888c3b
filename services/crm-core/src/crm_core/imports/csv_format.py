"""Reading an uploaded CSV: its BOM and delimiter, its header, and its rows with the byte
offset after each, so a job can stop after any committed chunk and resume there."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from crm_kit.errors import InvalidArgument

BOM = b"\xef\xbb\xbf"
DELIMITERS = (",", ";", "\t")
SNIFF_BYTES = 256 * 1024
PREVIEW_ROWS = 5
PREVIEW_CELL_MAX = 1000
MAX_COLUMNS = 500
HEADER_MAX = 200
# A field longer than this is refused rather than read into memory (long text is 65535).
FIELD_LIMIT = 1024 * 1024
csv.field_size_limit(FIELD_LIMIT)


@dataclass(frozen=True)
class CsvShape:
    has_bom: bool
    delimiter: str
    columns: list[str]
    data_offset: int  # where the first data row starts
    preview: list[list[str]]


class _Lines:
    """The file's lines decoded, counting the bytes handed to the csv reader."""

    def __init__(self, source: BinaryIO, offset: int) -> None:
        self._source = source
        self.offset = offset
        self.bad_encoding = False

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = self._source.readline()
        if not line:
            raise StopIteration
        self.offset += len(line)
        try:
            return line.decode("utf-8")
        except UnicodeDecodeError:
            self.bad_encoding = True
            return line.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class CsvRow:
    number: int  # as a spreadsheet shows it: the header is row 1
    cells: list[str]
    end_offset: int
    problem: str = ""  # set when the row cannot be read at all


def _pick_delimiter(head: str) -> str:
    """The candidate that splits the first lines into the same, largest number of fields."""
    lines = head.splitlines()[:20] or [""]
    best, best_width = ",", 0
    for delimiter in DELIMITERS:
        try:
            widths = [len(r) for r in csv.reader(lines[:-1] or lines, delimiter=delimiter)]
        except csv.Error:
            continue
        if not widths:
            continue
        width = widths[0]
        consistent = sum(1 for w in widths if w == width)
        score = width * consistent
        if width > 1 and score > best_width:
            best, best_width = delimiter, score
    return best


def sniff(source: BinaryIO) -> CsvShape:
    """The file's shape from its first bytes; refuses what is not a UTF-8 CSV with a header."""
    head_bytes = source.read(SNIFF_BYTES)
    has_bom = head_bytes.startswith(BOM)
    if has_bom:
        head_bytes = head_bytes[len(BOM) :]
    try:
        head = head_bytes.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head_bytes) - 4:
            raise InvalidArgument(
                f"the file is not UTF-8 (byte {exc.start}); save it as CSV UTF-8",
                code="invalid_encoding",
                field="file",
            ) from exc
        head = head_bytes[: exc.start].decode("utf-8")
    if not head.strip():
        raise InvalidArgument("the file is empty", code="empty_file", field="file")
    if "\x00" in head:
        raise InvalidArgument(
            "the file contains NUL characters: it is not a text CSV",
            code="invalid_csv",
            field="file",
        )
    delimiter = _pick_delimiter(head)
    source.seek(len(BOM) if has_bom else 0)
    lines = _Lines(source, len(BOM) if has_bom else 0)
    reader = csv.reader(lines, delimiter=delimiter, strict=False)
    try:
        header = next(reader)
        preview = [
            [cell[:PREVIEW_CELL_MAX] for cell in row]
            for _, row in zip(range(PREVIEW_ROWS), reader, strict=False)
        ]
    except csv.Error as exc:
        raise InvalidArgument(
            f"the file is not CSV: {exc}", code="invalid_csv", field="file"
        ) from exc
    columns = [c.strip() for c in header]
    if not any(columns):
        raise InvalidArgument("the first row must name the columns", code="no_header", field="file")
    if len(columns) > MAX_COLUMNS or any(len(c) > HEADER_MAX for c in columns):
        raise InvalidArgument(
            f"at most {MAX_COLUMNS} columns of names up to {HEADER_MAX} characters",
            code="invalid_header",
            field="file",
        )
    # The header's end: re-read it alone, since the preview moved the offset on.
    source.seek(len(BOM) if has_bom else 0)
    header_lines = _Lines(source, len(BOM) if has_bom else 0)
    next(csv.reader(header_lines, delimiter=delimiter, strict=False))
    return CsvShape(has_bom, delimiter, columns, header_lines.offset, preview)


def read_rows(
    source: BinaryIO, *, delimiter: str, offset: int, first_number: int
) -> Iterator[CsvRow]:
    """Rows from `offset` on, each with the offset just after it. Blank lines are skipped;
    a row that is not valid UTF-8 or not CSV comes with its problem instead of cells."""
    source.seek(offset)
    lines = _Lines(source, offset)
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    number = first_number
    while True:
        lines.bad_encoding = False
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield CsvRow(number, [], lines.offset, f"the row is not valid CSV: {exc}")
            number += 1
            reader = csv.reader(lines, delimiter=delimiter, strict=True)
            continue
        if not any(cell.strip() for cell in cells):
            number += 1  # a blank line is an empty spreadsheet row: skipped, still counted
            continue
        if lines.bad_encoding:
            yield CsvRow(number, [], lines.offset, "the row is not valid UTF-8")
        else:
            yield CsvRow(number, cells, lines.offset)
        number += 1
