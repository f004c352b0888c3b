"""The measured queries, each both as a gateway request and as the SQL crm-core sends for it.

The SQL is not written by hand: crm-core's own search engine runs in-process, as the
runtime role and bound to the tenant, on the request the gateway would forward (the
gateway's own query-string and body conversions), and the statement it sends is
recorded. The direct side then replays exactly that statement and its parameters.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event

from bench.crm.stack import Tenant
from crm.crm_core.v1 import records_pb2
from crm_core.queries.search import search
from crm_core.records.mappers import search_from_proto
from crm_core.records.registry import CONTACTS
from crm_gateway.routes.records import query_string_search, search_to_proto
from crm_gateway.schemas.records import SearchRequest
from crm_kit.db.session import create_engine, make_session_factory, unit_of_work

LIST_PATH = "/v1/contacts"
SEARCH_PATH = "/v1/contacts/search"
PAGE_SIZE = 50


@dataclass(frozen=True)
class BenchQuery:
    """A contact list (GET with query-string params) or search (POST with a body)."""

    name: str
    tenant: Tenant
    params: tuple[tuple[str, str], ...] = (("limit", str(PAGE_SIZE)),)
    body: dict[str, Any] | None = None

    @property
    def path(self) -> str:
        return LIST_PATH if self.body is None else SEARCH_PATH

    @property
    def limit(self) -> int:
        if self.body is not None:
            return int(self.body.get("limit", PAGE_SIZE))
        return int(dict(self.params).get("limit", PAGE_SIZE))

    def search_request(self) -> records_pb2.SearchRequest:
        """What the gateway forwards to crm-core for this request."""
        if self.body is not None:
            return search_to_proto(SearchRequest.model_validate(self.body))
        single = dict(self.params)
        return query_string_search(
            filters=[value for key, value in self.params if key == "filter"],
            sort=single.get("sort"),
            q=single.get("q"),
            limit=self.limit,
            cursor=single.get("cursor"),
        )


def search_body(**body: Any) -> dict[str, Any]:
    return {"limit": PAGE_SIZE, **body}


def bench_queries(
    a: Tenant, b: Tenant, *, deep_cursor: str, email_fragment: str
) -> list[BenchQuery]:
    """The list and search shapes a CRM's screens send, on tenant `a` (and one on `b`)."""
    first_page = (("limit", str(PAGE_SIZE)),)
    return [
        BenchQuery("list: first page", a),
        BenchQuery("list: page after cursor (deep)", a, (*first_page, ("cursor", deep_cursor))),
        BenchQuery("list: last_name eq", a, (*first_page, ("filter", "last_name:eq:Lovelace"))),
        BenchQuery(
            "list: custom tier eq (5%)",
            a,
            (*first_page, ("filter", "custom_fields.tier:eq:platinum")),
        ),
        BenchQuery("list: first page, tenant B", b),
        BenchQuery("search: text name prefix", a, body=search_body(query="kathe")),
        BenchQuery("search: text email fragment", a, body=search_body(query=email_fragment)),
        BenchQuery(
            "search: tier in + score range",
            a,
            body=search_body(
                filter_groups=[
                    {
                        "filters": [
                            {
                                "field": "custom_fields.tier",
                                "operator": "in",
                                "values": ["gold", "platinum"],
                            },
                            {
                                "field": "custom_fields.score",
                                "operator": "between",
                                "values": [900, 1000],
                            },
                        ]
                    }
                ]
            ),
        ),
        BenchQuery(
            "search: companies.industry eq",
            a,
            body=search_body(
                filter_groups=[
                    {
                        "filters": [
                            {
                                "field": "companies.industry",
                                "operator": "eq",
                                "value": "Biotechnology",
                            }
                        ]
                    }
                ]
            ),
        ),
        BenchQuery(
            "search: sort custom score desc",
            a,
            body=search_body(sorts=[{"field": "custom_fields.score", "direction": "desc"}]),
        ),
    ]


@dataclass(frozen=True)
class EngineSQL:
    sql: str
    args: tuple[Any, ...]


@dataclass
class EngineStatements:
    """crm-core's search engine in-process as the runtime role, recording what it sends."""

    database_url: str
    _sent: list[tuple[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._engine = create_engine(self.database_url, pool_size=1)
        self._factory = make_session_factory(self._engine)
        event.listen(self._engine.sync_engine, "before_cursor_execute", self._record)

    def _record(self, *args: Any) -> None:
        # (connection, cursor, statement, parameters, context, executemany)
        self._sent.append((args[2], args[3]))

    async def search_sql(self, query: BenchQuery) -> EngineSQL:
        """The page query of this search (the last statement; the catalog loads precede it)."""
        self._sent.clear()
        tenant_id = uuid.UUID(query.tenant.tenant_id)
        async with unit_of_work(self._factory, tenant_id=tenant_id) as session:
            await search(session, spec=CONTACTS, params=search_from_proto(query.search_request()))
        statement, parameters = self._sent[-1]
        if "FROM contacts" not in statement:
            raise RuntimeError(f"{query.name}: the last statement is not the page query")
        return EngineSQL(statement, tuple(parameters))

    async def close(self) -> None:
        await self._engine.dispose()
