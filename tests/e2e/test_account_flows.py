"""Sessions, password change and reset, and login enumeration, through the gateway."""

from __future__ import annotations

import statistics
import time
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from crm.events.v1 import identity_pb2 as identity_events

from .bus import payload_of, published
from .conftest import PASSWORD, Account, log_in

pytestmark = pytest.mark.e2e

NEW_PASSWORD = "a brand new passphrase"


async def _reset_link(user_id: str) -> str:
    """The link identity published for this user (the email messaging will send)."""
    events = await published(
        "crm.identity.password_reset.requested",
        keep=lambda e: payload_of(e, identity_events.PasswordResetRequested).user_id == user_id,
    )
    assert events, "no password-reset event was published"
    return payload_of(events[-1], identity_events.PasswordResetRequested).reset_url


def _comparable(response: httpx.Response) -> tuple[int, dict[str, Any]]:
    body = response.json() if response.content else {}
    body.pop("request_id", None)
    return response.status_code, body


class TestSessions:
    async def test_list_logout_and_logout_everywhere(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        second = (await log_in(api, tenant_a.email)).json()
        listed = await api.get("/v1/me/sessions", headers=tenant_a.headers)
        assert listed.status_code == 200
        sessions = listed.json()["data"]
        assert len(sessions) == 2
        assert [s["current"] for s in sessions].count(True) == 1
        assert {s["ip"] for s in sessions} == {"127.0.0.1"}

        logout = await api.post("/v1/auth/logout", json={"refresh_token": second["refresh_token"]})
        assert logout.status_code == 204
        refused = await api.post(
            "/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}
        )
        assert refused.status_code == 401
        assert len((await api.get("/v1/me/sessions", headers=tenant_a.headers)).json()["data"]) == 1

        everywhere = await api.delete("/v1/me/sessions", headers=tenant_a.headers)
        assert everywhere.status_code == 204
        gone = await api.post("/v1/auth/refresh", json={"refresh_token": tenant_a.refresh_token})
        assert gone.status_code == 401

    async def test_another_users_session_is_404(
        self, api: httpx.AsyncClient, tenant_a: Account, tenant_b: Account
    ) -> None:
        [theirs] = (await api.get("/v1/me/sessions", headers=tenant_b.headers)).json()["data"]
        response = await api.delete(f"/v1/me/sessions/{theirs['id']}", headers=tenant_a.headers)
        assert response.status_code == 404
        malformed = await api.delete("/v1/me/sessions/not-a-uuid", headers=tenant_a.headers)
        assert malformed.status_code == 404


class TestPasswords:
    async def test_change_needs_the_current_password(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        wrong = await api.post(
            "/v1/me/password",
            json={"current_password": "not it at all", "new_password": NEW_PASSWORD},
            headers=tenant_a.headers,
        )
        assert wrong.status_code == 401
        common = await api.post(
            "/v1/me/password",
            json={"current_password": PASSWORD, "new_password": "password1"},
            headers=tenant_a.headers,
        )
        assert common.status_code == 422
        assert common.json()["code"] == "password_too_common"
        changed = await api.post(
            "/v1/me/password",
            json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
            headers=tenant_a.headers,
        )
        assert changed.status_code == 204
        assert (await log_in(api, tenant_a.email)).status_code == 401
        assert (await log_in(api, tenant_a.email, NEW_PASSWORD)).status_code == 200

    async def test_reset_by_emailed_link(self, api: httpx.AsyncClient, tenant_a: Account) -> None:
        requested = await api.post("/v1/auth/password-reset", json={"email": tenant_a.email})
        assert requested.status_code == 202
        link = await _reset_link(tenant_a.user_id)
        token = parse_qs(urlsplit(link).query)["token"][0]

        confirm = {"token": token, "new_password": NEW_PASSWORD}
        assert (await api.post("/v1/auth/password-reset/confirm", json=confirm)).status_code == 204
        again = await api.post("/v1/auth/password-reset/confirm", json=confirm)
        assert again.status_code == 422
        assert again.json()["code"] == "invalid_reset_token"
        assert (await log_in(api, tenant_a.email, NEW_PASSWORD)).status_code == 200
        ended = await api.post("/v1/auth/refresh", json={"refresh_token": tenant_a.refresh_token})
        assert ended.status_code == 401


class TestEnumeration:
    async def test_known_and_unknown_emails_answer_alike(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        unknown = f"nobody-{uuid.uuid4().hex[:8]}@example.com"
        login_known = await log_in(api, tenant_a.email, "a wrong password")
        login_unknown = await log_in(api, unknown, "a wrong password")
        assert _comparable(login_known) == _comparable(login_unknown)

        reset_known = await api.post("/v1/auth/password-reset", json={"email": tenant_a.email})
        reset_unknown = await api.post("/v1/auth/password-reset", json={"email": unknown})
        assert _comparable(reset_known) == _comparable(reset_unknown)

    async def test_login_latency_does_not_reveal_the_email(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        unknown = f"nobody-{uuid.uuid4().hex[:8]}@example.com"
        timings: dict[str, list[float]] = {"known": [], "unknown": []}
        for _ in range(12):
            for label, email in (("known", tenant_a.email), ("unknown", unknown)):
                started = time.perf_counter()
                response = await log_in(api, email, "a wrong password")
                timings[label].append(time.perf_counter() - started)
                assert response.status_code == 401
        _assert_alike(timings)

    async def test_reset_latency_does_not_reveal_the_email(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        unknown = f"nobody-{uuid.uuid4().hex[:8]}@example.com"
        timings: dict[str, list[float]] = {"known": [], "unknown": []}
        for _ in range(12):
            for label, email in (("known", tenant_a.email), ("unknown", unknown)):
                started = time.perf_counter()
                response = await api.post("/v1/auth/password-reset", json={"email": email})
                timings[label].append(time.perf_counter() - started)
                assert response.status_code == 202
        _assert_alike(timings)


def _assert_alike(timings: dict[str, list[float]]) -> None:
    """Medians of interleaved samples within a factor of two: a skipped bcrypt or an
    extra database trip on one side only would show as several times slower."""
    known = statistics.median(timings["known"])
    unknown_median = statistics.median(timings["unknown"])
    assert 0.5 < known / unknown_median < 2.0, timings
