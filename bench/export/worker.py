"""`python -m bench.export.worker RUNTIME_URL ROOT`: one export worker process that
claims the one queued job, writes it under ROOT and prints, as JSON, the seconds it
took and its peak resident memory (`ru_maxrss`) before and after the export."""

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


def peak_rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


async def main(runtime_url: str, root: Path) -> None:
    engine = create_engine(runtime_url, pool_size=2)
    worker = ExportWorker(make_session_factory(engine), LocalDiskStore(root))
    ready_kib = peak_rss_kib()
    started = time.perf_counter()
    worked = await worker.run_once()
    seconds = time.perf_counter() - started
    await engine.dispose()
    print(
        json.dumps(
            {
                "worked": worked,
                "seconds": seconds,
                "ready_peak_kib": ready_kib,
                "peak_kib": peak_rss_kib(),
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], Path(sys.argv[2])))
