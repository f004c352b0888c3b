"""Landing-page lead capture in a real headless Chromium (Debian's `chromium`, driven by
Playwright): the hosted page with UTM parameters, with and without JavaScript; the embed
snippet on a tenant's own site (a local HTTP server on an allowed origin) keeping the
first touch across pages; a disallowed origin refused; a honeypot that creates nothing.
Each lead is then found through the API with its attribution."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import BrowserContext, Page, async_playwright
from playwright.async_api import TimeoutError as PlaywrightTimeout

from crm_devstack.stack import Stack

from .conftest import Account

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
THANKS = "Thanks, we will call you."
BROWSER_TIMEOUT_MS = 15_000


@dataclass(frozen=True)
class TenantSite:
    """A tenant's own website on this machine: `origin` is allowed, `other_origin`
    (the same server by another name) is not."""

    origin: str
    other_origin: str
    gateway_url: str

    def page_url(self, form_key: str, path: str, *, other: bool = False) -> str:
        return f"{self.other_origin if other else self.origin}{path}?form={form_key}"


def _site_handler(gateway_url: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            key = self.path.partition("form=")[2].partition("&")[0]
            script = f"{gateway_url}/v1/public/forms/{key}/embed.js"
            body = (
                "<!doctype html><html><head><meta charset='utf-8'><title>Shop</title></head>"
                f"<body><h1>Shop {self.path.split('?')[0]}</h1>"
                f"<script src='{script}' async></script></body></html>"
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@pytest.fixture(scope="module")
def site(stack: Stack) -> Iterator[TenantSite]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _site_handler(stack.gateway_url))
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield TenantSite(f"http://127.0.0.1:{port}", f"http://localhost:{port}", stack.gateway_url)
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.fail(
            "these tests need Debian's chromium at /usr/bin/chromium "
            "(`apt-get install chromium`; .ci/run and `make test` install it)"
        )
    return CHROMIUM


async def _context(
    chromium: Path, user_data: Path, *, javascript: bool = True
) -> AsyncIterator[BrowserContext]:
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(user_data),
            executable_path=str(chromium),
            headless=True,
            args=CHROMIUM_ARGS,
            java_script_enabled=javascript,
        )
        context.set_default_timeout(BROWSER_TIMEOUT_MS)
        try:
            yield context
        finally:
            await context.close()


@pytest_asyncio.fixture
async def browser(chromium: Path, tmp_path: Path) -> AsyncIterator[BrowserContext]:
    """A fresh Chromium profile (so a fresh localStorage) per test."""
    async for context in _context(chromium, tmp_path / "profile"):
        yield context


@pytest_asyncio.fixture
async def browser_without_js(chromium: Path, tmp_path: Path) -> AsyncIterator[BrowserContext]:
    async for context in _context(chromium, tmp_path / "profile-nojs", javascript=False):
        yield context


async def _create_form(api: httpx.AsyncClient, owner: Account, site: TenantSite) -> dict[str, Any]:
    response = await api.post(
        "/v1/capture-forms",
        json={
            "name": "Spring <offer>",
            "fields": [
                {
                    "name": "work_email",
                    "label": "Work email",
                    "input_type": "email",
                    "required": True,
                    "maps_to": "email",
                },
                {"name": "given_name", "label": "First name", "maps_to": "first_name"},
            ],
            "allowed_origins": [site.origin],
            "thank_you_message": THANKS,
        },
        headers=owner.headers,
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def _leads_where(api: httpx.AsyncClient, owner: Account, where: str) -> list[dict[str, Any]]:
    response = await api.get("/v1/leads", params={"filter": where}, headers=owner.headers)
    assert response.status_code == 200, response.text
    return response.json()["data"]  # type: ignore[no-any-return]


async def _fill_and_send(page: Page, email: str, name: str = "Lin") -> None:
    await page.fill("input[name=work_email]", email)
    await page.fill("input[name=given_name]", name)
    await page.click("button[type=submit]")


async def _shows(page: Page, text: str) -> None:
    """Waits for the text; a failure says what the page showed instead."""
    try:
        await page.get_by_text(text).wait_for()
    except PlaywrightTimeout:
        body = await page.inner_text("body")
        pytest.fail(f"{text!r} never showed on {page.url}; the page says: {body[:500]!r}")


class TestHostedPage:
    async def test_utm_parameters_reach_the_lead(
        self, api: httpx.AsyncClient, tenant_a: Account, site: TenantSite, browser: BrowserContext
    ) -> None:
        form = await _create_form(api, tenant_a, site)
        landing = (
            f"{form['hosted_url']}?utm_source=newsletter&utm_medium=email"
            "&utm_campaign=spring-hosted&utm_content=hero"
        )
        page = await browser.new_page()
        opened = await page.goto(landing)
        assert opened is not None
        assert opened.status == 200
        headers = await opened.all_headers()
        assert headers["content-security-policy"].startswith("default-src 'none'")
        assert "set-cookie" not in headers
        assert await page.title() == "Spring <offer>"
        await _fill_and_send(page, "Lin.Hosted@Prospect.example")
        await _shows(page, THANKS)
        assert await browser.cookies() == []

        [lead] = await _leads_where(api, tenant_a, "utm_campaign:eq:spring-hosted")
        assert (lead["email"], lead["first_name"], lead["source"]) == (
            "Lin.Hosted@prospect.example",
            "Lin",
            "web_form",
        )
        assert (lead["utm_source"], lead["utm_medium"], lead["utm_content"]) == (
            "newsletter",
            "email",
            "hero",
        )
        assert (lead["landing_url"], lead["capture_form_id"]) == (landing, form["id"])

        stats = await api.get(f"/v1/capture-forms/{form['id']}/stats", headers=tenant_a.headers)
        assert stats.json()["submissions"] == stats.json()["leads_created"] == 1
        campaigns = await api.get(
            "/v1/capture-forms/stats/campaigns",
            params={"form_id": form["id"]},
            headers=tenant_a.headers,
        )
        assert [(c["utm_campaign"], c["submissions"]) for c in campaigns.json()["data"]] == [
            ("spring-hosted", 1)
        ]

    async def test_without_javascript_the_page_still_captures_utm(
        self,
        api: httpx.AsyncClient,
        tenant_a: Account,
        site: TenantSite,
        browser_without_js: BrowserContext,
    ) -> None:
        form = await _create_form(api, tenant_a, site)
        page = await browser_without_js.new_page()
        await page.goto(f"{form['hosted_url']}?utm_source=print&utm_campaign=nojs-e2e")
        await _fill_and_send(page, "nojs@prospect.example", "Noor")
        await _shows(page, THANKS)
        [lead] = await _leads_where(api, tenant_a, "utm_campaign:eq:nojs-e2e")
        assert (lead["email"], lead["utm_source"]) == ("nojs@prospect.example", "print")

    async def test_a_filled_honeypot_looks_accepted_and_creates_nothing(
        self, api: httpx.AsyncClient, tenant_a: Account, site: TenantSite, browser: BrowserContext
    ) -> None:
        form = await _create_form(api, tenant_a, site)
        page = await browser.new_page()
        await page.goto(f"{form['hosted_url']}?utm_campaign=bots-e2e")
        await page.eval_on_selector(
            f"input[name={form['honeypot_field']}]", "input => { input.value = 'http://spam' }"
        )
        await _fill_and_send(page, "bot@spam.example", "Bot")
        await _shows(page, THANKS)
        assert await _leads_where(api, tenant_a, "email:eq:bot@spam.example") == []
        stats = await api.get(f"/v1/capture-forms/{form['id']}/stats", headers=tenant_a.headers)
        assert stats.json()["submissions"] == 0


class TestEmbeddedSnippet:
    async def test_first_touch_is_kept_across_pages_of_the_session(
        self, api: httpx.AsyncClient, tenant_a: Account, site: TenantSite, browser: BrowserContext
    ) -> None:
        form = await _create_form(api, tenant_a, site)
        page = await browser.new_page()
        landing = site.page_url(form["public_key"], "/spring") + (
            "&utm_source=ads&utm_medium=cpc&utm_campaign=embed-e2e&utm_term=crm"
        )
        await page.goto(landing)
        await page.wait_for_selector("input[name=work_email]")
        # A second page of the site, without UTM parameters: the first touch still counts.
        await page.goto(site.page_url(form["public_key"], "/pricing"))
        await _fill_and_send(page, "embed@prospect.example", "Emb")
        await _shows(page, THANKS)

        [lead] = await _leads_where(api, tenant_a, "utm_campaign:eq:embed-e2e")
        assert lead["email"] == "embed@prospect.example"
        assert (lead["utm_source"], lead["utm_medium"], lead["utm_term"]) == ("ads", "cpc", "crm")
        assert lead["landing_url"] == landing

    async def test_a_page_on_a_disallowed_origin_is_refused(
        self, api: httpx.AsyncClient, tenant_a: Account, site: TenantSite, browser: BrowserContext
    ) -> None:
        form = await _create_form(api, tenant_a, site)
        page = await browser.new_page()
        await page.goto(
            site.page_url(form["public_key"], "/spring", other=True) + "&utm_campaign=evil-e2e"
        )
        await _fill_and_send(page, "evil@prospect.example", "Eve")
        await _shows(page, "could not be sent")
        assert await _leads_where(api, tenant_a, "email:eq:evil@prospect.example") == []

        submit = f"/v1/public/forms/{form['public_key']}/submissions"
        preflight = await api.options(
            submit,
            headers={"Origin": site.other_origin, "Access-Control-Request-Method": "POST"},
        )
        assert preflight.status_code == 403
        assert "access-control-allow-origin" not in preflight.headers
        allowed = await api.options(
            submit, headers={"Origin": site.origin, "Access-Control-Request-Method": "POST"}
        )
        assert allowed.status_code == 204
        assert allowed.headers["access-control-allow-origin"] == site.origin
        posted = await api.post(
            submit,
            json={"values": {"work_email": "evil@prospect.example"}},
            headers={"Origin": site.other_origin},
        )
        assert (posted.status_code, posted.json()["code"]) == (403, "origin_not_allowed")
        assert await _leads_where(api, tenant_a, "email:eq:evil@prospect.example") == []


class TestTenantWall:
    async def test_another_tenants_form_is_404_and_its_key_shows_no_data(
        self, api: httpx.AsyncClient, tenant_a: Account, tenant_b: Account, site: TenantSite
    ) -> None:
        form = await _create_form(api, tenant_a, site)
        for path in (f"/v1/capture-forms/{form['id']}", f"/v1/capture-forms/{form['id']}/stats"):
            answer = await api.get(path, headers=tenant_b.headers)
            assert answer.status_code == 404, path
        listed = await api.get("/v1/capture-forms", headers=tenant_b.headers)
        assert listed.json()["data"] == []
        refused = await api.post(
            "/v1/capture-forms",
            json={
                "name": "Opt-in",
                "fields": [{"name": "e", "required": True, "maps_to": "email"}],
                "double_opt_in": True,
            },
            headers=tenant_b.headers,
        )
        assert (refused.status_code, refused.json()["code"]) == (422, "messaging_unavailable")
        hosted = await api.get(f"/f/pf_{'x' * 32}")
        assert hosted.status_code == 404
        assert hosted.headers["content-type"].startswith("text/html")
