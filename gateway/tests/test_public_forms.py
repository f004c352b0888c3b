"""Capture forms' public side: what the gateway decides before any upstream is asked
(limits, body types), and what it renders (escaped pages, a strict CSP, a safe snippet)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from crm.crm_core.v1 import capture_pb2
from crm_gateway import capture_pages as pages
from crm_gateway.app import create_app
from crm_gateway.problems import PROBLEM_MEDIA_TYPE

from .conftest import gateway_settings

pytestmark = pytest.mark.unit

KEY = "pf_" + "k" * 32
SUBMIT = f"/v1/public/forms/{KEY}/submissions"
VALUES = {"values": {"email": "lin@prospect.example"}}


@pytest_asyncio.fixture
async def public_client() -> AsyncIterator[httpx.AsyncClient]:
    settings = gateway_settings().model_copy(
        update={"rate_limit_form_ip": "3/minute", "rate_limit_form": "1000/minute"}
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


def _form(**overrides: object) -> capture_pb2.PublicForm:
    values: dict[str, object] = {
        "public_key": KEY,
        "name": "Spring <b>offer</b>",
        "honeypot_field": "website_url",
        "fields": [
            capture_pb2.CaptureFormField(
                name="email", label="Email</script><script>alert(1)</script>", input_type="email"
            )
        ],
    }
    values.update(overrides)
    return capture_pb2.PublicForm(**values)  # type: ignore[arg-type]


class TestSubmissionGate:
    async def test_submissions_are_limited_per_ip_without_login(
        self, public_client: httpx.AsyncClient
    ) -> None:
        answers = [await public_client.post(SUBMIT, json=VALUES) for _ in range(4)]
        # Nothing listens upstream: the first three pass the limiter and meet a 503.
        assert [a.status_code for a in answers] == [503, 503, 503, 429]
        assert answers[3].headers["content-type"] == PROBLEM_MEDIA_TYPE
        assert answers[3].headers["ratelimit-policy"] == '"form-ip";q=3;w=60'

    async def test_other_body_types_are_415(self, public_client: httpx.AsyncClient) -> None:
        answer = await public_client.post(
            SUBMIT, content=b"email=a", headers={"content-type": "text/plain"}
        )
        assert (answer.status_code, answer.json()["code"]) == (415, "unsupported_media_type")

    async def test_a_bad_json_body_names_the_field(self, public_client: httpx.AsyncClient) -> None:
        answer = await public_client.post(SUBMIT, json={"values": {"email": 5}})
        assert answer.status_code == 422
        assert answer.json()["errors"][0]["field"] == "values.email"

    async def test_the_stylesheet_is_served_without_cookies(
        self, public_client: httpx.AsyncClient
    ) -> None:
        answer = await public_client.get("/f/assets/form.css")
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/css")
        assert "set-cookie" not in answer.headers


class TestRendering:
    def test_the_hosted_page_escapes_what_tenants_and_visitors_wrote(self) -> None:
        html = pages.form_page(
            _form(),
            attribution={"utm_campaign": '"><script>alert(2)</script>'},
        )
        assert "<script>alert" not in html
        assert "Spring &lt;b&gt;offer&lt;/b&gt;" in html
        assert 'value="&#34;&gt;&lt;script&gt;alert(2)&lt;/script&gt;"' in html
        assert f'<script src="/v1/public/forms/{KEY}/embed.js"></script>' in html
        assert 'name="website_url"' in html

    def test_the_csp_allows_only_this_origin_and_the_redirect(self) -> None:
        policy = pages.page_headers("https://shop.example/thanks?x=1")["Content-Security-Policy"]
        assert policy.startswith("default-src 'none'; script-src 'self'; style-src 'self';")
        assert "form-action 'self' https://shop.example;" in policy
        assert "frame-ancestors 'none'" in policy
        assert "form-action 'self';" in pages.page_headers()["Content-Security-Policy"]

    def test_the_snippet_carries_its_config_as_inert_json(self) -> None:
        script = pages.snippet(_form(), submit_url="https://api.example" + SUBMIT)
        assert script.startswith("/* A capture form's snippet.")
        assert "</script>" not in script
        assert "\\u003c/script\\u003e" in script
        assert script.rstrip().endswith(");")
        assert f'"submit_url": "https://api.example{SUBMIT}"' in script


class TestApiCors:
    async def test_the_global_cors_list_leaves_form_submissions_to_their_forms(self) -> None:
        settings = gateway_settings().model_copy(update={"cors_origins": ["https://app.example"]})
        app = create_app(settings)
        preflight = {"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"}
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                api = await client.options("/v1/contacts", headers=preflight)
                form = await client.options(SUBMIT, headers=preflight)
        # The API refuses the foreign origin itself; the form's preflight reaches its
        # route, which asks crm-core (not listening here) for the form's origins.
        assert api.status_code == 400
        assert (form.status_code, form.json()["code"]) == (503, "unavailable")


class TestFormPosts:
    async def test_a_form_post_gets_its_errors_as_pages(
        self, public_client: httpx.AsyncClient
    ) -> None:
        posted = {"work_email": "lin@prospect.example", "utm_campaign": "spring"}
        answers = [await public_client.post(SUBMIT, data=posted) for _ in range(4)]
        assert [a.status_code for a in answers] == [503, 503, 503, 429]
        for answer in answers:
            assert answer.headers["content-type"].startswith("text/html")
            assert answer.headers["content-security-policy"].startswith("default-src 'none'")
        assert "Too many submissions." in answers[3].text
        assert answers[3].headers["ratelimit-policy"] == '"form-ip";q=3;w=60'
        assert int(answers[3].headers["retry-after"]) >= 1
        assert f'href="/f/{KEY}"' in answers[3].text
