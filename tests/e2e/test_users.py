"""Users, roles, invitations and the organization's status, through the gateway."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from crm.events.v1 import identity_pb2 as identity_events

from .bus import payload_of, published
from .conftest import PASSWORD, Account, log_in

pytestmark = pytest.mark.e2e


async def _invitation_link(invitation_id: str) -> str:
    """The newest accept link identity published for this invitation (the email's content)."""
    events = await published(
        "crm.identity.invitation.sent",
        keep=lambda e: payload_of(e, identity_events.InvitationSent).invitation_id == invitation_id,
    )
    assert events, "no invitation.sent event was published"
    return payload_of(events[-1], identity_events.InvitationSent).accept_url


def _token(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


async def _invite(
    api: httpx.AsyncClient, by: Account, *, role: str = "member"
) -> tuple[str, str, str]:
    """(invitation id, invited email, token)"""
    email = f"invitee-{uuid.uuid4().hex[:10]}@example.com"
    response = await api.post(
        "/v1/invitations",
        json={"email": email, "role": role, "name": "Grace Hopper"},
        headers=by.headers,
    )
    assert response.status_code == 201, response.text
    invitation = response.json()
    assert (invitation["status"], invitation["role"]) == ("pending", role)
    assert response.headers["Location"] == f"/v1/invitations/{invitation['id']}"
    return invitation["id"], email, _token(await _invitation_link(invitation["id"]))


async def _accept(api: httpx.AsyncClient, token: str) -> httpx.Response:
    return await api.post(
        "/v1/invitations/accept",
        json={"token": token, "password": PASSWORD, "age_attested": True},
    )


async def _join(api: httpx.AsyncClient, by: Account, *, role: str) -> Account:
    _, email, token = await _invite(api, by, role=role)
    accepted = await _accept(api, token)
    assert accepted.status_code == 200, accepted.text
    tokens = (await log_in(api, email)).json()
    return Account(
        tokens["tenant_id"],
        tokens["user_id"],
        email,
        tokens["access_token"],
        tokens["refresh_token"],
    )


class TestInvitations:
    async def test_invitee_accepts_by_link_and_logs_in_with_the_invited_role(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        invitation_id, email, token = await _invite(api, tenant_a, role="admin")

        accepted = await _accept(api, token)

        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["tenant_id"] == tenant_a.tenant_id
        login = await log_in(api, email)
        assert login.status_code == 200
        assert login.json()["tenant_id"] == tenant_a.tenant_id
        me = await api.get(
            "/v1/users/me", headers={"Authorization": f"Bearer {login.json()['access_token']}"}
        )
        assert me.status_code == 200
        assert (me.json()["email"], me.json()["role"], me.json()["name"]) == (
            email,
            "admin",
            "Grace Hopper",
        )
        again = await _accept(api, token)
        assert again.status_code == 422
        assert again.json()["code"] == "invalid_invitation"
        listed = await api.get("/v1/invitations", headers=tenant_a.headers)
        assert [(i["id"], i["status"]) for i in listed.json()["data"]] == [
            (invitation_id, "accepted")
        ]

    async def test_resend_replaces_the_link_and_revoke_ends_it(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        invitation_id, _, first = await _invite(api, tenant_a)
        resent = await api.post(f"/v1/invitations/{invitation_id}/resend", headers=tenant_a.headers)
        assert resent.status_code == 200
        second = _token(await _invitation_link(invitation_id))
        assert second != first
        assert (await _accept(api, first)).status_code == 422

        revoked = await api.delete(f"/v1/invitations/{invitation_id}", headers=tenant_a.headers)
        assert revoked.status_code == 200
        assert revoked.json()["status"] == "revoked"
        assert (await _accept(api, second)).status_code == 422

    async def test_acceptance_needs_age_attestation(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        _, _, token = await _invite(api, tenant_a)
        refused = await api.post(
            "/v1/invitations/accept",
            json={"token": token, "password": PASSWORD, "age_attested": False},
        )
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["field"] == "age_attested"
        assert (await _accept(api, token)).status_code == 200

    async def test_inviting_a_current_user_conflicts(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        response = await api.post(
            "/v1/invitations",
            json={"email": tenant_a.email, "role": "member"},
            headers=tenant_a.headers,
        )
        assert response.status_code == 409
        assert response.json()["code"] == "user_exists"


class TestRoles:
    async def test_a_member_cannot_invite_or_manage(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        member = await _join(api, tenant_a, role="member")
        invite = await api.post(
            "/v1/invitations",
            json={"email": "someone@example.com", "role": "member"},
            headers=member.headers,
        )
        assert invite.status_code == 403
        assert invite.headers["content-type"].startswith("application/problem+json")
        demote = await api.patch(
            f"/v1/users/{tenant_a.user_id}/role", json={"role": "viewer"}, headers=member.headers
        )
        assert demote.status_code == 403
        # Reading the directory is fine for every role.
        listed = await api.get("/v1/users", headers=member.headers)
        assert listed.status_code == 200
        assert {u["id"] for u in listed.json()["data"]} == {tenant_a.user_id, member.user_id}

    async def test_owner_changes_a_role(self, api: httpx.AsyncClient, tenant_a: Account) -> None:
        member = await _join(api, tenant_a, role="member")
        changed = await api.patch(
            f"/v1/users/{member.user_id}/role", json={"role": "viewer"}, headers=tenant_a.headers
        )
        assert changed.status_code == 200
        assert changed.json()["role"] == "viewer"
        invalid = await api.patch(
            f"/v1/users/{member.user_id}/role", json={"role": "root"}, headers=tenant_a.headers
        )
        assert invalid.status_code == 422

    async def test_the_last_owner_stays(self, api: httpx.AsyncClient, tenant_a: Account) -> None:
        demote = await api.patch(
            f"/v1/users/{tenant_a.user_id}/role", json={"role": "admin"}, headers=tenant_a.headers
        )
        assert demote.json()["code"] == "last_owner"
        assert demote.status_code == 409
        deactivate = await api.post(
            f"/v1/users/{tenant_a.user_id}/deactivate", headers=tenant_a.headers
        )
        assert deactivate.json()["code"] == "last_owner"


class TestIsolation:
    async def test_another_tenants_user_ids_are_404(
        self, api: httpx.AsyncClient, tenant_a: Account, tenant_b: Account
    ) -> None:
        member = await _join(api, tenant_a, role="member")
        invitation_id, _, _ = await _invite(api, tenant_a)
        for user_id in (tenant_a.user_id, member.user_id, "not-a-uuid"):
            attempts = [
                api.get(f"/v1/users/{user_id}", headers=tenant_b.headers),
                api.patch(
                    f"/v1/users/{user_id}/role", json={"role": "viewer"}, headers=tenant_b.headers
                ),
                api.post(f"/v1/users/{user_id}/deactivate", headers=tenant_b.headers),
                api.post(f"/v1/users/{user_id}/reactivate", headers=tenant_b.headers),
                api.post(f"/v1/users/{user_id}/unlock", headers=tenant_b.headers),
            ]
            for attempt in attempts:
                response = await attempt
                assert response.status_code == 404, (user_id, response.text)
        resend = await api.post(f"/v1/invitations/{invitation_id}/resend", headers=tenant_b.headers)
        assert resend.status_code == 404
        revoke = await api.delete(f"/v1/invitations/{invitation_id}", headers=tenant_b.headers)
        assert revoke.status_code == 404
        mine = await api.get(f"/v1/users/{member.user_id}", headers=tenant_a.headers)
        assert (mine.json()["role"], mine.json()["status"]) == ("member", "active")


class TestDeactivation:
    async def test_a_deactivated_user_cannot_log_in_or_refresh(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        member = await _join(api, tenant_a, role="member")
        deactivated = await api.post(
            f"/v1/users/{member.user_id}/deactivate", headers=tenant_a.headers
        )
        assert deactivated.status_code == 200
        assert deactivated.json()["status"] == "deactivated"
        assert (await log_in(api, member.email)).status_code == 401
        refresh = await api.post("/v1/auth/refresh", json={"refresh_token": member.refresh_token})
        assert refresh.status_code == 401

        reactivated = await api.post(
            f"/v1/users/{member.user_id}/reactivate", headers=tenant_a.headers
        )
        assert reactivated.json()["status"] == "active"
        assert (await log_in(api, member.email)).status_code == 200


class TestTenant:
    async def test_owner_cancels_and_reactivates_the_organization(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        read = await api.get("/v1/tenant", headers=tenant_a.headers)
        assert read.status_code == 200
        assert (read.json()["id"], read.json()["status"]) == (tenant_a.tenant_id, "active")
        cancelled = await api.patch(
            "/v1/tenant", json={"status": "cancelled"}, headers=tenant_a.headers
        )
        assert cancelled.json()["status"] == "cancelled"
        deletion = await api.patch(
            "/v1/tenant", json={"status": "pending_deletion"}, headers=tenant_a.headers
        )
        assert deletion.status_code == 403
        active = await api.patch("/v1/tenant", json={"status": "active"}, headers=tenant_a.headers)
        assert active.json()["status"] == "active"


class TestSignup:
    async def test_signup_without_age_attestation_is_422(self, api: httpx.AsyncClient) -> None:
        response = await api.post(
            "/v1/auth/signup",
            json={
                "organization_name": "Acme",
                "owner_name": "Ada",
                "email": f"owner-{uuid.uuid4().hex[:10]}@example.com",
                "password": PASSWORD,
            },
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "age_attested"
