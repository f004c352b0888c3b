"""CaptureFormService servicer: decode, call the service, encode.

Admins and owners manage forms (CONFIGURE); members and viewers read them and their
counts. GetPublicForm and SubmitForm are public: the key names the form.
"""

from __future__ import annotations

from dataclasses import dataclass

from grpc.aio import ServicerContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.crm_core.v1 import capture_pb2, engagements_pb2
from crm.crm_core.v1 import capture_pb2_grpc as pb_grpc
from crm_core.capture import forms, mappers, stats, submissions
from crm_core.permissions.roles import Action, authorize
from crm_core.permissions.visibility import caller_session

CAPTURE_FORM_SERVICE = capture_pb2.DESCRIPTOR.services_by_name["CaptureFormService"].full_name
PUBLIC_METHODS = frozenset(
    f"/{CAPTURE_FORM_SERVICE}/{method}" for method in ("GetPublicForm", "SubmitForm")
)
AREA = "capture_forms"


@dataclass
class CaptureFormServicer(pb_grpc.CaptureFormServiceServicer):
    factory: async_sessionmaker[AsyncSession]

    async def CreateForm(  # noqa: N802 - gRPC method name
        self, request: capture_pb2.CreateCaptureFormRequest, context: ServicerContext
    ) -> capture_pb2.CaptureForm:
        authorize(Action.CONFIGURE, AREA)
        async with caller_session(self.factory) as session:
            form = await forms.create(
                session, settings=mappers.settings_from_proto(request.settings)
            )
        return mappers.to_proto(form)

    async def GetForm(  # noqa: N802
        self, request: capture_pb2.CaptureFormId, context: ServicerContext
    ) -> capture_pb2.CaptureForm:
        authorize(Action.READ, AREA)
        async with caller_session(self.factory) as session:
            form = await forms.get(session, form_id=mappers.parse_id(request.id))
        return mappers.to_proto(form)

    async def ListForms(  # noqa: N802
        self, request: capture_pb2.ListCaptureFormsRequest, context: ServicerContext
    ) -> capture_pb2.ListCaptureFormsResponse:
        authorize(Action.READ, AREA)
        async with caller_session(self.factory) as session:
            found = await forms.list_all(session)
        return capture_pb2.ListCaptureFormsResponse(forms=[mappers.to_proto(f) for f in found])

    async def UpdateForm(  # noqa: N802
        self, request: capture_pb2.UpdateCaptureFormRequest, context: ServicerContext
    ) -> capture_pb2.CaptureForm:
        authorize(Action.CONFIGURE, AREA)
        async with caller_session(self.factory) as session:
            form = await forms.update(
                session,
                form_id=mappers.parse_id(request.id),
                settings=mappers.settings_from_proto(request.settings),
            )
        return mappers.to_proto(form)

    async def DeleteForm(  # noqa: N802
        self, request: capture_pb2.CaptureFormId, context: ServicerContext
    ) -> engagements_pb2.Empty:
        authorize(Action.CONFIGURE, AREA)
        async with caller_session(self.factory) as session:
            await forms.delete(session, form_id=mappers.parse_id(request.id))
        return engagements_pb2.Empty()

    async def GetFormStats(  # noqa: N802
        self, request: capture_pb2.CaptureFormId, context: ServicerContext
    ) -> capture_pb2.CaptureFormStats:
        authorize(Action.READ, AREA)
        async with caller_session(self.factory) as session:
            counts = await stats.for_form(session, form_id=mappers.parse_id(request.id))
        return mappers.form_stats_to_proto(counts)

    async def GetCampaignStats(  # noqa: N802
        self, request: capture_pb2.CampaignStatsRequest, context: ServicerContext
    ) -> capture_pb2.CampaignStatsResponse:
        authorize(Action.READ, AREA)
        form_id = mappers.parse_id(request.form_id) if request.form_id else None
        async with caller_session(self.factory) as session:
            rows = await stats.by_campaign(session, form_id=form_id)
        return mappers.campaigns_to_proto(rows)

    async def GetPublicForm(  # noqa: N802
        self, request: capture_pb2.PublicFormKey, context: ServicerContext
    ) -> capture_pb2.PublicForm:
        form = await submissions.public_form(self.factory, request.public_key)
        return mappers.to_public_proto(form)

    async def SubmitForm(  # noqa: N802
        self, request: capture_pb2.SubmitFormRequest, context: ServicerContext
    ) -> capture_pb2.SubmitFormResponse:
        outcome = await submissions.submit(
            self.factory, submission=mappers.submission_from_proto(request)
        )
        return mappers.outcome_to_proto(outcome)
