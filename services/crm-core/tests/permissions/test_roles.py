"""The role matrix at crm-core's edge: every servicer checks the caller's role."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.crm_core.v1 import (
    contacts_pb2,
    custom_fields_pb2,
    pipelines_pb2,
    visibility_pb2,
)
from crm_core.entrypoints.grpc_server import ContactServicer
from crm_core.entrypoints.pipelines_grpc import PipelineServicer
from crm_core.entrypoints.records_grpc import CustomFieldServicer
from crm_core.entrypoints.visibility_grpc import VisibilityServicer

from ..contacts.factories import create_contact
from .factories import calling_as, denied_code

pytestmark = pytest.mark.integration

CTX: Any = None  # the servicers never read the gRPC context


def _new_contact(email: str) -> contacts_pb2.CreateContactRequest:
    return contacts_pb2.CreateContactRequest(first_name="Ada", email=email)


class TestViewer:
    async def test_reads_but_cannot_write(
        self, factory: async_sessionmaker[AsyncSession], tenant: uuid.UUID
    ) -> None:
        contact = await create_contact(factory, tenant=tenant)
        servicer = ContactServicer(factory)
        with calling_as(tenant, uuid.uuid4(), "viewer"):
            found = await servicer.GetContact(
                contacts_pb2.GetContactRequest(id=str(contact.id)), CTX
            )
            create = servicer.CreateContact(_new_contact("v@example.com"), CTX)
            assert await denied_code(create) == "role_not_allowed"
            update = servicer.UpdateContact(
                contacts_pb2.UpdateContactRequest(id=str(contact.id), last_name="X"), CTX
            )
            assert await denied_code(update) == "role_not_allowed"
        assert found.id == str(contact.id)


class TestMember:
    async def test_creates_and_updates_but_cannot_delete(
        self, factory: async_sessionmaker[AsyncSession], tenant: uuid.UUID
    ) -> None:
        servicer = ContactServicer(factory)
        with calling_as(tenant, uuid.uuid4(), "member"):
            created = await servicer.CreateContact(_new_contact("m@example.com"), CTX)
            updated = await servicer.UpdateContact(
                contacts_pb2.UpdateContactRequest(id=created.id, last_name="Lovelace"), CTX
            )
            delete = servicer.DeleteContact(contacts_pb2.DeleteContactRequest(id=created.id), CTX)
            assert await denied_code(delete) == "role_not_allowed"
        assert updated.last_name == "Lovelace"

    async def test_cannot_configure_fields_pipelines_or_visibility(
        self, factory: async_sessionmaker[AsyncSession], tenant: uuid.UUID
    ) -> None:
        with calling_as(tenant, uuid.uuid4(), "member"):
            field = CustomFieldServicer(factory).CreateCustomField(
                custom_fields_pb2.CreateCustomFieldRequest(
                    object_type="contacts", key="score", label="Score", field_type="number"
                ),
                CTX,
            )
            pipeline = PipelineServicer(factory).CreatePipeline(
                pipelines_pb2.CreatePipelineRequest(name="P"), CTX
            )
            rules = VisibilityServicer(factory).GetVisibility(
                visibility_pb2.GetVisibilityRequest(), CTX
            )
            codes = [await denied_code(call) for call in (field, pipeline, rules)]
        assert codes == ["role_not_allowed"] * 3


class TestAdmin:
    async def test_deletes_and_sets_visibility(
        self, factory: async_sessionmaker[AsyncSession], tenant: uuid.UUID
    ) -> None:
        contact = await create_contact(factory, tenant=tenant)
        with calling_as(tenant, uuid.uuid4(), "admin"):
            await ContactServicer(factory).DeleteContact(
                contacts_pb2.DeleteContactRequest(id=str(contact.id)), CTX
            )
            settings = await VisibilityServicer(factory).PutVisibility(
                visibility_pb2.PutVisibilityRequest(
                    rules=[
                        visibility_pb2.VisibilityRule(
                            role="member", object_type="deals", visibility="own"
                        )
                    ]
                ),
                CTX,
            )
        stored = {(r.role, r.object_type): r.visibility for r in settings.rules}
        assert stored[("member", "deals")] == "own"
        assert stored[("member", "contacts")] == "all"
        assert len(stored) == 10  # (member, viewer) x (4 record types and tasks)


class TestOthers:
    async def test_a_user_without_a_known_role_cannot_even_read(
        self, factory: async_sessionmaker[AsyncSession], tenant: uuid.UUID
    ) -> None:
        with calling_as(tenant, uuid.uuid4()):
            listing = ContactServicer(factory).ListContacts(contacts_pb2.ListContactsRequest(), CTX)
            assert await denied_code(listing) == "role_not_allowed"

    async def test_an_api_key_acts_as_admin_within_its_scopes(
        self, factory: async_sessionmaker[AsyncSession], tenant: uuid.UUID
    ) -> None:
        contact = await create_contact(factory, tenant=tenant)
        servicer = ContactServicer(factory)
        with calling_as(tenant, uuid.uuid4(), kind="api_key", scopes=("contacts:read",)):
            create = servicer.CreateContact(_new_contact("k@example.com"), CTX)
            assert await denied_code(create) == "insufficient_scope"
        with calling_as(tenant, uuid.uuid4(), kind="api_key", scopes=("contacts:write",)):
            await servicer.DeleteContact(contacts_pb2.DeleteContactRequest(id=str(contact.id)), CTX)
            rules = VisibilityServicer(factory).GetVisibility(
                visibility_pb2.GetVisibilityRequest(), CTX
            )
            assert await denied_code(rules) == "role_not_allowed"
            missing = servicer.GetContact(contacts_pb2.GetContactRequest(id=str(contact.id)), CTX)
            with pytest.raises(Exception, match="not found"):
                await missing
