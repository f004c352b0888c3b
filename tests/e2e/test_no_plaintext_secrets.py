"""After a full account scenario, no secret appears in any database or log line.

Secrets: passwords, refresh tokens, password-reset tokens, API keys, invitation
tokens, webhook signing secrets (kept encrypted). (TOTP secrets are stored as the
authenticator's shared secret: see the identity README.) The databases are dumped
with pg_dump (every table, as the owner) and the log files of every process are read
whole. The outbox deletes published events, so
the reset and invitation links that must travel to messaging do not linger.
"""

from __future__ import annotations

import asyncio
import subprocess
from dataclasses import replace
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from crm_devstack.stack import SERVICES, Stack

from .conftest import PASSWORD, Account, log_in
from .test_account_flows import NEW_PASSWORD, _reset_link
from .test_users import _invite

pytestmark = pytest.mark.e2e


def _dump(stack: Stack) -> str:
    config = stack.config
    dumps = []
    for service in SERVICES:
        url = config.database_url(
            config.database(service), user=config.postgres_user, password=config.postgres_password
        ).replace("postgresql+asyncpg", "postgresql")
        dumps.append(
            subprocess.run(
                ["pg_dump", "--data-only", "--inserts", url],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        )
    return "\n".join(dumps)


def _logs(stack: Stack) -> str:
    return "\n".join(p.read_text(errors="replace") for p in Path(stack.log_dir).glob("*.log"))


async def _outbox_drained(stack: Stack) -> None:
    """Wait until the relays have published (and so deleted) every pending event."""
    for _ in range(50):
        if "INSERT INTO public.outbox" not in _dump(stack):
            return
        await asyncio.sleep(0.2)


class TestSecretsAtRest:
    async def test_no_secret_in_any_table_or_log_line(
        self, api: httpx.AsyncClient, stack: Stack, tenant_a: Account
    ) -> None:
        secrets: dict[str, str] = {"signup password": PASSWORD}
        login = (
            await api.post("/v1/auth/login", json={"email": tenant_a.email, "password": PASSWORD})
        ).json()
        secrets["refresh token"] = login["refresh_token"]
        secrets["rotated refresh token"] = (
            await api.post("/v1/auth/refresh", json={"refresh_token": login["refresh_token"]})
        ).json()["refresh_token"]
        secrets["signup refresh token"] = tenant_a.refresh_token

        await api.post("/v1/auth/password-reset", json={"email": tenant_a.email})
        reset_token = parse_qs(urlsplit(await _reset_link(tenant_a.user_id)).query)["token"][0]
        secrets["reset token"] = reset_token
        confirmed = await api.post(
            "/v1/auth/password-reset/confirm",
            json={"token": reset_token, "new_password": NEW_PASSWORD},
        )
        assert confirmed.status_code == 204
        secrets["new password"] = NEW_PASSWORD
        # The reset ended every session: act as the owner through a fresh login.
        fresh = (await log_in(api, tenant_a.email, NEW_PASSWORD)).json()
        owner = replace(tenant_a, access_token=fresh["access_token"])
        _, _, secrets["invitation token"] = await _invite(api, owner)
        key = await api.post(
            "/v1/api-keys",
            json={"name": "scan", "scopes": ["contacts:read"]},
            headers=owner.headers,
        )
        assert key.status_code == 201, key.text
        secrets["API key"] = key.json()["key"]
        as_key = {"Authorization": f"Bearer {secrets['API key']}"}
        assert (await api.get("/v1/contacts", headers=as_key)).status_code == 200
        endpoint = await api.post(
            "/v1/webhooks/endpoints",
            json={"url": "https://127.0.0.1:9/scan", "event_types": ["*"]},
            headers=owner.headers,
        )
        assert endpoint.status_code == 201, endpoint.text
        secrets["webhook secret"] = endpoint.json()["secret"]
        rotated = await api.post(
            f"/v1/webhooks/endpoints/{endpoint.json()['id']}/rotate-secret",
            headers=owner.headers,
        )
        secrets["rotated webhook secret"] = rotated.json()["secret"]
        wrong = "a wrong password typed by someone"
        await api.post("/v1/auth/login", json={"email": tenant_a.email, "password": wrong})
        secrets["wrong password"] = wrong

        await _outbox_drained(stack)
        dump, logs = _dump(stack), _logs(stack)
        assert tenant_a.email.lower() in dump, "the dump is not of the e2e databases"
        for name, secret in secrets.items():
            assert secret not in dump, f"{name} found in a database"
            assert secret not in logs, f"{name} found in a log"
