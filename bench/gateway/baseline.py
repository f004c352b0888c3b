"""`python -m bench.gateway.baseline`: the gateway with auth and rate limiting taken out.

The same `create_app` (middleware, routes, upstreams, uvicorn settings), with only the
`authenticated` dependency overridden: it binds a fixed caller from `BENCH_ACCESS_TOKEN`
instead of verifying the token and counting the request against a limit. The token is
still forwarded, because crm-core verifies it on every call either way.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import replace

import jwt
import uvicorn
from fastapi import FastAPI

from crm_gateway.app import create_app
from crm_gateway.security import authenticated
from crm_gateway.settings import GatewaySettings
from crm_kit.context import RequestContext, bind_for_this_task, current_context
from crm_kit.logging import configure_logging


def create_baseline_app(settings: GatewaySettings, access_token: str) -> FastAPI:
    """The gateway app whose every caller is the token's owner, unverified and unlimited."""
    # Read once, not verified: identity minted this token for the benchmark's own tenant.
    claims = jwt.decode(access_token, options={"verify_signature": False})
    tenant_id, user_id = uuid.UUID(claims["tenant"]), uuid.UUID(claims["sub"])
    roles = tuple(claims.get("roles", ()))

    # Async, as `authenticated` is: FastAPI runs it in the request's task, so the
    # context it binds is the one the route and the gRPC client interceptor see.
    async def fixed_caller() -> RequestContext:
        ctx = replace(
            current_context(),
            tenant_id=tenant_id,
            user_id=user_id,
            roles=roles,
            access_token=access_token,
        )
        bind_for_this_task(ctx)
        return ctx

    app = create_app(settings)
    app.dependency_overrides[authenticated] = fixed_caller
    return app


def main() -> None:
    settings = GatewaySettings()
    configure_logging("gateway-baseline", settings.log_level)
    # The same arguments as `python -m crm_gateway serve`.
    uvicorn.run(
        create_baseline_app(settings, os.environ["BENCH_ACCESS_TOKEN"]),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        server_header=False,
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=settings.forwarded_allow_ips or None,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
