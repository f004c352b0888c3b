"""`python -m bench.crm`: contact list and search latency at 100k contacts per tenant.

Each query is timed through the gateway (auth, gRPC, crm-core's engine and ORM) and,
side by side in the same run, as the one SQL statement crm-core sends for it, run
directly as the runtime role. Rounds go round-robin over the queries; the figures are
medians across rounds. Each direct query's plan is shown, so slow plans are visible.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import asyncpg

from bench.crm.measure import (
    PlanSummary,
    Target,
    check_same_page,
    explain,
    gateway_page,
    paired_latencies,
)
from bench.crm.queries import PAGE_SIZE, BenchQuery, EngineStatements, bench_queries
from bench.crm.seed import TenantPlan, load
from bench.crm.stack import (
    Tenant,
    crm_bench_config,
    empty_seeded_tables,
    owner_dsn,
    sign_up_tenant,
)
from bench.gateway.load import BenchError, client, fetch_as_tenant, percentile
from bench.gateway.stack import bench_stack, runtime_dsn
from crm_devstack.stack import StackConfig

# However slow the machine, the run ends.
TIME_LIMIT_SECONDS = 3600


@dataclass(frozen=True)
class Options:
    contacts: int
    contacts_b: int
    companies: int
    pairs: int
    warmup: int
    rounds: int
    deep_pages: int
    budget: float
    show_sql: bool


def parse_options() -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench.crm", description=__doc__)
    parser.add_argument("--contacts", type=int, default=100_000, help="in tenant A")
    parser.add_argument("--contacts-b", type=int, default=20_000, help="in tenant B")
    parser.add_argument("--companies", type=int, default=2_000, help="in tenant A (B: 1/5)")
    parser.add_argument("--pairs", type=int, default=100, help="per query and round")
    parser.add_argument("--warmup", type=int, default=10, help="per query, not measured")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--deep-pages", type=int, default=100, help="pages before the deep one")
    parser.add_argument(
        "--budget",
        type=float,
        default=20.0,
        help="seconds per query and round, after which a slow query stops early",
    )
    parser.add_argument("--sql", action="store_true", help="print each query's SQL")
    args = parser.parse_args()
    return Options(
        args.contacts,
        args.contacts_b,
        args.companies,
        args.pairs,
        args.warmup,
        args.rounds,
        args.deep_pages,
        args.budget,
        args.sql,
    )


async def seed(config: StackConfig, gateway_url: str, options: Options) -> tuple[Tenant, Tenant]:
    """Two tenants signed up with custom fields through the API, then their records copied."""
    await empty_seeded_tables(config)
    a, b = (sign_up_tenant(gateway_url, name) for name in ("Bench CRM A", "Bench CRM B"))
    plans = [
        TenantPlan(a.tenant_id, a.user_id, options.contacts, options.companies),
        TenantPlan(b.tenant_id, b.user_id, options.contacts_b, options.companies // 5),
    ]
    seconds = await load(owner_dsn(config), plans)
    print(
        f"seeded {options.contacts:,} + {options.contacts_b:,} contacts and "
        f"{options.companies + options.companies // 5:,} companies in {seconds:.1f} s "
        "(generate, COPY, ANALYZE)",
        flush=True,
    )
    return a, b


async def deep_cursor(http: aiohttp.ClientSession, tenant: Tenant, pages: int) -> str:
    """The cursor after `pages` list pages, followed through the gateway."""
    cursor = ""
    for _ in range(pages):
        params = (("limit", str(PAGE_SIZE)), ("cursor", cursor)) if cursor else ()
        page = await gateway_page(http, BenchQuery("follow cursors", tenant, params))
        if not page["next_cursor"]:
            raise BenchError("the list ended before the deep page")
        cursor = str(page["next_cursor"])
    return cursor


@dataclass(frozen=True)
class Figures:
    gateway_p50: float
    gateway_p99: float
    direct_p50: float
    direct_p99: float
    pairs: int


def medians(rounds: list[Figures]) -> Figures:
    """Each figure's median across rounds; pairs summed."""

    def median(name: str) -> float:
        return statistics.median(float(getattr(r, name)) for r in rounds)

    return Figures(
        median("gateway_p50"),
        median("gateway_p99"),
        median("direct_p50"),
        median("direct_p99"),
        sum(r.pairs for r in rounds),
    )


