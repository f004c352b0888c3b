"""Who is calling: bearer tokens verified locally or API keys, then the caller's rate limit.

Routes declare the scopes they need with `Security(authenticated, scopes=[...])`.
Users (JWT) are governed by their roles, upstream, and never by scopes. An API key
reaches only routes that declare scopes it holds (write implies read): a route that
declares none is not open to API keys at all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Annotated

from fastapi import Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes

from crm_gateway.api_keys import ApiKeyAuthenticator
from crm_gateway.problems import Problem
from crm_gateway.ratelimit import Check, RateLimiterService, RateLimitPolicy
from crm_gateway.request_log import CALLER_STATE_KEY
from crm_gateway.settings import GatewaySettings, PlanRateLimitSpecs
from crm_kit.auth import api_key_format
from crm_kit.auth.tokens import API_KEY_ACTOR, AccessTokenVerifier, Principal
from crm_kit.context import RequestContext, bind_for_this_task, current_context

bearer_scheme = HTTPBearer(
    auto_error=False, bearerFormat="JWT", description="An access token from /v1/auth/login"
)
# The same header, documented as a second way in: OpenAPI lists the two as alternatives.
api_key_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    bearerFormat="crm_<36 characters>",
    description="An API key from `POST /v1/api-keys`, sent as `Authorization: Bearer "
    "crm_...`. It reaches only the routes whose scopes it holds (write implies read).",
)


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@dataclass(frozen=True)
class PlanLimits:
    """What a billing plan sets: the limit per user or API key, and per tenant."""

    principal: RateLimitPolicy
    tenant: RateLimitPolicy


@dataclass(frozen=True)
class RateLimits:
    """Every limit, built once at startup. The caller's plan (the token's `plan` claim)
    picks its PlanLimits from memory, so the hot path makes no lookup; per-IP and
    auth-endpoint limits are the same for every plan."""

    default_plan: PlanLimits
    ip: RateLimitPolicy
    auth_ip: RateLimitPolicy
    auth_account: RateLimitPolicy
    plans: Mapping[str, PlanLimits] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: GatewaySettings) -> RateLimits:
        return cls(
            default_plan=PlanLimits(
                principal=RateLimitPolicy.parse("default", settings.rate_limit_default),
                tenant=RateLimitPolicy.parse("tenant", settings.rate_limit_tenant),
            ),
            ip=RateLimitPolicy.parse("ip", settings.rate_limit_ip),
            auth_ip=RateLimitPolicy.parse("auth", settings.rate_limit_auth),
            auth_account=RateLimitPolicy.parse("auth-account", settings.rate_limit_auth_account),
            plans={
                name: _plan_limits(name, specs, settings)
                for name, specs in settings.rate_limit_plans.items()
            },
        )

    def for_plan(self, plan: str) -> PlanLimits:
        """The plan's limits; an empty or unconfigured plan gets the default plan's."""
        return self.plans.get(plan, self.default_plan)


def _plan_limits(name: str, specs: PlanRateLimitSpecs, settings: GatewaySettings) -> PlanLimits:
    """Policies named after the plan (`pro-principal`, `pro-tenant`), so headers and
    Redis keys say which plan applied and plans never share a counter."""
    return PlanLimits(
        principal=RateLimitPolicy.parse(
            f"{name}-principal", specs.principal or settings.rate_limit_default
        ),
        tenant=RateLimitPolicy.parse(f"{name}-tenant", specs.tenant or settings.rate_limit_tenant),
    )


async def apply_rate_limits(request: Request, response: Response, checks: list[Check]) -> None:
    """Count the request against every limit in one round trip; 429 if any refuses."""
    limiter: RateLimiterService = request.app.state.limiter
    headers = await limiter.check_all(checks)
    # Kept on the request too, so an error answered later still carries them.
    request.state.rate_limit_headers = headers
    response.headers.update(headers)


async def limit_auth_endpoint(request: Request, response: Response) -> None:
    """Signup, login, refresh, password reset, MFA: a strict limit per client IP."""
    limits: RateLimits = request.app.state.rate_limits
    await apply_rate_limits(request, response, [(limits.auth_ip, f"ip:{client_ip(request)}")])


async def limit_by_ip(request: Request, response: Response) -> None:
    """The general per-IP limit alone: for routes a token does not guard (download links,
    public pages), where no caller's limits apply."""
    limits: RateLimits = request.app.state.rate_limits
    await apply_rate_limits(request, response, [(limits.ip, f"ip:{client_ip(request)}")])


