"""Who is calling: bearer tokens verified locally, then the caller's rate limit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Annotated

from fastapi import Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from crm_gateway.problems import Problem
from crm_gateway.ratelimit import RateLimiterService, RateLimitPolicy
from crm_kit.auth.tokens import AccessTokenVerifier
from crm_kit.context import RequestContext, bind_context, current_context

bearer_scheme = HTTPBearer(auto_error=False, description="An access token from /v1/auth/login")


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def apply_rate_limit(
    request: Request, response: Response, policy: RateLimitPolicy, key: str
) -> None:
    limiter: RateLimiterService = request.app.state.limiter
    headers = await limiter.check(policy, key)
    # Kept on the request too, so an error answered later still carries them.
    request.state.rate_limit_headers = headers
    response.headers.update(headers)


async def limit_auth_endpoint(request: Request, response: Response) -> None:
    """Signup, login and refresh: a strict limit per client IP."""
    await apply_rate_limit(
        request, response, request.app.state.auth_policy, f"ip:{client_ip(request)}"
    )


async def authenticated(
    request: Request,
    response: Response,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> AsyncIterator[RequestContext]:
    """The verified caller, bound as the request context for logs and upstream calls."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Problem(401, "unauthenticated", "a bearer access token is required")
    verifier: AccessTokenVerifier = request.app.state.verifier
    principal = await verifier.verify(credentials.credentials)
    await apply_rate_limit(
        request, response, request.app.state.default_policy, f"user:{principal.user_id}"
    )
    ctx = replace(
        current_context(),
        tenant_id=principal.tenant_id,
        user_id=principal.user_id,
        roles=principal.roles,
        access_token=credentials.credentials,
        session_id=principal.session_id,
        actor_kind="user",
    )
    with bind_context(ctx):
        yield ctx


Caller = Annotated[RequestContext, Depends(authenticated)]
