"""Ranked full-text search over an object's generated search columns.

A record matches when its 'simple' tsvector matches the query's words, when its
lowercased search text contains the query (partial names, emails, domains, phone
digits; the trigram GIN index serves this), or when a word of it is similar to the
query (typos). Rank: ts_rank plus trigram word similarity.

Trigram matching needs the pg_trgm extension; where PostgreSQL lacks it (the embedded
server of `make run`), search keeps words and substrings and drops typo tolerance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import cast, func, literal, or_, select, text
from sqlalchemy.dialects.postgresql import REGCONFIG
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from crm_core.records.registry import ObjectSpec
from crm_kit.validation import clean_text

QUERY_MAX = 200


@dataclass(frozen=True)
class TextMatch:
    predicate: ColumnElement[bool]
    rank: ColumnElement[Any]


async def trigram_available(session: AsyncSession) -> bool:
    found = await session.scalar(
        select(text("1")).select_from(text("pg_extension")).where(text("extname = 'pg_trgm'"))
    )
    return found is not None


def text_match(spec: ObjectSpec, query: str, *, trigram: bool) -> TextMatch | None:
    """The match and rank of a query; None for a blank one."""
    words = clean_text(query, field="query", max_length=QUERY_MAX).lower()
    if not words:
        return None
    search_text = spec.model.search_text
    search_vector = spec.model.search_vector
    tsquery = func.plainto_tsquery(cast("simple", REGCONFIG), words)
    matches = [search_vector.op("@@")(tsquery), search_text.contains(words, autoescape=True)]
    rank: ColumnElement[Any] = func.ts_rank(search_vector, tsquery)
    if trigram:
        matches.append(literal(words).op("<%")(search_text))
        rank = rank + func.word_similarity(words, search_text)
    return TextMatch(or_(*matches), rank)