async def limit_account(request: Request, response: Response, identifier: str) -> None:
    """A strict limit per account (the normalized email), beside the one per IP, so a
    guesser spread over many addresses still meets a wall."""
    limits: RateLimits = request.app.state.rate_limits
    digest = hashlib.sha256(identifier.strip().lower().encode()).hexdigest()[:32]
    await apply_rate_limits(request, response, [(limits.auth_account, f"acct:{digest}")])


def check_scopes(principal: Principal, required: Sequence[str]) -> None:
    """An API key needs every scope the route declares (or one of `a|b`); users are not
    limited by scopes."""
    if principal.actor_kind != API_KEY_ACTOR:
        return
    # `a:read|b:read`: any one of them (the service checks the one the request needs).
    missing = [
        s
        for s in required
        if not any(api_key_format.grants(principal.scopes, one) for one in s.split("|"))
    ]
    if required and not missing:
        return
    detail = (
        f"this API key lacks the scope {' '.join(missing)}"
        if missing
        else "this endpoint is not available to API keys"
    )
    challenge = f'Bearer realm="crm", error="insufficient_scope", scope="{" ".join(required)}"'
    raise Problem(403, "insufficient_scope", detail, headers={"WWW-Authenticate": challenge})


async def _principal(request: Request, credential: str) -> tuple[Principal, str]:
    """The caller and the access token to forward upstream on their behalf."""
    verifier: AccessTokenVerifier = request.app.state.verifier
    if not api_key_format.looks_like_api_key(credential):
        return await verifier.verify(credential), credential
    api_keys: ApiKeyAuthenticator = request.app.state.api_keys
    resolved = await api_keys.authenticate(
        credential, resolver=request.app.state.upstreams.api_keys, verifier=verifier
    )
    return resolved.principal, resolved.access_token


async def authenticated(
    request: Request,
    response: Response,
    security_scopes: SecurityScopes,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    _api_key: Annotated[HTTPAuthorizationCredentials | None, Depends(api_key_scheme)],
) -> RequestContext:
    """The verified caller, bound as the request context for logs and upstream calls.

    A plain function, not a generator: FastAPI wraps generator dependencies in an exit
    stack per request. The context stays bound for the rest of the request's task."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Problem(401, "unauthenticated", "a bearer access token or API key is required")
    principal, access_token = await _principal(request, credentials.credentials)
    is_api_key = principal.actor_kind == API_KEY_ACTOR
    limits: RateLimits = request.app.state.rate_limits
    plan = limits.for_plan(principal.plan)
    caller = f"key:{principal.user_id}" if is_api_key else f"user:{principal.user_id}"
    await apply_rate_limits(
        request,
        response,
        [
            (plan.principal, caller),
            (plan.tenant, f"tenant:{principal.tenant_id}"),
            (limits.ip, f"ip:{client_ip(request)}"),
        ],
    )
    check_scopes(principal, security_scopes.scopes)
    ctx = replace(
        current_context(),
        tenant_id=principal.tenant_id,
        user_id=principal.user_id,
        roles=principal.roles,
        scopes=principal.scopes,
        access_token=access_token,
        session_id=principal.session_id,
        actor_kind=principal.actor_kind,
    )
    setattr(request.state, CALLER_STATE_KEY, ctx)
    bind_for_this_task(ctx)
    return ctx


Caller = Annotated[RequestContext, Depends(authenticated)]
