"""`python -m bench.export`: crm-core's CSV export against `COPY (SELECT ...) TO STDOUT`.

For each size (default 100,000 and 1,000,000 contacts, each in its own tenant with four
custom fields), in one run: PostgreSQL's own COPY of the same columns (raw values, the
same order), received and dropped, as the runtime role under row-level security; then
the export job end to end (claim, custom field catalog, COPY of the rendered columns,
the file store's write with fsync, the job's completion) in a fresh worker process,
whose peak resident memory (`ru_maxrss`) is read before and after. Rows per second are the best
of `--repeat` runs of each; the ratio is export / COPY (goal: at least 0.5).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from bench.export.seed import count_contacts, seed_tenant
from crm_core.__main__ import MIGRATIONS_DIR
from crm_core.exports import service as exports
from crm_core.exports.query import ExportSelection
from crm_core.exports.service import ExportRequest, Requester
from crm_core.models import ExportJob
from crm_core.permissions.visibility import EVERYONE
from crm_core.queries.fields import CUSTOM_PREFIX
from crm_devstack.stack import SERVICES
from crm_devstack.testing import stack_config_for_tests
from crm_kit.db.provision import provision
from crm_kit.db.session import create_engine, make_session_factory, unit_of_work

CRM_CORE = next(s for s in SERVICES if s.module == "crm_core")
DATABASE_SUFFIX = "_benchexport"
NAMESPACE = uuid.UUID("5d1c4a52-3f1e-4c55-9a51-6f0e1b2c3d4e")
ADMIN = Requester(uuid.uuid5(NAMESPACE, "admin"), "user", ("admin",), EVERYONE)


@dataclass(frozen=True)
class Figures:
    rows: int
    copy_seconds: float
    export_seconds: float
    before_mib: float
    peak_mib: float
    maxrss_mib: float
    export_bytes: int

    @property
    def ratio(self) -> float:
        return self.copy_seconds / self.export_seconds


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg", "postgresql", 1)


def baseline_sql(columns: list[str]) -> str:
    """The same columns as the export, as stored: no rendering, no neutralizing."""
    selected = [
        f"custom_fields->>'{c.removeprefix(CUSTOM_PREFIX)}'"
        if c.startswith(CUSTOM_PREFIX)
        else f'"{c}"'
        for c in columns
    ]
    # Column names are the export's headers: registry fields and custom field key slugs.
    return f"SELECT {', '.join(selected)} FROM contacts ORDER BY created_at, id"  # noqa: S608


async def copy_seconds(runtime_dsn: str, tenant: uuid.UUID, sql: str) -> float:
    """COPY's own pace: every byte received and dropped, so nothing on this side (no
    file, no hashing) slows it down."""
    connection = await asyncpg.connect(runtime_dsn)

    async def discard(data: bytes) -> None:
        return None

    try:
        async with connection.transaction():
            await connection.execute("SELECT set_config('app.tenant_id', $1, true)", str(tenant))
            started = time.perf_counter()
            await connection.copy_from_query(sql, output=discard, format="csv", header=True)
            return time.perf_counter() - started
    finally:
        await connection.close()


async def queue_job(factory: object, tenant: uuid.UUID) -> ExportJob:
    selection = ExportSelection(filter_groups=[], sorts=[])
    async with unit_of_work(factory, tenant_id=tenant) as session:  # type: ignore[arg-type]
        return await exports.create(
            session, request=ExportRequest("contacts", selection, []), requester=ADMIN
        )


def run_worker(runtime_url: str, root: Path) -> dict[str, float]:
    done = subprocess.run(  # noqa: S603 - this interpreter and this package's module
        [sys.executable, "-m", "bench.export.worker", runtime_url, str(root)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


async def measure(
    runtime_url: str, factory: object, tenant: uuid.UUID, rows: int, repeat: int, work: Path
) -> Figures:
    best_copy = best_export = float("inf")
    before = peak = maxrss = 0.0
    size = 0
    for _ in range(repeat):
        job = await queue_job(factory, tenant)
        sql = baseline_sql(job.columns)
        best_copy = min(best_copy, await copy_seconds(_dsn(runtime_url), tenant, sql))
        result = run_worker(runtime_url, work)
        async with unit_of_work(factory, tenant_id=tenant) as session:  # type: ignore[arg-type]
            done = await exports.get(session, job_id=job.id)
        if done.state != "completed" or done.rows_written != rows:
            raise RuntimeError(f"export {done.id}: {done.state}, {done.rows_written} rows")
        best_export = min(best_export, result["seconds"])
        before = max(before, result["before_kib"] / 1024)
        peak = max(peak, result["peak_kib"] / 1024)
        maxrss = max(maxrss, result["maxrss_kib"] / 1024)
        size = done.size_bytes
        if done.storage_key:
            (work / done.storage_key).unlink()
    return Figures(rows, best_copy, best_export, before, peak, maxrss, size)


async def run(sizes: list[int], repeat: int, reseed: bool) -> list[Figures]:
    config = stack_config_for_tests(database_suffix=DATABASE_SUFFIX)
    database = config.database(CRM_CORE)
    runtime_url = config.database_url(database, user=f"{database}_app", password=None)
    migration_url = config.database_url(
        database, user=config.postgres_user, password=config.postgres_password
    )
    await provision(
        migration_url=migration_url, runtime_url=runtime_url, migrations_dir=MIGRATIONS_DIR
    )
    engine = create_engine(runtime_url, pool_size=2)
    factory = make_session_factory(engine)
    figures = []
    try:
        for rows in sizes:
            tenant = uuid.uuid5(NAMESPACE, f"contacts-{rows}")
            if reseed or await count_contacts(_dsn(migration_url), tenant) != rows:
                seconds = await seed_tenant(factory, _dsn(migration_url), tenant=tenant, rows=rows)
                print(f"seeded {rows:,} contacts in {seconds:.0f} s", flush=True)
            with tempfile.TemporaryDirectory(prefix="bench-export-") as work:
                figures.append(
                    await measure(runtime_url, factory, tenant, rows, repeat, Path(work))
                )
            print_row(figures[-1])
    finally:
        await engine.dispose()
    return figures


def print_row(f: Figures) -> None:
    print(
        f"{f.rows:>10,} rows | COPY {f.rows / f.copy_seconds:>10,.0f} rows/s "
        f"({f.copy_seconds:.2f} s) | export {f.rows / f.export_seconds:>10,.0f} rows/s "
        f"({f.export_seconds:.2f} s, {f.export_bytes / 2**20:.0f} MiB) | ratio {f.ratio:.2f} "
        f"| worker RSS {f.before_mib:.1f} MiB before, peak {f.peak_mib:.1f} MiB during the "
        f"export (+{f.peak_mib - f.before_mib:.1f}), ru_maxrss {f.maxrss_mib:.1f} MiB",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.export", description=__doc__)
    parser.add_argument("--sizes", default="100000,1000000", help="contacts per tenant")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each, best kept")
    parser.add_argument("--reseed", action="store_true", help="seed even if already seeded")
    options = parser.parse_args()
    sizes = [int(s) for s in options.sizes.split(",")]
    figures = asyncio.run(run(sizes, options.repeat, options.reseed))
    worst = min(f.ratio for f in figures)
    print(f"export / COPY, worst size: {worst:.2f} (goal >= 0.5)")


if __name__ == "__main__":
    main()
