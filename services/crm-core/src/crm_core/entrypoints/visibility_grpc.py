"""VisibilityService servicer: the per-role visibility rules (admins and owners only)."""

from __future__ import annotations

from dataclasses import dataclass

from grpc.aio import ServicerContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.crm_core.v1 import visibility_pb2, visibility_pb2_grpc
from crm_core.permissions import rules
from crm_core.permissions.roles import authorize_settings
from crm_core.permissions.visibility import caller_session

VISIBILITY_SERVICE = visibility_pb2.DESCRIPTOR.services_by_name["VisibilityService"].full_name


def _encoded(found: list[rules.VisibilityRule]) -> visibility_pb2.VisibilitySettings:
    return visibility_pb2.VisibilitySettings(
        rules=[
            visibility_pb2.VisibilityRule(
                role=r.role, object_type=r.object_type, visibility=r.visibility
            )
            for r in found
        ]
    )


@dataclass
class VisibilityServicer(visibility_pb2_grpc.VisibilityServiceServicer):
    factory: async_sessionmaker[AsyncSession]

    async def GetVisibility(  # noqa: N802 - gRPC method name
        self, request: visibility_pb2.GetVisibilityRequest, context: ServicerContext
    ) -> visibility_pb2.VisibilitySettings:
        authorize_settings()
        async with caller_session(self.factory) as session:
            found = await rules.list_rules(session)
        return _encoded(found)

    async def PutVisibility(  # noqa: N802
        self, request: visibility_pb2.PutVisibilityRequest, context: ServicerContext
    ) -> visibility_pb2.VisibilitySettings:
        authorize_settings()
        wanted = [rules.VisibilityRule(r.role, r.object_type, r.visibility) for r in request.rules]
        async with caller_session(self.factory) as session:
            found = await rules.put_rules(session, rules=wanted)
        return _encoded(found)
