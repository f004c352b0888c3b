"""Ranked full-text search over an object's generated search columns.

A record matches when its 'simple' tsvector matches the query's words, when its
lowercased search text contains the query (partial names, emails, domains, phone
digits), or when a word of it is similar to the query (typos). Rank: ts_rank plus
trigram word similarity.

The runtime role is bound by row-level security, so only LEAKPROOF conditions can be
index conditions (migration 0002 marks `@@` and pg_trgm's `<%`; LIKE cannot be). The
match is therefore two conditions ANDed: words OR the query's trigrams all present
(`crm_search_trigrams(search_text) @@ ...`, GIN) OR typo, which the indexes serve; and
words OR the substring itself (LIKE) OR typo, checked on the few rows found. Every
substring of 3 or more characters has all its trigrams in the text, so the first only
widens what the second then narrows. Shorter queries skip the trigram condition.

Typo matches are a fallback: they join only when words and substrings find fewer than
TYPO_FALLBACK_BELOW records (with the same filters). Checking similarity is what a
search spends most on (a common prefix like "kathe" has thousands of similar words
among 100k contacts), and with that many exact matches typos would rank below them
anyway. The threshold is fixed rather than the page size, so every page of a search
sees the same set.

Trigram matching needs the pg_trgm extension; where PostgreSQL lacks it (the embedded
server of `make run`), search keeps words and substrings and drops typo tolerance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, cast, func, literal, or_, select, text
from sqlalchemy.dialects.postgresql import REGCONFIG, TSQUERY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from crm_core.records.registry import ObjectSpec
from crm_kit.validation import clean_text

QUERY_MAX = 200
TYPO_FALLBACK_BELOW = 50


@dataclass(frozen=True)
class TextMatch:
    # Words or substring.
    predicate: ColumnElement[bool]
    rank: ColumnElement[Any]
    # Words, substring or a similar word; None without pg_trgm.
    with_typos: ColumnElement[bool] | None = None


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
    word_match = search_vector.op("@@")(tsquery)
    substring = search_text.contains(words, autoescape=True)
    rank: ColumnElement[Any] = func.ts_rank(search_vector, tsquery)
    if trigram:
        rank = rank + func.word_similarity(words, search_text)
    trigrams = trigram_query(words)
    has_trigrams = (
        None
        if trigrams is None
        else func.crm_search_trigrams(search_text).op("@@")(cast(trigrams, TSQUERY))
    )

    def matching(*also: ColumnElement[bool]) -> ColumnElement[bool]:
        exact = or_(word_match, substring, *also)
        if has_trigrams is None:
            return exact
        return and_(or_(word_match, has_trigrams, *also), exact)

    typo = literal(words).op("<%")(search_text)
    return TextMatch(matching(), rank, matching(typo) if trigram else None)


def trigram_query(words: str) -> str | None:
    """A tsquery (text) requiring every 3-character substring of `words`; None if shorter."""
    trigrams = sorted({words[i : i + 3] for i in range(len(words) - 2)})
    if not trigrams:
        return None
    # Quoted lexemes are taken verbatim; inside them ' doubles and \ escapes.
    quoted = ("'" + t.replace("\\", "\\\\").replace("'", "''") + "'" for t in trigrams)
    return " & ".join(quoted)