async def measure(
    options: Options,
    targets: list[Target],
    http: aiohttp.ClientSession,
    connection: asyncpg.Connection,
) -> dict[str, list[Figures]]:
    for target in targets:
        await check_same_page(http, connection, target)
        await paired_latencies(http, connection, target, pairs=options.warmup)
    figures: dict[str, list[Figures]] = {t.query.name: [] for t in targets}
    for round_ in range(options.rounds):
        for target in targets:
            gw, db = await paired_latencies(
                http, connection, target, pairs=options.pairs, budget_seconds=options.budget
            )
            figures[target.query.name].append(
                Figures(
                    percentile(gw, 50),
                    percentile(gw, 99),
                    percentile(db, 50),
                    percentile(db, 99),
                    len(gw),
                )
            )
        print(f"  round {round_ + 1} of {options.rounds} done", flush=True)
    return figures


def print_table(
    targets: list[Target], figures: dict[str, list[Figures]], plans: list[PlanSummary]
) -> None:
    width = max(len(t.query.name) for t in targets)
    print(
        f"\n{'query':<{width}}  {'gateway p50':>11} {'p99':>7}  {'direct p50':>10} {'p99':>7}"
        f"  {'overhead p50':>12}  {'EXPLAIN ms':>10}  {'pairs':>5}"
    )
    for target, plan in zip(targets, plans, strict=True):
        f = medians(figures[target.query.name])
        print(
            f"{target.query.name:<{width}}  {f.gateway_p50:11.2f} {f.gateway_p99:7.2f}"
            f"  {f.direct_p50:10.2f} {f.direct_p99:7.2f}  {f.gateway_p50 - f.direct_p50:12.2f}"
            f"  {plan.execution_ms:10.2f}  {f.pairs:5d}"
        )


def print_plans(targets: list[Target], plans: list[PlanSummary], show_sql: bool) -> None:
    print("\nplans of the direct queries (EXPLAIN ANALYZE, BUFFERS; rows summed over loops):")
    for target, plan in zip(targets, plans, strict=True):
        flag = "   <-- SEQ SCAN over contacts" if plan.seq_scan_on_contacts else ""
        print(
            f"- {target.query.name}: execution {plan.execution_ms:.2f} ms, planning "
            f"{plan.planning_ms:.2f} ms, buffers hit {plan.shared_hit} "
            f"read {plan.shared_read}{flag}"
        )
        for scan in plan.scans:
            print(f"    {scan}")
        if show_sql:
            print(f"    SQL: {target.engine_sql.sql}\n    args: {target.engine_sql.args}")


async def run(
    options: Options, config: StackConfig, gateway_url: str, a: Tenant, b: Tenant
) -> None:
    dsn = runtime_dsn(config)
    connection = await asyncpg.connect(dsn)
    engine = EngineStatements(dsn.replace("postgresql", "postgresql+asyncpg", 1))
    try:
        async with client(gateway_url, concurrency=1) as http:
            [sample] = await fetch_as_tenant(
                connection,
                a.tenant_id,
                "SELECT email FROM contacts WHERE email <> '' ORDER BY created_at, id "
                "OFFSET $1 LIMIT 1",
                # The email-fragment search looks for a contact from the middle of the list.
                options.contacts // 2,
            )
            queries = bench_queries(
                a,
                b,
                deep_cursor=await deep_cursor(http, a, options.deep_pages),
                email_fragment=str(sample["email"]).partition("@")[0],
            )
            targets = [Target(q, await engine.search_sql(q)) for q in queries]
            print(
                f"measuring {len(targets)} queries: {options.pairs} pairs (gateway, then direct) "
                f"per query and round, {options.rounds} rounds, one request at a time",
                flush=True,
            )
            figures = await measure(options, targets, http, connection)
            plans = [await explain(connection, t) for t in targets]
    finally:
        await engine.close()
        await connection.close()
    print_table(targets, figures, plans)
    print(
        "\nms, medians across rounds of each round's p50/p99. gateway: HTTP through the gateway, "
        "gRPC, crm-core (catalog load, page query, company links). direct: the page query "
        "alone, as crm-core's runtime role (RLS, app.tenant_id set per transaction)."
    )
    print_plans(targets, plans, options.show_sql)


def main() -> None:
    options = parse_options()
    config = crm_bench_config()
    # Kept after the run, for a look at what the processes logged.
    logs = Path(tempfile.mkdtemp(prefix="bench-crm-"))
    print(f"starting the platform (logs in {logs}) ...", flush=True)
    with bench_stack(config, logs) as stack:
        a, b = asyncio.run(seed(config, stack.gateway_url, options))
        asyncio.run(
            asyncio.wait_for(run(options, config, stack.gateway_url, a, b), TIME_LIMIT_SECONDS)
        )
        stack.check()


if __name__ == "__main__":
    main()
