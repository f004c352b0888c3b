"""One search over any registered object type: filters, full text, sort, keyset page."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.queries.fields import load_catalog
from crm_core.queries.filters import Filter, compile_groups
from crm_core.queries.fulltext import (
    TYPO_FALLBACK_BELOW,
    TextMatch,
    text_match,
    trigram_available,
)
from crm_core.queries.sorting import (
    SCORE_FIELD,
    Sort,
    after,
    decode_cursor,
    encode_cursor,
    order_by,
    resolve_sorts,
)
from crm_core.records.registry import ObjectSpec
from crm_kit.errors import InvalidArgument

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
DEFAULT_SORT = (Sort("created_at", "asc"),)
RELEVANCE_SORT = (Sort(SCORE_FIELD, "desc"),)


@dataclass(frozen=True)
class SearchParams:
    filter_groups: list[list[Filter]] = field(default_factory=list)
    sorts: list[Sort] = field(default_factory=list)
    query: str = ""
    limit: int = 0
    cursor: str = ""


@dataclass(frozen=True)
class Page:
    rows: list[Any]
    next_cursor: str


def page_size(limit: int) -> int:
    if not 0 <= limit <= MAX_PAGE_SIZE:
        raise InvalidArgument(
            f"limit must be 1..{MAX_PAGE_SIZE}", code="invalid_limit", field="limit"
        )
    return limit or DEFAULT_PAGE_SIZE


async def _text_predicate(
    session: AsyncSession, spec: ObjectSpec, where: Any | None, match: TextMatch
) -> Any:
    """The match with typo tolerance when words and substrings find few records."""
    if match.with_typos is None:
        return match.predicate
    exact = select(spec.id_column).where(match.predicate).limit(TYPO_FALLBACK_BELOW)
    if where is not None:
        exact = exact.where(where)
    found = await session.scalar(select(func.count()).select_from(exact.subquery()))
    return match.with_typos if (found or 0) < TYPO_FALLBACK_BELOW else match.predicate


async def search(session: AsyncSession, *, spec: ObjectSpec, params: SearchParams) -> Page:
    """A page of `spec`'s records matching the params, in their sort, with the next cursor."""
    size = page_size(params.limit)
    catalog = await load_catalog(session, spec)
    where = compile_groups(catalog, params.filter_groups)
    trigram = bool(params.query.strip()) and await trigram_available(session)
    match = text_match(spec, params.query, trigram=trigram)
    sorts = params.sorts or (RELEVANCE_SORT if match else DEFAULT_SORT)
    keys = resolve_sorts(catalog, sorts, score=match.rank if match else None)
    query = select(spec.model, *(k.expr.label(f"sort_{i}") for i, k in enumerate(keys)))
    if where is not None:
        query = query.where(where)
    if match is not None:
        query = query.where(await _text_predicate(session, spec, where, match))
    if params.cursor:
        values, last_id = decode_cursor(params.cursor, keys)
        query = query.where(after(keys, values, spec.id_column, last_id))
    query = query.order_by(*order_by(keys, spec.id_column)).limit(size + 1)
    rows = list((await session.execute(query)).all())
    more = len(rows) > size
    rows = rows[:size]
    next_cursor = ""
    if more:
        last = rows[-1]
        next_cursor = encode_cursor(keys, list(last[1:]), last[0].id)
    return Page(rows=[row[0] for row in rows], next_cursor=next_cursor)
