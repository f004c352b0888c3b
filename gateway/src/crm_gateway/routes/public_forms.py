"""Capture forms' public side, no login: the hosted landing page, the embed snippet, and
submissions (JSON from the snippet, or a plain form post from the hosted page, which
works without JavaScript).

Submissions are limited per client IP and per form. Browsers on another site may submit
only from the form's allowed origins (CORS answers them and nobody else); the hosted
page is same-origin. A filled honeypot is answered like any accepted submission.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

import grpc
from fastapi import Path, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from crm.crm_core.v1 import capture_pb2
from crm_gateway import capture_pages as pages
from crm_gateway.body_limits import BodyRule, media_type_of
from crm_gateway.problems import Problem, from_rpc_error, validation_problem
from crm_gateway.ratelimit import RateLimitPolicy
from crm_gateway.routes.responses import problems
from crm_gateway.routes.router import PrefixedRouter
from crm_gateway.schemas.capture_forms import Attribution, PublicSubmission, SubmissionAccepted
from crm_gateway.security import apply_rate_limits, client_ip, limit_by_ip
from crm_gateway.settings import GatewaySettings

router = PrefixedRouter(tags=["public forms"])

PublicKey = Annotated[str, Path(max_length=64, description="The form's public key, `pf_...`")]
JSON = "application/json"
FORM_ENCODED = "application/x-www-form-urlencoded"
ATTRIBUTION_FIELDS = tuple(Attribution.model_fields)
# Errors whose answer must not tell a foreign page anything (CORS stays closed).
CLOSED_CODES = frozenset({"origin_not_allowed", "form_not_found"})
HTML_ERRORS = {404: "This form does not exist or is closed.", 429: "Too many submissions."}
HTML_CONTENT = {"text/html": {"schema": {"type": "string"}}}


SUBMISSION_PATH = re.compile(r"/v1/public/forms/[^/]+/submissions")


def submission_body_rule(max_bytes: int) -> BodyRule:
    """Submissions come as JSON (the snippet) or as a plain HTML form post."""
    return BodyRule(SUBMISSION_PATH, (JSON, FORM_ENCODED), max_bytes)


@dataclass(frozen=True)
class FormRateLimits:
    """Submissions per client IP (any form) and per form (any IP)."""

    ip: RateLimitPolicy
    form: RateLimitPolicy

    @classmethod
    def from_settings(cls, settings: GatewaySettings) -> FormRateLimits:
        return cls(
            ip=RateLimitPolicy.parse("form-ip", settings.rate_limit_form_ip),
            form=RateLimitPolicy.parse("form", settings.rate_limit_form),
        )


async def _limit_submission(request: Request, response: Response, public_key: str) -> None:
    limits: FormRateLimits = request.app.state.form_rate_limits
    await apply_rate_limits(
        request,
        response,
        [(limits.ip, f"ip:{client_ip(request)}"), (limits.form, f"form:{public_key}")],
    )


def _cross_origin(request: Request) -> str:
    """The page's origin when it is not this gateway's own (the hosted page's)."""
    origin = request.headers.get("origin", "")
    own = f"{request.url.scheme}://{request.url.netloc}"
    return "" if origin == own else origin


def _cors(origin: str) -> dict[str, str]:
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}


async def _public_form(request: Request, public_key: str) -> capture_pb2.PublicForm:
    form: capture_pb2.PublicForm = await request.app.state.upstreams.capture_forms.GetPublicForm(
        capture_pb2.PublicFormKey(public_key=public_key)
    )
    return form


def _html_error(request: Request, problem: Problem, *, back: str = "") -> HTMLResponse:
    """The problem as a page, for a visitor's browser; rate-limit headers kept."""
    message = HTML_ERRORS.get(problem.status, problem.detail)
    body = pages.message_page("Sorry", message, error=True, back=back)
    limits = getattr(request.state, "rate_limit_headers", {})
    headers = {**limits, **pages.page_headers(), **problem.headers}
    return HTMLResponse(body, status_code=problem.status, headers=headers)


