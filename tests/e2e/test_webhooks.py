"""Signed outbound webhooks with every process real: a contact created through the
gateway reaches a real local HTTPS receiver (its own CA, which messaging trusts) that
verifies the Standard Webhooks signature; failures are retried until they arrive; the
messaging process is killed mid-run and nothing is lost; a slow endpoint does not delay
another tenant's deliveries."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
import trustme

from crm_devstack.processes import Job, grpc_health_check, module_command, spawn, wait_ready
from crm_devstack.stack import SERVICES, Stack, service_env
from crm_devstack.webhook_receiver import Received, WebhookReceiver

from .conftest import Account
from .test_slice import create_contact
from .test_users import _join

pytestmark = pytest.mark.e2e

MESSAGING = next(s for s in SERVICES if s.name == "messaging")
PROBLEM = "application/problem+json"


@pytest_asyncio.fixture
async def receiver(webhook_ca: trustme.CA) -> AsyncIterator[WebhookReceiver]:
    running = WebhookReceiver(webhook_ca)
    await running.start()
    yield running
    await running.stop()


async def subscribe(
    api: httpx.AsyncClient,
    account: Account,
    receiver: WebhookReceiver,
    path: str,
    event_types: tuple[str, ...] = ("contact.*",),
) -> dict[str, Any]:
    response = await api.post(
        "/v1/webhooks/endpoints",
        json={"url": receiver.url(path), "event_types": list(event_types)},
        headers=account.headers,
    )
    assert response.status_code == 201, response.text
    endpoint: dict[str, Any] = response.json()
    receiver.expect_secrets(path, endpoint["secret"])
    return endpoint


def unique_events(requests: list[Received]) -> dict[str, dict[str, Any]]:
    """Verified requests by webhook-id (a receiver dedupes retries by it)."""
    return {r.webhook_id: json.loads(r.body) for r in requests if r.verified_with}


class TestDelivery:
    async def test_a_contact_created_through_the_gateway_arrives_signed_and_is_logged(
        self, api: httpx.AsyncClient, tenant_a: Account, receiver: WebhookReceiver
    ) -> None:
        endpoint = await subscribe(api, tenant_a, receiver, "/crm")
        assert endpoint["secret"].startswith("whsec_")
        read = await api.get(f"/v1/webhooks/endpoints/{endpoint['id']}", headers=tenant_a.headers)
        assert read.status_code == 200
        assert "secret" not in read.json()
        assert endpoint["secret"] not in read.text

        contact = await create_contact(api, tenant_a, first_name="Ada", email="ada@example.com")
        await receiver.wait_for(lambda: len(receiver.at("/crm")) >= 1)

        [request] = receiver.at("/crm")
        assert request.verified_with == {endpoint["secret"]}
        body = json.loads(request.body)
        assert body["type"] == "contact.created"
        assert body["id"] == request.webhook_id
        assert body["tenant_id"] == tenant_a.tenant_id
        assert body["data"]["contact"]["id"] == contact["id"]
        assert body["data"]["contact"]["email"] == "ada@example.com"

        listed = await _eventually_json(
            api,
            f"/v1/webhooks/endpoints/{endpoint['id']}/deliveries?status=succeeded",
            tenant_a,
            lambda b: len(b["data"]) == 1,
        )
        [delivery] = listed["data"]
        assert delivery["event_id"] == request.webhook_id
        detail = (
            await api.get(f"/v1/webhooks/deliveries/{delivery['id']}", headers=tenant_a.headers)
        ).json()
        assert [(a["number"], a["status_code"]) for a in detail["attempts"]] == [(1, 200)]
        assert detail["payload"].encode() == request.body

        replay = await api.post(
            f"/v1/webhooks/deliveries/{delivery['id']}/replay", headers=tenant_a.headers
        )
        assert replay.status_code == 202, replay.text
        await receiver.wait_for(lambda: len(receiver.at("/crm")) == 2)
        again = receiver.at("/crm")[1]
        assert (again.webhook_id, again.body) == (request.webhook_id, request.body)
        assert again.verified_with == {endpoint["secret"]}

    async def test_failures_are_retried_until_the_delivery_arrives(
        self, api: httpx.AsyncClient, tenant_a: Account, receiver: WebhookReceiver
    ) -> None:
        endpoint = await subscribe(api, tenant_a, receiver, "/flaky")
        receiver.fail_next("/flaky", 503, 500, 429)

        await create_contact(api, tenant_a, first_name="Grace")
        await receiver.wait_for(lambda: len(receiver.at("/flaky")) == 4)

        requests = receiver.at("/flaky")
        assert [r.status for r in requests] == [503, 500, 429, 200]
        assert len({r.webhook_id for r in requests}) == 1
        assert all(r.verified_with == {endpoint["secret"]} for r in requests)
        listed = await _eventually_json(
            api,
            f"/v1/webhooks/endpoints/{endpoint['id']}/deliveries",
            tenant_a,
            lambda b: b["data"] and b["data"][0]["status"] == "succeeded",
        )
        assert listed["data"][0]["attempt_count"] == 4

    async def test_during_a_rotation_both_secrets_sign(
        self, api: httpx.AsyncClient, tenant_a: Account, receiver: WebhookReceiver
    ) -> None:
        endpoint = await subscribe(api, tenant_a, receiver, "/rotating")
        rotated = await api.post(
            f"/v1/webhooks/endpoints/{endpoint['id']}/rotate-secret",
            json={"overlap_seconds": 3600},
            headers=tenant_a.headers,
        )
        assert rotated.status_code == 200, rotated.text
        assert rotated.headers["cache-control"] == "no-store"
        new_secret = rotated.json()["secret"]
        assert rotated.json()["previous_secret_expires_at"] is not None
        receiver.expect_secrets("/rotating", endpoint["secret"], new_secret)

        await create_contact(api, tenant_a, first_name="Rotated")
        await receiver.wait_for(lambda: len(receiver.at("/rotating")) >= 1)

        assert receiver.at("/rotating")[0].verified_with == {endpoint["secret"], new_secret}


class TestRules:
    async def test_bad_subscriptions_are_422_with_a_code(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        cases = {
            "unknown_event_type": {"url": "https://example.com/h", "event_types": ["user.created"]},
            "https_required": {"url": "http://example.com/h", "event_types": ["*"]},
            "url_credentials": {"url": "https://u:p@example.com/h", "event_types": ["*"]},
            "forbidden_address": {"url": "https://169.254.169.254/h", "event_types": ["*"]},
        }
        for code, body in cases.items():
            response = await api.post("/v1/webhooks/endpoints", json=body, headers=tenant_a.headers)
            assert response.status_code == 422, response.text
            assert response.headers["content-type"].startswith(PROBLEM)
            assert response.json()["code"] == code

    async def test_only_admins_of_the_tenant_reach_its_webhooks(
        self,
        api: httpx.AsyncClient,
        tenant_a: Account,
        tenant_b: Account,
        receiver: WebhookReceiver,
    ) -> None:
        endpoint = await subscribe(api, tenant_a, receiver, "/owned")
        await create_contact(api, tenant_a, first_name="Owned")
        listed = await _eventually_json(
            api,
            f"/v1/webhooks/endpoints/{endpoint['id']}/deliveries",
            tenant_a,
            lambda b: len(b["data"]) == 1,
        )
        delivery_id = listed["data"][0]["id"]
        member = await _join(api, tenant_a, role="member")

        foreign = [
            await api.get(f"/v1/webhooks/endpoints/{endpoint['id']}", headers=tenant_b.headers),
            await api.get(f"/v1/webhooks/deliveries/{delivery_id}", headers=tenant_b.headers),
            await api.post(
                f"/v1/webhooks/deliveries/{delivery_id}/replay", headers=tenant_b.headers
            ),
            await api.delete(f"/v1/webhooks/endpoints/{endpoint['id']}", headers=tenant_b.headers),
        ]
        assert [r.status_code for r in foreign] == [404] * 4
        assert (await api.get("/v1/webhooks/endpoints", headers=tenant_b.headers)).json() == {
            "data": []
        }
        refused = await api.get("/v1/webhooks/endpoints", headers=member.headers)
        assert refused.status_code == 403
        assert refused.json()["code"] == "role_not_allowed"
        types = await api.get("/v1/webhooks/event-types", headers=tenant_a.headers)
        names = {t["name"] for t in types.json()["data"]}
        assert {"contact.created", "deal.stage_changed", "lead.converted"} <= names
        assert not any(n.startswith(("gateway.", "identity.")) for n in names)


class TestResilience:
    async def test_nothing_is_lost_when_messaging_is_killed_mid_run(
        self, api: httpx.AsyncClient, stack: Stack, tenant_a: Account, receiver: WebhookReceiver
    ) -> None:
        await subscribe(api, tenant_a, receiver, "/durable")
        receiver.slow_down("/durable", 1.0)  # attempts are in flight when the kill comes
        before = [await create_contact(api, tenant_a, first_name=f"B{i}") for i in range(3)]
        await asyncio.sleep(0.5)

        index, child = next(
            (i, c) for i, c in enumerate(stack.supervisor.children) if c.name == MESSAGING.name
        )
        os.killpg(child.process.pid, signal.SIGKILL)
        child.process.wait(10)
        try:
            during = [await create_contact(api, tenant_a, first_name=f"D{i}") for i in range(3)]
        finally:
            receiver.slow_down("/durable", 0.0)
            job = Job(
                MESSAGING.name,
                module_command(MESSAGING.module, "serve"),
                service_env(stack.config, MESSAGING),
            )
            restarted = spawn(job, stack.log_dir / "messaging-restarted.log")
            stack.supervisor.children[index] = restarted
            wait_ready(restarted, grpc_health_check(stack.config.address(MESSAGING)), timeout=60)

        expected = {str(c["id"]) for c in [*before, *during]}
        await receiver.wait_for(
            lambda: (
                {
                    e["data"]["contact"]["id"]
                    for e in unique_events(receiver.at("/durable")).values()
                }
                >= expected
            ),
            within=60,
        )
        delivered = unique_events(receiver.at("/durable"))
        assert len(delivered) == len(expected)  # one event id per contact: dedup works


class TestFairness:
    async def test_a_slow_endpoint_does_not_delay_another_tenant(
        self,
        api: httpx.AsyncClient,
        tenant_a: Account,
        tenant_b: Account,
        receiver: WebhookReceiver,
    ) -> None:
        slow = await subscribe(api, tenant_a, receiver, "/slow")
        await subscribe(api, tenant_b, receiver, "/fast")
        receiver.slow_down("/slow", 5.0)  # beyond messaging's 2 s attempt timeout
        for i in range(4):
            await create_contact(api, tenant_a, first_name=f"S{i}")
        await create_contact(api, tenant_b, first_name="Fast")

        await receiver.wait_for(lambda: len(receiver.at("/fast")) == 1, within=15)

        # The other tenant's delivery arrived before the slow endpoint's lane had even
        # finished its first timed-out attempt.
        slow_log = (
            await api.get(
                f"/v1/webhooks/endpoints/{slow['id']}/deliveries", headers=tenant_a.headers
            )
        ).json()
        assert sum(d["attempt_count"] for d in slow_log["data"]) == 0
        await api.patch(
            f"/v1/webhooks/endpoints/{slow['id']}",
            json={"enabled": False},
            headers=tenant_a.headers,
        )


async def _eventually_json(
    api: httpx.AsyncClient,
    path: str,
    account: Account,
    condition: Any,
    within: float = 20.0,
) -> dict[str, Any]:
    """GET path until its JSON satisfies condition (or `within` seconds pass)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        response = await api.get(path, headers=account.headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if condition(body) or loop.time() > deadline:
            return body
        await asyncio.sleep(0.1)
