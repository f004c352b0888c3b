"""One query through the gateway and the same SQL on the database, timed in pairs, and
the plan PostgreSQL picks for it."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import asyncpg

from bench.crm.queries import BenchQuery, EngineSQL
from bench.gateway.load import BenchError, fetch_as_tenant


async def gateway_page(http: aiohttp.ClientSession, query: BenchQuery) -> dict[str, Any]:
    """The page the gateway answers (anything but 200 aborts the run)."""
    headers = query.tenant.headers
    if query.body is None:
        response = await http.get(query.path, params=list(query.params), headers=headers)
    else:
        response = await http.post(query.path, json=query.body, headers=headers)
    async with response:
        body = await response.read()
        if response.status != 200:
            raise BenchError(f"{query.name}: {response.status} {body[:500]!r}")
    page: dict[str, Any] = json.loads(body)
    return page


@dataclass(frozen=True)
class Target:
    query: BenchQuery
    engine_sql: EngineSQL

    async def direct(self, connection: asyncpg.Connection) -> list[asyncpg.Record]:
        return await fetch_as_tenant(
            connection, self.query.tenant.tenant_id, self.engine_sql.sql, *self.engine_sql.args
        )


async def check_same_page(
    http: aiohttp.ClientSession, connection: asyncpg.Connection, target: Target
) -> int:
    """Both sides return the same contacts in the same order; how many."""
    page = await gateway_page(http, target.query)
    through_gateway = [c["id"] for c in page["data"]]
    rows = await target.direct(connection)
    directly = [str(row[0]) for row in rows[: target.query.limit]]
    if through_gateway != directly:
        raise BenchError(f"{target.query.name}: the gateway and the SQL disagree")
    return len(directly)


# However slow a query, at least this many pairs make a round's figures.
MIN_PAIRS = 10


async def paired_latencies(
    http: aiohttp.ClientSession,
    connection: asyncpg.Connection,
    target: Target,
    *,
    pairs: int,
    budget_seconds: float = float("inf"),
) -> tuple[list[float], list[float]]:
    """Milliseconds of (gateway request, direct query), alternating one at a time: `pairs`
    of them, or fewer (not under MIN_PAIRS) once `budget_seconds` have passed."""
    through_gateway: list[float] = []
    directly: list[float] = []
    deadline = time.perf_counter() + budget_seconds
    for n in range(pairs):
        if n >= MIN_PAIRS and time.perf_counter() > deadline:
            break
        started = time.perf_counter()
        await gateway_page(http, target.query)
        middle = time.perf_counter()
        await target.direct(connection)
        through_gateway.append((middle - started) * 1000)
        directly.append((time.perf_counter() - middle) * 1000)
    return through_gateway, directly


@dataclass(frozen=True)
class PlanSummary:
    execution_ms: float
    planning_ms: float
    shared_hit: int
    shared_read: int
    # "Index Scan ix_contacts_tenant_id_created_at_id (rows 51, removed 5000)", ...
    scans: list[str]

    @property
    def seq_scan_on_contacts(self) -> bool:
        return any(s.startswith("Seq Scan contacts") for s in self.scans)


def _scans(node: dict[str, Any]) -> list[str]:
    found = []
    target = node.get("Index Name") or node.get("Relation Name")
    if target:
        loops = node.get("Actual Loops", 1)
        removed = (
            node.get("Rows Removed by Filter", 0) + node.get("Rows Removed by Index Recheck", 0)
        ) * loops
        rows = node.get("Actual Rows", 0) * loops
        found.append(f"{node['Node Type']} {target} (rows {rows}, removed {removed})")
    for child in node.get("Plans", []):
        found.extend(_scans(child))
    return found


async def explain(connection: asyncpg.Connection, target: Target) -> PlanSummary:
    """EXPLAIN (ANALYZE, BUFFERS) of the direct query, as the runtime role."""
    rows = await fetch_as_tenant(
        connection,
        target.query.tenant.tenant_id,
        f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {target.engine_sql.sql}",
        *target.engine_sql.args,
    )
    [result] = json.loads(rows[0][0])
    plan = result["Plan"]
    return PlanSummary(
        execution_ms=result["Execution Time"],
        planning_ms=result["Planning Time"],
        shared_hit=plan.get("Shared Hit Blocks", 0),
        shared_read=plan.get("Shared Read Blocks", 0),
        scans=_scans(plan),
    )
