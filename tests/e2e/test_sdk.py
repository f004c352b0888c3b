"""An SDK generated from the live /openapi.json by openapi-python-client works without
edits: it signs up, logs in and round-trips a contact through the gateway."""

from __future__ import annotations

import importlib
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from crm_devstack.stack import Stack

from .conftest import PASSWORD

pytestmark = pytest.mark.e2e

PACKAGE = "crm_platform_sdk"
GENERATOR = Path(sys.executable).with_name("openapi-python-client")


class Sdk:
    """The generated package's modules a client needs, imported by name."""

    def __init__(self) -> None:
        self.client = importlib.import_module(f"{PACKAGE}.client")
        self.models = importlib.import_module(f"{PACKAGE}.models")
        self.signup = self._operation("auth", "signup_v1_auth_signup_post")
        self.login = self._operation("auth", "login_v1_auth_login_post")
        self.create_contact = self._operation("contacts", "create_contact_v1_contacts_post")
        self.get_contact = self._operation("contacts", "get_contact_v1_contacts_contact_id_get")
        self.list_contacts = self._operation("contacts", "list_contacts_v1_contacts_get")

    @staticmethod
    def _operation(tag: str, name: str) -> ModuleType:
        return importlib.import_module(f"{PACKAGE}.api.{tag}.{name}")


@pytest.fixture(scope="module")
def sdk(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sdk]:
    root = tmp_path_factory.mktemp("sdk")
    document = root / "openapi.json"
    document.write_bytes(httpx.get(f"{stack.gateway_url}/openapi.json").content)
    subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(document),
            "--output-path",
            str(root / PACKAGE),
            "--meta",
            "none",
            "--fail-on-warning",
        ],
        check=True,
        capture_output=True,
        cwd=root,
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(root))
        yield Sdk()
    for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
        del sys.modules[name]


class TestGeneratedSdk:
    def test_signs_up_logs_in_and_round_trips_a_contact(self, sdk: Sdk, stack: Stack) -> None:
        models = sdk.models
        email = f"sdk-{uuid.uuid4().hex[:10]}@example.com"
        with sdk.client.Client(base_url=stack.gateway_url) as anonymous:
            signed_up = sdk.signup.sync(
                client=anonymous,
                body=models.SignupRequest(
                    organization_name="SDK Org",
                    owner_name="Ada Lovelace",
                    email=email,
                    password=PASSWORD,
                    age_attested=True,
                ),
            )
            assert isinstance(signed_up, models.TokenResponse)
            tokens = sdk.login.sync(
                client=anonymous, body=models.LoginRequest(email=email, password=PASSWORD)
            )
        assert isinstance(tokens, models.TokenResponse)
        assert tokens.tenant_id == signed_up.tenant_id
        assert tokens.user_id == signed_up.user_id

        with sdk.client.AuthenticatedClient(
            base_url=stack.gateway_url, token=tokens.access_token
        ) as client:
            created = sdk.create_contact.sync(
                client=client,
                body=models.ContactCreate(
                    first_name="Grace",
                    last_name="Hopper",
                    email="grace@navy.example",
                    phone="+1 555 0100",
                ),
                idempotency_key=uuid.uuid4().hex,
            )
            assert isinstance(created, models.Contact)
            fetched = sdk.get_contact.sync(created.id, client=client)
            listed = sdk.list_contacts.sync(client=client, limit=10)

        assert isinstance(fetched, models.Contact)
        assert (fetched.first_name, fetched.last_name) == ("Grace", "Hopper")
        assert (fetched.email, fetched.phone) == ("grace@navy.example", "+1 555 0100")
        assert fetched.owner_id == tokens.user_id
        assert fetched.version == created.version
        assert fetched.created_at == created.created_at
        assert isinstance(listed, models.ContactList)
        assert [contact.id for contact in listed.data] == [created.id]
        assert listed.next_cursor is None
