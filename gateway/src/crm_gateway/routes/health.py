"""Liveness and readiness."""

from __future__ import annotations

import asyncio

from fastapi import Request
from fastapi.responses import JSONResponse
from grpc_health.v1 import health_pb2, health_pb2_grpc

from crm_gateway.routes.router import PrefixedRouter
from crm_kit.auth.tokens import JwksCache

router = PrefixedRouter(tags=["health"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


async def _serving(channel: object) -> bool:
    stub = health_pb2_grpc.HealthStub(channel)
    try:
        reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=1.0)
    except Exception:  # noqa: BLE001 - any failure means "not ready"
        return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


async def _keys_loaded(keys: JwksCache) -> bool:
    # Keys load lazily on the first token; a replica kept out of traffic until ready
    # would never see one, so readiness loads them itself.
    if not keys.loaded:
        try:
            await asyncio.wait_for(keys.refresh(), timeout=1.0)
        except Exception:  # noqa: BLE001 - any failure means "not ready"
            return False
    return keys.loaded


@router.get("/readyz", summary="Signing keys loaded, rate-limit store and upstreams reachable")
async def readyz(request: Request) -> JSONResponse:
    upstreams = request.app.state.upstreams
    names = list(upstreams.channels)
    results = await asyncio.gather(*(_serving(upstreams.channels[n]) for n in names))
    checks = dict(zip(names, results, strict=True))
    checks["jwks"] = await _keys_loaded(request.app.state.verifier.keys)
    checks["rate_limit_store"] = await request.app.state.limiter.store_reachable()
    ready = all(checks.values())
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)
