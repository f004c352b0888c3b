"""`python -m bench.gateway`: the gateway's cost, measured side by side in one run.

(a) Throughput of authenticated `GET /v1/contacts/{id}` through the gateway (auth and
Redis rate limits on) over the same requests through the baseline gateway (both off).
(b) p50/p99 of that read through gateway, gRPC and database, minus the same read done
directly against the database. (c) The same for the floor: the read through a bare ASGI
app and a bare grpc.aio server with no product code. Rounds alternate the variants;
figures are medians.
Beside each, the CPU time the gateway and crm-core spent per request: on a shared
machine it moves far less than wall-clock time.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import asyncpg

from bench.gateway.cpu import CpuPerRequest, cpu_per_request
from bench.gateway.load import DirectRead, client, paired_latencies, percentile, throughput
from bench.gateway.stack import (
    RATE_LIMIT,
    REDIS_URL,
    Seed,
    baseline_url,
    bench_config,
    bench_stack,
    floor_url,
    runtime_dsn,
    seed,
    start_baseline,
    start_floor,
)

THROUGHPUT_GOAL = 0.75
P50_OVERHEAD_GOAL_MS = 1.5
# However slow the machine, the run ends.
TIME_LIMIT_SECONDS = 900


@dataclass(frozen=True)
class Options:
    requests: int
    warmup: int
    concurrency: int
    rounds: int
    pairs: int


def parse_options() -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench.gateway", description=__doc__)
    parser.add_argument("--requests", type=int, default=3000, help="per variant and round")
    parser.add_argument("--warmup", type=int, default=500, help="per variant, not measured")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pairs", type=int, default=1000, help="latency pairs per round")
    args = parser.parse_args()
    return Options(args.requests, args.warmup, args.concurrency, args.rounds, args.pairs)


def verdict(passed: bool) -> str:
    return "met" if passed else "NOT met"


@dataclass(frozen=True)
class Target:
    """One contact read, reachable three ways: gateway on, gateway off, database."""

    path: str
    headers: dict[str, str]
    on: aiohttp.ClientSession
    off: aiohttp.ClientSession
    floor: aiohttp.ClientSession
    direct: DirectRead
    # The processes whose CPU time is counted: gateway (or baseline, or the floor's edge)
    # and crm-core (or the floor's upstream).
    pids_on: dict[str, int]
    pids_off: dict[str, int]
    pids_floor: dict[str, int]


def median_cpu(samples: list[CpuPerRequest]) -> CpuPerRequest:
    names = samples[0].by_process
    return CpuPerRequest(
        {name: statistics.median(s.by_process[name] for s in samples) for name in names}
    )


async def compare_throughput(target: Target, options: Options) -> None:
    print(
        f"\n(a) throughput, {options.requests} requests per variant and round, "
        f"concurrency {options.concurrency}"
    )
    ratios, ons, offs = [], [], []
    cpu: dict[str, list[CpuPerRequest]] = {"on": [], "off": []}
    for round_ in range(options.rounds):
        rates: dict[str, float] = {}
        # Alternate which variant goes first, so drift hits both alike.
        order = [("on", target.on, target.pids_on), ("off", target.off, target.pids_off)]
        for name, http, pids in order[:: 1 if round_ % 2 == 0 else -1]:
            run = functools.partial(
                throughput,
                http,
                target.path,
                target.headers,
                requests=options.requests,
                concurrency=options.concurrency,
            )
            rates[name], cost = await cpu_per_request(pids, options.requests, run)
            cpu[name].append(cost)
        ons.append(rates["on"])
        offs.append(rates["off"])
        ratios.append(rates["on"] / rates["off"])
        print(
            f"  round {round_ + 1}: on {rates['on']:7.1f} req/s   "
            f"off {rates['off']:7.1f} req/s   on/off {ratios[-1]:.3f}"
        )
    ratio = statistics.median(ratios)
    print(
        f"  median:  on {statistics.median(ons):7.1f} req/s   "
        f"off {statistics.median(offs):7.1f} req/s   on/off {ratio:.3f}"
        f"   (goal >= {THROUGHPUT_GOAL}: {verdict(ratio >= THROUGHPUT_GOAL)})\n"
        f"  CPU ms per request, medians: on: {median_cpu(cpu['on']).describe()}\n"
        f"                               off: {median_cpu(cpu['off']).describe()}"
    )


@dataclass(frozen=True)
class Latency:
    """Medians across rounds, in ms, of one-at-a-time reads and their direct twins."""

    p50: float
    p99: float
    direct_p50: float
    direct_p99: float
    cpu: CpuPerRequest

    @property
    def overhead_p50(self) -> float:
        return self.p50 - self.direct_p50

    @property
    def overhead_p99(self) -> float:
        return self.p99 - self.direct_p99


async def latency_rounds(
    http: aiohttp.ClientSession, pids: dict[str, int], target: Target, options: Options
) -> Latency:
    rounds: list[tuple[float, float, float, float]] = []
    cpu: list[CpuPerRequest] = []
    for round_ in range(options.rounds):
        run = functools.partial(
            paired_latencies, http, target.path, target.headers, target.direct, pairs=options.pairs
        )
        # The direct reads touch neither process: their CPU time is the HTTP reads'.
        (gw, db), cost = await cpu_per_request(pids, options.pairs, run)
        cpu.append(cost)
        rounds.append(
            (percentile(gw, 50), percentile(gw, 99), percentile(db, 50), percentile(db, 99))
        )
        print(
            f"  round {round_ + 1}: through HTTP p50 {rounds[-1][0]:5.2f} p99 {rounds[-1][1]:5.2f}"
            f"   database p50 {rounds[-1][2]:5.2f} p99 {rounds[-1][3]:5.2f}"
            f"   CPU ms per read: {cpu[-1].describe()}"
        )
    p50, p99, db50, db99 = (statistics.median(column) for column in zip(*rounds, strict=True))
    return Latency(p50, p99, db50, db99, median_cpu(cpu))


async def compare_latency(target: Target, options: Options) -> Latency:
    print(
        f"\n(b) latency in ms, one request at a time, {options.pairs} pairs per round "
        "(gateway read, then direct read)"
    )
    result = await latency_rounds(target.on, target.pids_on, target, options)
    print(
        f"  median:  gateway p50 {result.p50:5.2f} p99 {result.p99:5.2f}"
        f"   database p50 {result.direct_p50:5.2f} p99 {result.direct_p99:5.2f}\n"
        f"  overhead (gateway + gRPC over database): p50 {result.overhead_p50:.2f} ms, "
        f"p99 {result.overhead_p99:.2f} ms   (goal p50 <= {P50_OVERHEAD_GOAL_MS} ms: "
        f"{verdict(result.overhead_p50 <= P50_OVERHEAD_GOAL_MS)})\n"
        f"  CPU ms per read, medians: {result.cpu.describe()}"
    )
    return result


async def compare_floor(target: Target, options: Options, platform: Latency) -> None:
    print(
        "\n(c) the floor: the same read through a bare ASGI app (one Redis round trip) and a "
        "bare grpc.aio server (the same driver read), no product code (bench/gateway/floor.py)"
    )
    floor = await latency_rounds(target.floor, target.pids_floor, target, options)
    print(
        f"  median:  floor p50 {floor.p50:5.2f} p99 {floor.p99:5.2f}"
        f"   database p50 {floor.direct_p50:5.2f} p99 {floor.direct_p99:5.2f}\n"
        f"  overhead of the floor: p50 {floor.overhead_p50:.2f} ms, p99 "
        f"{floor.overhead_p99:.2f} ms; the goal leaves "
        f"{P50_OVERHEAD_GOAL_MS - floor.overhead_p50:.2f} ms p50 for all of the product's code, "
        f"which takes {platform.overhead_p50 - floor.overhead_p50:.2f} ms today\n"
        f"  CPU ms per read, medians: {floor.cpu.describe()}"
    )


async def measure(
    options: Options, seed_: Seed, urls: tuple[str, str, str], dsn: str, pids: dict[str, int]
) -> None:
    """Warm every path up, then (a), (b) and (c)."""
    connection = await asyncpg.connect(dsn)
    try:
        async with (
            client(urls[0], concurrency=options.concurrency) as on,
            client(urls[1], concurrency=options.concurrency) as off,
            client(urls[2], concurrency=1) as floor,
        ):
            target = Target(
                path=f"/v1/contacts/{seed_.contact_id}",
                headers={"Authorization": f"Bearer {seed_.access_token}"},
                on=on,
                off=off,
                floor=floor,
                direct=DirectRead(
                    connection, tenant_id=seed_.tenant_id, contact_id=seed_.contact_id
                ),
                pids_on={"gateway": pids["gateway"], "crm-core": pids["crm-core"]},
                pids_off={"baseline": pids["gateway-baseline"], "crm-core": pids["crm-core"]},
                pids_floor={"edge": pids["floor-edge"], "upstream": pids["floor-upstream"]},
            )
            for http in (on, off):
                await throughput(
                    http,
                    target.path,
                    target.headers,
                    requests=options.warmup,
                    concurrency=options.concurrency,
                )
            for http in (on, floor):
                await paired_latencies(http, target.path, target.headers, target.direct, pairs=50)
            print(
                f"GET /v1/contacts/{{id}} on 127.0.0.1, {options.rounds} rounds, medians across "
                f"rounds\n  on: the gateway, auth + limit {RATE_LIMIT} in {REDIS_URL}\n"
                "  off: the baseline gateway (the same app, auth dependency overridden)"
            )
            await compare_throughput(target, options)
            platform = await compare_latency(target, options)
            await compare_floor(target, options, platform)
    finally:
        await connection.close()


def main() -> None:
    options = parse_options()
    config = bench_config()
    # Kept after the run, for a look at what the processes logged.
    logs = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
    print(f"starting the platform (logs in {logs}) ...", flush=True)
    with bench_stack(config, logs) as stack:
        seed_ = seed(stack.gateway_url)
        start_baseline(stack, seed_.access_token)
        start_floor(stack, seed_.tenant_id)
        pids = {child.name: child.process.pid for child in stack.supervisor.children}
        asyncio.run(
            asyncio.wait_for(
                measure(
                    options,
                    seed_,
                    (stack.gateway_url, baseline_url(config), floor_url(config)),
                    runtime_dsn(config),
                    pids,
                ),
                TIME_LIMIT_SECONDS,
            )
        )
        stack.check()


if __name__ == "__main__":
    main()
