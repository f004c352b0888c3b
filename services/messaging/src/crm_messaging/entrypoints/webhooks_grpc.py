"""WebhookService servicer: check the role, decode, call the webhooks package, encode.

Every method is for owners and admins only (the secrets and the delivery log are
theirs); another tenant's endpoint or delivery answers NOT_FOUND.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from grpc.aio import ServicerContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.messaging.v1 import webhooks_pb2 as pb
from crm.messaging.v1 import webhooks_pb2_grpc as pb_grpc
from crm_kit.context import current_context
from crm_kit.db.session import caller_unit_of_work
from crm_kit.validation import resource_id
from crm_messaging.permissions import require_admin
from crm_messaging.webhooks import deliveries, endpoints, mappers
from crm_messaging.webhooks.catalog import CATALOG
from crm_messaging.webhooks.endpoints import EndpointRules

WEBHOOK_SERVICE = pb.DESCRIPTOR.services_by_name["WebhookService"].full_name
AREA = "webhooks"


@dataclass
class WebhookServicer(pb_grpc.WebhookServiceServicer):
    factory: async_sessionmaker[AsyncSession]
    rules: EndpointRules

    async def CreateEndpoint(  # noqa: N802 - gRPC method name
        self, request: pb.CreateEndpointRequest, context: ServicerContext
    ) -> pb.CreatedEndpoint:
        require_admin(AREA)
        async with caller_unit_of_work(self.factory) as session:
            endpoint, secret = await endpoints.create(
                session,
                rules=self.rules,
                url=request.url,
                description=request.description,
                event_types=list(request.event_types),
                created_by=current_context().user_id,
            )
        return pb.CreatedEndpoint(endpoint=mappers.endpoint_to_proto(endpoint), secret=secret)

    async def ListEndpoints(  # noqa: N802 - gRPC method name
        self, request: pb.ListEndpointsRequest, context: ServicerContext
    ) -> pb.ListEndpointsResponse:
        require_admin(AREA)
        async with caller_unit_of_work(self.factory) as session:
            found = await endpoints.list_all(session)
        return pb.ListEndpointsResponse(endpoints=[mappers.endpoint_to_proto(e) for e in found])

    async def GetEndpoint(  # noqa: N802 - gRPC method name
        self, request: pb.EndpointId, context: ServicerContext
    ) -> pb.Endpoint:
        require_admin(AREA)
        async with caller_unit_of_work(self.factory) as session:
            found = await endpoints.get(
                session, endpoint_id=resource_id(request.id, resource="webhook_endpoint")
            )
        return mappers.endpoint_to_proto(found)

    async def UpdateEndpoint(  # noqa: N802 - gRPC method name
        self, request: pb.UpdateEndpointRequest, context: ServicerContext
    ) -> pb.Endpoint:
        require_admin(AREA)
        async with caller_unit_of_work(self.factory) as session:
            changed = await endpoints.change(
                session,
                rules=self.rules,
                endpoint_id=resource_id(request.id, resource="webhook_endpoint"),
                url=request.url if request.HasField("url") else None,
                description=request.description if request.HasField("description") else None,
                event_types=list(request.event_types) if request.set_event_types else None,
                enabled=request.enabled if request.HasField("enabled") else None,
            )
        return mappers.endpoint_to_proto(changed)

    async def DeleteEndpoint(  # noqa: N802 - gRPC method name
        self, request: pb.EndpointId, context: ServicerContext
    ) -> pb.DeleteEndpointResponse:
        require_admin(AREA)
        async with caller_unit_of_work(self.factory) as session:
            await endpoints.remove(
                session, endpoint_id=resource_id(request.id, resource="webhook_endpoint")
            )
        return pb.DeleteEndpointResponse()

    async def RotateSecret(  # noqa: N802 - gRPC method name
        self, request: pb.RotateSecretRequest, context: ServicerContext
    ) -> pb.CreatedEndpoint:
        require_admin(AREA)
        overlap = (
            timedelta(seconds=request.overlap_seconds)
            if request.HasField("overlap_seconds")
            else None
        )
        async with caller_unit_of_work(self.factory) as session:
            endpoint, secret = await endpoints.rotate_secret(
                session,
                rules=self.rules,
                endpoint_id=resource_id(request.id, resource="webhook_endpoint"),
                overlap=overlap,
            )
        return pb.CreatedEndpoint(endpoint=mappers.endpoint_to_proto(endpoint), secret=secret)

    async def ListDeliveries(  # noqa: N802 - gRPC method name
        self, request: pb.ListDeliveriesRequest, context: ServicerContext
    ) -> pb.ListDeliveriesResponse:
        require_admin(AREA)
        async with caller_unit_of_work(self.factory) as session:
            page = await deliveries.list_for_endpoint(
                session,
                endpoint_id=resource_id(request.endpoint_id, resource="webhook_endpoint"),
                status=request.status,
                limit=request.limit,
                cursor=request.cursor,
            )
        return pb.ListDeliveriesResponse(
            deliveries=[mappers.delivery_to_proto(d) for d in page.deliveries],
            next_cursor=page.next_cursor,
        )

    async def GetDelivery(  # noqa: N802 - gRPC method name
        self, request: pb.DeliveryId, context: ServicerContext
    ) -> pb.Delivery:
        require_admin(AREA)
        delivery_id = resource_id(request.id, resource="webhook_delivery")
        async with caller_unit_of_work(self.factory) as session:
            delivery = await deliveries.get(session, delivery_id=delivery_id)
            attempts = await deliveries.attempts_of(session, delivery_id=delivery_id)
        return mappers.delivery_to_proto(delivery, attempts)

    async def ReplayDelivery(  # noqa: N802 - gRPC method name
        self, request: pb.DeliveryId, context: ServicerContext
    ) -> pb.Delivery:
        require_admin(AREA)
        delivery_id = resource_id(request.id, resource="webhook_delivery")
        async with caller_unit_of_work(self.factory) as session:
            delivery = await deliveries.replay(session, delivery_id=delivery_id)
            attempts = await deliveries.attempts_of(session, delivery_id=delivery_id)
        return mappers.delivery_to_proto(delivery, attempts)

    async def ListEventTypes(  # noqa: N802 - gRPC method name
        self, request: pb.ListEventTypesRequest, context: ServicerContext
    ) -> pb.ListEventTypesResponse:
        require_admin(AREA)
        return pb.ListEventTypesResponse(
            event_types=[mappers.event_type_to_proto(t) for t in CATALOG]
        )
