"""`python -m bench.import` (`make bench-import`): a CSV import of 1,000,000 contacts
next to a raw PostgreSQL COPY of the same file into the same table, in one run.

1. Generates the CSV (names, unique emails and phones, an external id, a company name,
   a number and a single-select custom field) into a temp folder.
2. Raw COPY: `COPY contacts (...) FROM STDIN (FORMAT csv, HEADER)` of that file as the
   owner role into an empty `contacts` table, for a fresh tenant. COPY cannot fill a
   constant column or skip file columns, so for this step only the table gets defaults
   for tenant_id, id and version and three plain text columns for the company and the
   two custom values (dropped afterwards); search columns are generated as always.
3. The import: the same file uploaded through the gateway (`POST /v1/imports`), started
   (create mode, the suggested mapping plus the custom fields) and followed until done,
   into an emptied table for another fresh tenant: crm-core's worker cleans every row
   with the API's rules (email, E.164 phone, typed custom fields), stages chunks with
   COPY, checks duplicates and merges set-based, writing the API's events.
Prints rows/s of both and their ratio (goal: import >= 0.2 x COPY).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.crm.stack import TIERS, owner_dsn, sign_up_tenant
from bench.gateway.stack import CRM_CORE, bench_config, bench_stack
from crm_devstack.stack import StackConfig

# `_benchimport` databases, ports offset 4000 and Redis database 12: never those of the
# other benchmarks (offsets 2000, 3000), `make run` (0) or the e2e tests (1000).
DATABASE_SUFFIX = "_benchimport"
PORT_OFFSET = 4000
REDIS_URL = "redis://127.0.0.1:6379/12"
TIME_LIMIT_SECONDS = 3600
HEADER = ["First Name", "Last Name", "Email", "Phone", "External ID", "Company", "Score", "Tier"]
COPY_COLUMNS = [
    "first_name",
    "last_name",
    "email",
    "phone",
    "external_id",
    "bench_company",
    "bench_score",
    "bench_tier",
]
FIRST = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Tim")
LAST = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson")
COMPANIES = ("Acme, Inc.", "Globex", "Initech", "Umbrella", "Hooli", "Stark Industries")
AREA_CODES = (212, 415, 312, 617, 206, 512, 303, 404)


def parse_rows() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.import", description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000, help="contacts in the file")
    return int(parser.parse_args().rows)


# Valid US exchanges (N11 and 555 are not), one per 10,000 rows.
EXCHANGES = [e for e in range(201, 1000) if e % 100 != 11 and e != 555]


def phone(i: int) -> str:
    """A valid US number, unique per row (up to about 7.8 million rows)."""
    exchange = EXCHANGES[i // 10_000]
    return f"+1 {AREA_CODES[i % len(AREA_CODES)]} {exchange} {i % 10_000:04d}"


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        for i in range(rows):
            first, last = FIRST[i % len(FIRST)], LAST[i % len(LAST)]
            writer.writerow(
                [
                    first,
                    last,
                    f"{first}.{last}.{i}@example.com".lower(),
                    phone(i),
                    f"ext-{i}",
                    COMPANIES[i % len(COMPANIES)],
                    i % 1000,
                    TIERS[i % len(TIERS)],
                ]
            )


async def empty_contacts(config: StackConfig) -> None:
    database = config.database(CRM_CORE)
    if not database.endswith(DATABASE_SUFFIX):
        raise RuntimeError(f"refusing to empty {database}: not a benchmark database")
    connection = await asyncpg.connect(owner_dsn(config))
    try:
        await connection.execute("TRUNCATE contacts, outbox, import_errors, record_changes CASCADE")
        await connection.execute("VACUUM ANALYZE contacts")
    finally:
        await connection.close()


async def raw_copy(config: StackConfig, path: Path, tenant_id: str) -> float:
    """Seconds for the COPY alone (the temporary defaults and columns are set around it)."""
    connection = await asyncpg.connect(owner_dsn(config))
    try:
        await connection.execute(
            f"ALTER TABLE contacts ALTER COLUMN tenant_id SET DEFAULT '{tenant_id}', "
            "ALTER COLUMN id SET DEFAULT gen_random_uuid(), ALTER COLUMN version SET DEFAULT 1, "
            "ADD COLUMN bench_company text, ADD COLUMN bench_score text, ADD COLUMN bench_tier text"
        )
        try:
            started = time.perf_counter()
            with path.open("rb") as source:
                await connection.copy_to_table(
                    "contacts", source=source, columns=COPY_COLUMNS, format="csv", header=True
                )
            return time.perf_counter() - started
        finally:
            await connection.execute(
                "ALTER TABLE contacts ALTER COLUMN tenant_id DROP DEFAULT, "
                "ALTER COLUMN id DROP DEFAULT, ALTER COLUMN version DROP DEFAULT, "
                "DROP COLUMN bench_company, DROP COLUMN bench_score, DROP COLUMN bench_tier"
            )
    finally:
        await connection.close()


def run_import(gateway_url: str, token: str, path: Path) -> tuple[float, float, dict[str, Any]]:
    """(seconds from upload to done, seconds the worker ran, the finished job)."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=gateway_url, timeout=600, headers=headers) as client:
        started = time.perf_counter()
        with path.open("rb") as source:
            uploaded = client.post(
                "/v1/imports",
                data={"object_type": "contacts"},
                files={"file": (path.name, source, "text/csv")},
            )
        uploaded.raise_for_status()
        job = uploaded.json()
        mapping = {
            **job["suggested_mapping"],
            "Score": "custom_fields.score",
            "Tier": "custom_fields.tier",
        }
        client.post(
            f"/v1/imports/{job['id']}/start", json={"mapping": mapping, "mode": "create"}
        ).raise_for_status()
        while job["state"] not in ("completed", "failed", "cancelled"):
            time.sleep(0.2)
            job = client.get(f"/v1/imports/{job['id']}").json()
        elapsed = time.perf_counter() - started
    worker = _seconds(job["started_at"], job["finished_at"])
    return elapsed, worker, job


