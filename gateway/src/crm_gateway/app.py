"""The FastAPI application: middleware, error handling, routes and their upstreams."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from crm_gateway import idempotency, problems
from crm_gateway.api_keys import ApiKeyAuthenticator, ApiKeyCache
from crm_gateway.body_limits import BodyLimitMiddleware
from crm_gateway.bus_tasks import run_bus_tasks
from crm_gateway.cors import ApiCorsMiddleware
from crm_gateway.edge import EdgeMiddleware
from crm_gateway.ratelimit import RateLimiterService
from crm_gateway.request_log import RequestLog, RequestLogMiddleware
from crm_gateway.routes import (
    activities,
    api_keys,
    auth,
    bulk,
    capture_forms,
    companies,
    contacts,
    custom_fields,
    deals,
    exports,
    files,
    health,
    imports,
    leads,
    me,
    merges,
    mfa,
    notes,
    pipelines,
    public_forms,
    tags,
    tasks,
    timeline,
    users,
    visibility,
    webhooks,
)
from crm_gateway.security import RateLimits
from crm_gateway.settings import GatewaySettings
from crm_gateway.upstreams import Upstreams
from crm_kit.auth.identity_client import identity_jwks_fetcher
from crm_kit.auth.revocations import RevocationList
from crm_kit.auth.tokens import AccessTokenVerifier, JwksCache

API_DESCRIPTION = """
The CRM platform's public API. Authenticate with `POST /v1/auth/login` and send the
access token as `Authorization: Bearer <token>`. Third parties send an API key
(`POST /v1/api-keys`) the same way, `Authorization: Bearer crm_...`; a key reaches only
the routes whose scopes it holds (`contacts:read`, `contacts:write`, `pipelines:read`,
`activities:read`, `tasks:write`, `notes:read`, `tags:write` ...; write implies read)
and gets `403 insufficient_scope` elsewhere. Errors are RFC 9457
`application/problem+json` with a stable `code`. Every response carries
`RateLimit-Policy` and `RateLimit` headers; a 429 carries `Retry-After`.
"""


def create_app(settings: GatewaySettings) -> FastAPI:
    revocations = RevocationList()
    api_key_cache = ApiKeyCache()
    request_log = RequestLog()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        upstreams = Upstreams.connect(settings)
        app.state.upstreams = upstreams
        bus_tasks = asyncio.create_task(
            run_bus_tasks(settings, revocations, api_key_cache, request_log)
        )
        yield
        bus_tasks.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await bus_tasks
        await upstreams.close()

    app = FastAPI(
        title="CRM platform API",
        version="1.0.0",
        description=API_DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.verifier = AccessTokenVerifier(
        JwksCache(identity_jwks_fetcher(settings.identity_address)),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        revocations=revocations,
    )
    app.state.api_keys = ApiKeyAuthenticator(api_key_cache)
    app.state.limiter = RateLimiterService(settings.rate_limit_storage_url)
    app.state.rate_limits = RateLimits.from_settings(settings)
    app.state.form_rate_limits = public_forms.FormRateLimits.from_settings(settings)
    problems.install(app)
    routers = (
        auth.router,
        auth.jwks_router,
        mfa.router,
        me.router,
        users.router,
        api_keys.router,
        contacts.router,
        companies.router,
        custom_fields.router,
        pipelines.router,
        leads.router,
        deals.router,
        visibility.router,
        bulk.router,
        merges.router,
        activities.router,
        tasks.router,
        notes.router,
        files.router,
        exports.router,
        imports.router,
        tags.router,
        timeline.router,
        capture_forms.router,
        public_forms.router,
        webhooks.router,
    )
    for router in (*routers, health.router):
        app.include_router(router)
    idempotency.install(app, settings)
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        rules=[
            files.upload_body_rule(settings.max_file_bytes),
            public_forms.submission_body_rule(settings.max_body_bytes),
            imports.upload_body_rule(settings.max_import_bytes),
        ],
    )
    if settings.cors_origins:
        app.add_middleware(
            ApiCorsMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "If-Match", "Idempotency-Key"],
            expose_headers=["ETag", "Location", "RateLimit", "RateLimit-Policy", "Retry-After"],
        )
    app.add_middleware(problems.UnhandledErrorMiddleware)
    app.add_middleware(RequestLogMiddleware, request_log=request_log)
    app.add_middleware(EdgeMiddleware)
    return app