async def _read_submission(request: Request) -> PublicSubmission:
    """The body as a submission: JSON from the snippet, or a plain HTML form post."""
    media_type = media_type_of(request)
    if media_type == JSON:
        try:
            return PublicSubmission.model_validate_json(await request.body())
        except ValidationError as exc:
            raise validation_problem(exc.errors()) from exc
    if media_type == FORM_ENCODED:
        posted = await request.form()
        values: dict[str, str] = {}
        attribution: dict[str, str] = {}
        for name, value in posted.multi_items():
            if isinstance(value, str):
                (attribution if name in ATTRIBUTION_FIELDS else values)[name] = value
        try:
            submission = PublicSubmission(values=values, attribution=Attribution(**attribution))
        except ValidationError as exc:
            raise Problem(422, "validation_failed", "the form is not valid") from exc
        return submission
    raise Problem(415, "unsupported_media_type", f"send {JSON} or {FORM_ENCODED}")


def _submit_request(
    public_key: str, submission: PublicSubmission, origin: str
) -> capture_pb2.SubmitFormRequest:
    return capture_pb2.SubmitFormRequest(
        public_key=public_key,
        values=submission.values,
        attribution=capture_pb2.Attribution(**submission.attribution.model_dump()),
        origin=origin,
    )


def _or_html(responses: dict[int | str, dict[str, Any]]) -> dict[int | str, dict[str, Any]]:
    """Error responses a form post may also get as an HTML page."""
    return {
        status: {**response, "content": {**response["content"], **HTML_CONTENT}}
        for status, response in responses.items()
    }


def _inlined(schema: Any, defs: dict[str, Any]) -> Any:
    """A model's JSON schema with its `$defs` references written in place (no route
    takes the model as its body, so OpenAPI's components do not hold them)."""
    if isinstance(schema, dict):
        ref = schema.get("$ref", "")
        if ref.startswith("#/$defs/"):
            return _inlined(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inlined(v, defs) for k, v in schema.items() if k != "$defs"}
    if isinstance(schema, list):
        return [_inlined(item, defs) for item in schema]
    return schema


_SUBMISSION_SCHEMA = PublicSubmission.model_json_schema()
SUBMISSION_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            JSON: {"schema": _inlined(_SUBMISSION_SCHEMA, _SUBMISSION_SCHEMA.get("$defs", {}))},
            FORM_ENCODED: {
                "schema": {
                    "type": "object",
                    "additionalProperties": {"type": "string"},
                    "description": "The form's inputs by name, plus utm_source, utm_medium, "
                    "utm_campaign, utm_term, utm_content, referrer and landing_url",
                }
            },
        },
    }
}


@router.post(
    "/v1/public/forms/{public_key}/submissions",
    summary="Submit a capture form (public, no login)",
    description="JSON (the snippet) or a form post (the hosted page, which then gets a "
    "303 to the form's redirect URL or an HTML thank-you page). The submission creates a "
    "lead, or is recorded against the lead or contact with the same email. Limited per IP "
    "and per form; from another site only the form's allowed origins may submit (403 "
    "`origin_not_allowed`). An unknown or disabled form is 404.",
    response_model=SubmissionAccepted,
    responses={
        200: {"content": {JSON: {}, **HTML_CONTENT}},
        303: {"description": "A form post, to the form's redirect URL"},
        **_or_html(problems(403, 404, 415, 422)),
    },
    openapi_extra=SUBMISSION_BODY,
)
async def submit_form(public_key: PublicKey, request: Request, response: Response) -> Response:
    from_html = media_type_of(request) == FORM_ENCODED
    origin = _cross_origin(request)
    try:
        await _limit_submission(request, response, public_key)
        submission = await _read_submission(request)
        result = await request.app.state.upstreams.capture_forms.SubmitForm(
            _submit_request(public_key, submission, origin)
        )
    except grpc.aio.AioRpcError as exc:
        problem = from_rpc_error(exc)
        if origin and problem.code not in CLOSED_CODES:
            problem.headers.update(_cors(origin))
        if from_html:
            return _html_error(request, problem, back=pages.hosted_path(public_key))
        raise problem from exc
    except Problem as problem:
        if from_html:
            return _html_error(request, problem, back=pages.hosted_path(public_key))
        raise
    headers = {**response.headers, **(_cors(origin) if origin else {})}
    if from_html:
        if result.redirect_url:
            return RedirectResponse(result.redirect_url, status_code=303, headers=headers)
        body = pages.message_page("Thank you", result.thank_you_message)
        return HTMLResponse(body, headers={**headers, **pages.page_headers()})
    accepted = SubmissionAccepted(
        redirect_url=result.redirect_url or None, message=result.thank_you_message
    )
    return Response(accepted.model_dump_json(), media_type=JSON, headers=headers)


