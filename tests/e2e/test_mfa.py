"""The TOTP second factor through the gateway: enroll, log in with a challenge, complete
it, and the organization's requirement (with enrollment during a login it forces)."""

from __future__ import annotations

import asyncio
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import httpx
import pyotp
import pytest

from crm.events.v1 import identity_pb2 as identity_events

from .bus import payload_of, published
from .conftest import PASSWORD, Account, log_in

pytestmark = pytest.mark.e2e

STEP = 30


async def _previous_step_code(secret: str) -> str:
    """Still accepted, with time left: codes are spent in increasing steps, so this one
    first, then `now()`."""
    remaining = STEP - time.time() % STEP
    if remaining < 3:
        await asyncio.sleep(remaining + 0.1)
    return pyotp.TOTP(secret).at(time.time() - STEP)


async def _enroll(api: httpx.AsyncClient, account: Account) -> tuple[str, list[str]]:
    started = await api.post("/v1/me/mfa/totp", headers=account.headers)
    assert started.status_code == 200, started.text
    assert started.headers["cache-control"] == "no-store"
    secret = started.json()["secret"]
    confirmed = await api.post(
        "/v1/me/mfa/totp/confirm",
        json={"code": await _previous_step_code(secret)},
        headers=account.headers,
    )
    assert confirmed.status_code == 200, confirmed.text
    return secret, confirmed.json()["codes"]


async def _log_in(api: httpx.AsyncClient, email: str) -> httpx.Response:
    response = await log_in(api, email)
    assert response.status_code == 200, response.text
    return response


async def _invited_member(api: httpx.AsyncClient, owner: Account) -> str:
    """The email of a member who accepted an invitation and has never logged in."""
    email = f"invitee-{uuid.uuid4().hex[:10]}@example.com"
    invited = await api.post(
        "/v1/invitations",
        json={"email": email, "role": "member", "name": "Grace Hopper"},
        headers=owner.headers,
    )
    assert invited.status_code == 201, invited.text
    invitation_id = invited.json()["id"]
    events = await published(
        "crm.identity.invitation.sent",
        keep=lambda e: payload_of(e, identity_events.InvitationSent).invitation_id == invitation_id,
    )
    assert events, "no invitation.sent event was published"
    link = payload_of(events[-1], identity_events.InvitationSent).accept_url
    accepted = await api.post(
        "/v1/invitations/accept",
        json={
            "token": parse_qs(urlsplit(link).query)["token"][0],
            "password": PASSWORD,
            "age_attested": True,
        },
    )
    assert accepted.status_code == 200, accepted.text
    return email


class TestTotpLogin:
    async def test_enrolled_login_needs_a_code_and_its_tokens_work(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        secret, codes = await _enroll(api, tenant_a)
        assert len(codes) == 10

        challenged = (await _log_in(api, tenant_a.email)).json()
        assert challenged == {
            "mfa_required": True,
            "mfa_challenge": challenged["mfa_challenge"],
            "mfa_enrollment_required": False,
        }
        wrong = await api.post(
            "/v1/auth/mfa", json={"challenge": challenged["mfa_challenge"], "code": "12345x"}
        )
        assert wrong.status_code == 401
        assert wrong.json()["code"] == "invalid_mfa_code"

        completed = await api.post(
            "/v1/auth/mfa",
            json={"challenge": challenged["mfa_challenge"], "code": pyotp.TOTP(secret).now()},
        )
        assert completed.status_code == 200, completed.text
        tokens = completed.json()
        assert tokens["mfa_required"] is False
        assert tokens["user_id"] == tenant_a.user_id
        contacts = await api.get(
            "/v1/contacts", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
        assert contacts.status_code == 200, contacts.text

    async def test_a_recovery_code_completes_a_login_once(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        _, codes = await _enroll(api, tenant_a)

        for expected in (200, 401):
            challenge = (await _log_in(api, tenant_a.email)).json()["mfa_challenge"]
            answered = await api.post(
                "/v1/auth/mfa", json={"challenge": challenge, "code": codes[0]}
            )
            assert answered.status_code == expected, answered.text

    async def test_the_login_response_documents_both_shapes(self, api: httpx.AsyncClient) -> None:
        spec = (await api.get("/openapi.json")).json()
        login = spec["paths"]["/v1/auth/login"]["post"]["responses"]["200"]
        shapes = login["content"]["application/json"]["schema"]["anyOf"]
        assert {s["$ref"].rsplit("/", 1)[1] for s in shapes} == {
            "TokenResponse",
            "MfaChallengeResponse",
        }


class TestTenantRequirement:
    async def test_an_owner_requires_mfa_and_then_cannot_turn_their_own_off(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        refused = await api.put("/v1/tenant/mfa", json={"required": True}, headers=tenant_a.headers)
        assert refused.status_code == 409
        assert refused.json()["code"] == "mfa_not_enabled"
        secret, _ = await _enroll(api, tenant_a)

        required = await api.put(
            "/v1/tenant/mfa", json={"required": True}, headers=tenant_a.headers
        )
        assert required.status_code == 200, required.text
        assert required.json() == {"required": True}
        disabled = await api.post(
            "/v1/me/mfa/totp/disable",
            json={"password": PASSWORD, "code": pyotp.TOTP(secret).now()},
            headers=tenant_a.headers,
        )
        assert disabled.status_code == 409
        assert disabled.json()["code"] == "mfa_required_by_tenant"

    async def test_a_member_without_a_second_factor_enrolls_while_logging_in(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        await _enroll(api, tenant_a)
        required = await api.put(
            "/v1/tenant/mfa", json={"required": True}, headers=tenant_a.headers
        )
        assert required.status_code == 200, required.text
        email = await _invited_member(api, tenant_a)

        challenged = (await _log_in(api, email)).json()
        assert challenged["mfa_enrollment_required"] is True
        challenge = challenged["mfa_challenge"]
        started = await api.post("/v1/auth/mfa/enroll", json={"challenge": challenge})
        assert started.status_code == 200, started.text
        assert started.headers["cache-control"] == "no-store"
        secret = started.json()["secret"]
        confirmed = await api.post(
            "/v1/auth/mfa/enroll/confirm",
            json={"challenge": challenge, "code": pyotp.TOTP(secret).now()},
        )

        assert confirmed.status_code == 200, confirmed.text
        assert confirmed.headers["cache-control"] == "no-store"
        body = confirmed.json()
        assert len(body["recovery_codes"]) == 10
        assert (body["tenant_id"], body["mfa_required"]) == (tenant_a.tenant_id, False)
        me = await api.get(
            "/v1/users/me", headers={"Authorization": f"Bearer {body['access_token']}"}
        )
        assert me.status_code == 200, me.text
        assert me.json()["email"] == email
        refreshed = await api.post(
            "/v1/auth/refresh", json={"refresh_token": body["refresh_token"]}
        )
        assert refreshed.status_code == 200, refreshed.text
        reused = await api.post("/v1/auth/mfa/enroll", json={"challenge": challenge})
        assert reused.status_code == 401
        assert reused.json()["code"] == "invalid_mfa_challenge"
