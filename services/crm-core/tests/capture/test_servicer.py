"""CaptureFormService at crm-core's edge: roles and scopes, and the public methods."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.crm_core.v1 import capture_pb2
from crm_core.entrypoints.capture_grpc import PUBLIC_METHODS, CaptureFormServicer

from ..permissions.factories import calling_as, denied_code
from .factories import SITE

pytestmark = pytest.mark.integration

Factory = async_sessionmaker[AsyncSession]
CTX: Any = None  # the servicer never reads the gRPC context


def _settings(**overrides: Any) -> capture_pb2.CaptureFormSettings:
    values: dict[str, Any] = {
        "name": "Spring offer",
        "fields": [
            capture_pb2.CaptureFormField(
                name="email", label="Email", input_type="email", required=True, maps_to="email"
            )
        ],
        "allowed_origins": [SITE],
        "enabled": True,
    }
    values.update(overrides)
    return capture_pb2.CaptureFormSettings(**values)


class TestRoles:
    async def test_admins_manage_members_read_and_keys_need_the_write_scope(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        servicer = CaptureFormServicer(factory)
        with calling_as(tenant, uuid.uuid4(), "admin"):
            form = await servicer.CreateForm(
                capture_pb2.CreateCaptureFormRequest(settings=_settings()), CTX
            )
        form_id = capture_pb2.CaptureFormId(id=form.id)
        with calling_as(tenant, uuid.uuid4(), "member"):
            listed = await servicer.ListForms(capture_pb2.ListCaptureFormsRequest(), CTX)
            counts = await servicer.GetFormStats(form_id, CTX)
            create = servicer.CreateForm(
                capture_pb2.CreateCaptureFormRequest(settings=_settings()), CTX
            )
            assert await denied_code(create) == "role_not_allowed"
            update = servicer.UpdateForm(
                capture_pb2.UpdateCaptureFormRequest(id=form.id, settings=_settings()), CTX
            )
            assert await denied_code(update) == "role_not_allowed"
            assert await denied_code(servicer.DeleteForm(form_id, CTX)) == "role_not_allowed"
        assert [f.public_key for f in listed.forms] == [form.public_key]
        assert counts.submissions == 0
        with calling_as(tenant, uuid.uuid4(), kind="api_key", scopes=("capture_forms:read",)):
            assert (await servicer.GetForm(form_id, CTX)).settings.name == "Spring offer"
            delete = servicer.DeleteForm(form_id, CTX)
            assert await denied_code(delete) == "insufficient_scope"


class TestPublicMethods:
    async def test_need_no_caller_and_show_no_mapping(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        servicer = CaptureFormServicer(factory)
        with calling_as(tenant, uuid.uuid4(), "owner"):
            form = await servicer.CreateForm(
                capture_pb2.CreateCaptureFormRequest(settings=_settings()), CTX
            )
        assert {
            "/crm.crm_core.v1.CaptureFormService/GetPublicForm",
            "/crm.crm_core.v1.CaptureFormService/SubmitForm",
        } == PUBLIC_METHODS
        public = await servicer.GetPublicForm(
            capture_pb2.PublicFormKey(public_key=form.public_key), CTX
        )
        assert [(f.name, f.maps_to) for f in public.fields] == [("email", "")]
        answer = await servicer.SubmitForm(
            capture_pb2.SubmitFormRequest(
                public_key=form.public_key,
                values={"email": "lin@x.example"},
                attribution=capture_pb2.Attribution(utm_campaign="spring"),
                origin=SITE,
            ),
            CTX,
        )
        assert answer.thank_you_message == form.settings.thank_you_message
        with calling_as(tenant, uuid.uuid4(), "viewer"):
            counts = await servicer.GetFormStats(capture_pb2.CaptureFormId(id=form.id), CTX)
            campaigns = await servicer.GetCampaignStats(capture_pb2.CampaignStatsRequest(), CTX)
        assert (counts.submissions, counts.leads_created) == (1, 1)
        assert [(c.utm_campaign, c.submissions) for c in campaigns.campaigns] == [("spring", 1)]
