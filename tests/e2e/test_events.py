"""Each contact change reaches JetStream through crm-core's outbox, in order."""

from __future__ import annotations

import httpx
import pytest

from crm.events.v1 import crm_core_pb2, envelope_pb2
from crm.events.v1 import gateway_pb2 as gateway_events
from crm.events.v1 import identity_pb2 as identity_events

from .bus import payload_of, published
from .conftest import Account
from .test_slice import create_contact

pytestmark = pytest.mark.e2e


async def _contact_events(tenant_id: str, *, expected: int) -> list[envelope_pb2.Envelope]:
    return await _tenant_events("crm.crm_core.contact.*", tenant_id, expected=expected)


async def _tenant_events(
    subject: str, tenant_id: str, *, expected: int
) -> list[envelope_pb2.Envelope]:
    return await published(subject, keep=lambda e: e.tenant_id == tenant_id, expected=expected)


class TestContactEvents:
    async def test_create_update_delete_publish_one_event_each(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        contact = await create_contact(api, tenant_a, first_name="Evented")
        path = f"/v1/contacts/{contact['id']}"
        await api.patch(path, json={"last_name": "Lovelace"}, headers=tenant_a.headers)
        await api.delete(path, headers=tenant_a.headers)

        events = await _contact_events(tenant_a.tenant_id, expected=3)
        assert [e.type for e in events] == [
            "crm_core.contact.created",
            "crm_core.contact.updated",
            "crm_core.contact.deleted",
        ]
        assert {e.source for e in events} == {"crm_core"}
        assert {e.actor.id for e in events} == {tenant_a.user_id}
        updated = crm_core_pb2.ContactUpdated()
        events[1].payload.Unpack(updated)
        assert list(updated.changed_fields) == ["last_name"]
        assert updated.contact.last_name == "Lovelace"


class TestAccountActivity:
    async def test_login_events_carry_actor_ip_and_user_agent_but_no_secret(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        await api.post(
            "/v1/auth/login",
            json={"email": tenant_a.email, "password": "not the password"},
            headers={"User-Agent": "e2e-agent/1.0"},
        )
        events = await _tenant_events("crm.identity.login.*", tenant_a.tenant_id, expected=1)
        failed = [e for e in events if e.type == "identity.login.failed"]
        assert failed, [e.type for e in events]
        assert (failed[0].client_ip, failed[0].user_agent) == ("127.0.0.1", "e2e-agent/1.0")
        payload = identity_events.LoginFailed()
        failed[0].payload.Unpack(payload)
        assert (payload.user_id, payload.reason) == (tenant_a.user_id, "invalid_password")
        assert b"not the password" not in failed[0].SerializeToString()


class TestApiRequestLog:
    async def test_each_request_reaches_the_audit_stream_without_secrets(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        response = await api.get(
            "/v1/contacts/0b5e0c3e-0000-4000-8000-000000000001",
            headers={**tenant_a.headers, "User-Agent": "audit-probe/2"},
        )
        request_id = response.headers["x-request-id"]

        def logged(envelope: envelope_pb2.Envelope) -> bool:
            batch = payload_of(envelope, gateway_events.ApiRequestsLogged)
            return any(r.request_id == request_id for r in batch.requests)

        [envelope] = await published("crm.gateway.api_requests.logged", keep=logged)
        entry = next(
            r
            for r in payload_of(envelope, gateway_events.ApiRequestsLogged).requests
            if r.request_id == request_id
        )
        assert (entry.method, entry.route, entry.status) == (
            "GET",
            "/v1/contacts/{contact_id}",
            404,
        )
        assert (entry.principal_kind, entry.principal_id, entry.tenant_id) == (
            "user",
            tenant_a.user_id,
            tenant_a.tenant_id,
        )
        assert (entry.client_ip, entry.user_agent) == ("127.0.0.1", "audit-probe/2")
        assert entry.latency_ms > 0
        assert tenant_a.access_token.encode() not in envelope.SerializeToString()
