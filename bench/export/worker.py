"""`python -m bench.export.worker RUNTIME_URL ROOT`: one export worker process that
claims the one queued job, writes it under ROOT and prints, as JSON, the seconds it
took, its resident memory just before the export and its peak resident memory during
the export (Linux: the high-water mark is reset through /proc/self/clear_refs first,
so start-up's own peak does not hide the export's), and `ru_maxrss` for the whole life."""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from pathlib import Path

from crm_core.exports.worker import ExportWorker
from crm_core.files.storage import LocalDiskStore
from crm_kit.db.session import create_engine, make_session_factory

STATUS = Path("/proc/self/status")


def status_kib(name: str) -> int:
    """`VmRSS` (resident now) or `VmHWM` (peak resident) of this process, in KiB."""
    for line in STATUS.read_text().splitlines():
        if line.startswith(f"{name}:"):
            return int(line.split()[1])
    raise RuntimeError(f"{name} is not in {STATUS}")


def reset_peak() -> None:
    """Linux: sets VmHWM back to the current resident size."""
    Path("/proc/self/clear_refs").write_text("5")


async def main(runtime_url: str, root: Path) -> None:
    engine = create_engine(runtime_url, pool_size=2)
    worker = ExportWorker(make_session_factory(engine), LocalDiskStore(root))
    reset_peak()
    before_kib = status_kib("VmRSS")
    started = time.perf_counter()
    worked = await worker.run_once()
    seconds = time.perf_counter() - started
    peak_kib = status_kib("VmHWM")
    await engine.dispose()
    print(
        json.dumps(
            {
                "worked": worked,
                "seconds": seconds,
                "before_kib": before_kib,
                "peak_kib": peak_kib,
                "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], Path(sys.argv[2])))