@router.options(
    "/v1/public/forms/{public_key}/submissions",
    status_code=204,
    summary="CORS preflight of a form submission",
    description="Answers an allowed origin of the form (Access-Control-Allow-Origin, POST, "
    "Content-Type); any other origin gets 403 and no CORS headers.",
    responses={204: {"description": "The origin may submit"}, **problems(403, 404, 422)},
)
async def preflight(public_key: PublicKey, request: Request, response: Response) -> Response:
    await limit_by_ip(request, response)
    form = await _public_form(request, public_key)
    origin = request.headers.get("origin", "")
    if not origin or origin.lower() not in form.allowed_origins:
        raise Problem(403, "origin_not_allowed", "this origin may not submit the form")
    headers = {
        **response.headers,
        **_cors(origin),
        "Access-Control-Allow-Methods": "POST",
        "Access-Control-Allow-Headers": "Content-Type",
        "Access-Control-Max-Age": "600",
    }
    return Response(status_code=204, headers=headers)


@router.get(
    "/v1/public/forms/{public_key}/embed.js",
    summary="A capture form's embeddable snippet (public)",
    description='Paste `<script src="…/embed.js" async></script>` on a page of an allowed '
    "origin: it renders the form where it stands (or inside the element with "
    '`data-crm-form="KEY"`, or takes over such a `<form>`), keeps the visitor\'s first '
    "touch (UTM parameters, referrer, landing URL) in localStorage for 30 minutes after "
    "their last page, and sends it with the submission. No cookies, no third party.",
    response_class=Response,
    responses={
        200: {"content": {"text/javascript": {"schema": {"type": "string"}}}},
        **problems(404, 422),
    },
)
async def embed_script(public_key: PublicKey, request: Request, response: Response) -> Response:
    await limit_by_ip(request, response)
    form = await _public_form(request, public_key)
    submit_url = str(request.base_url).rstrip("/") + pages.submit_path(public_key)
    headers = {
        **response.headers,
        "Cache-Control": "public, max-age=300",
        "Cross-Origin-Resource-Policy": "cross-origin",
    }
    return Response(
        pages.snippet(form, submit_url=submit_url),
        media_type="text/javascript; charset=utf-8",
        headers=headers,
    )


@router.get(
    "/f/assets/form.css",
    summary="The hosted pages' stylesheet",
    response_class=Response,
    responses={200: {"content": {"text/css": {"schema": {"type": "string"}}}}},
)
async def hosted_stylesheet() -> Response:
    return Response(
        pages.stylesheet(),
        media_type="text/css; charset=utf-8",
        headers={"Cache-Control": "public, max-age=3600"},
    )


@router.get(
    "/f/{public_key}",
    summary="A capture form's hosted landing page (public)",
    description="Server-rendered HTML, no cookies, no third-party anything, a strict CSP. "
    "The page's UTM parameters, referrer and URL travel in hidden fields, so it captures "
    "attribution without JavaScript too; with it, the first touch of the session wins.",
    response_class=HTMLResponse,
    responses={
        200: {"content": HTML_CONTENT},
        404: {"description": "No such open form", "content": HTML_CONTENT},
        503: {"description": "A service is unavailable", "content": HTML_CONTENT},
        **{s: r for s, r in problems(422).items() if s not in (503,)},
    },
)
async def hosted_page(public_key: PublicKey, request: Request, response: Response) -> Response:
    await limit_by_ip(request, response)
    try:
        form = await _public_form(request, public_key)
    except grpc.aio.AioRpcError as exc:
        return _html_error(request, from_rpc_error(exc))
    attribution = {name: request.query_params.get(name, "") for name in ATTRIBUTION_FIELDS}
    attribution["referrer"] = request.headers.get("referer", "")
    attribution["landing_url"] = str(request.url)
    body = pages.form_page(form, attribution=attribution)
    headers = {**response.headers, **pages.page_headers(form.redirect_url)}
    return HTMLResponse(body, headers=headers)
