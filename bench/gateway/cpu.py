"""CPU time the servers spend per request: a companion to wall-clock latency that the
other processes of a shared machine disturb less (they delay a request far more than
they make it cost more; on a busy 2-core VM it still rises some, so compare runs made
under like load)."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of every thread of `pid` so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat", "rb") as stat:
        # The command name (field 2) may hold spaces; the fields after it do not.
        fields = stat.read().rsplit(b")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / _TICKS_PER_SECOND


@dataclass(frozen=True)
class CpuPerRequest:
    """Milliseconds of CPU per request, by process name."""

    by_process: Mapping[str, float]

    def describe(self) -> str:
        parts = [f"{name} {ms:.3f}" for name, ms in self.by_process.items()]
        return "   ".join(parts) + f"   total {sum(self.by_process.values()):.3f}"


async def cpu_per_request(
    pids: Mapping[str, int], requests: int, run: Callable[[], Awaitable[T]]
) -> tuple[T, CpuPerRequest]:
    """What `run` (which makes `requests` requests) returns, and each process's CPU time
    over it divided by `requests`."""
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    result = await run()
    cost = {name: (cpu_seconds(pid) - before[name]) * 1000 / requests for name, pid in pids.items()}
    return result, CpuPerRequest(cost)