def _seconds(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def main() -> None:
    rows = parse_rows()
    config = bench_config(
        database_suffix=DATABASE_SUFFIX, port_offset=PORT_OFFSET, redis_url=REDIS_URL
    )
    folder = Path(tempfile.mkdtemp(prefix="bench-import-"))
    path = folder / "contacts.csv"
    started = time.perf_counter()
    write_csv(path, rows)
    print(
        f"wrote {rows:,} rows ({path.stat().st_size / 1e6:.0f} MB) in "
        f"{time.perf_counter() - started:.1f} s to {path}; starting the platform "
        f"(logs in {folder}) ...",
        flush=True,
    )
    with bench_stack(config, folder) as stack:
        # Both with the custom fields `score` (number) and `tier` (bronze..platinum).
        copy_tenant = sign_up_tenant(stack.gateway_url, "Bench COPY")
        import_tenant = sign_up_tenant(stack.gateway_url, "Bench import")
        asyncio.run(empty_contacts(config))
        copy_seconds = asyncio.run(raw_copy(config, path, copy_tenant.tenant_id))
        print(
            f"raw COPY:  {rows / copy_seconds:>10,.0f} rows/s  ({copy_seconds:.1f} s)", flush=True
        )
        asyncio.run(empty_contacts(config))
        elapsed, worker, job = run_import(stack.gateway_url, import_tenant.access_token, path)
        stack.check()
    print(
        f"import:    {rows / elapsed:>10,.0f} rows/s  ({elapsed:.1f} s upload to done; worker "
        f"{worker:.1f} s) state={job['state']} created={job['created']:,} "
        f"failed={job['failed']:,}"
    )
    print(f"ratio import/COPY: {copy_seconds / elapsed:.2f} (goal >= 0.2)")


if __name__ == "__main__":
    main()
