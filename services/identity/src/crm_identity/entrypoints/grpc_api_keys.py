"""ApiKeyService servicer: decode, call one use case, encode."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC

from grpc.aio import ServicerContext

from crm.identity.v1 import api_keys_pb2, api_keys_pb2_grpc
from crm_identity.api_keys import mappers, resolution
from crm_identity.api_keys import service as api_keys
from crm_identity.api_keys.schemas import ApiKeyCreate
from crm_identity.dependencies import IdentityDependencies
from crm_kit.db.session import caller_unit_of_work
from crm_kit.validation import resource_id

SERVICE_NAME = api_keys_pb2.DESCRIPTOR.services_by_name["ApiKeyService"].full_name


@dataclass
class ApiKeyServiceServicer(api_keys_pb2_grpc.ApiKeyServiceServicer):
    deps: IdentityDependencies

    async def CreateApiKey(  # noqa: N802 - gRPC method name
        self, request: api_keys_pb2.CreateApiKeyRequest, context: ServicerContext
    ) -> api_keys_pb2.CreatedApiKey:
        data = ApiKeyCreate(
            name=request.name,
            scopes=tuple(request.scopes),
            expires_at=(
                request.expires_at.ToDatetime(tzinfo=UTC)
                if request.HasField("expires_at")
                else None
            ),
        )
        async with caller_unit_of_work(self.deps.factory) as session:
            created = await api_keys.create(session, data=data)
        return api_keys_pb2.CreatedApiKey(
            api_key=mappers.to_api_key(created.api_key), key=created.key
        )

    async def ListApiKeys(  # noqa: N802
        self, request: api_keys_pb2.ListApiKeysRequest, context: ServicerContext
    ) -> api_keys_pb2.ListApiKeysResponse:
        async with caller_unit_of_work(self.deps.factory) as session:
            found = await api_keys.list_keys(session)
        return api_keys_pb2.ListApiKeysResponse(api_keys=[mappers.to_api_key(k) for k in found])

    async def RevokeApiKey(  # noqa: N802
        self, request: api_keys_pb2.RevokeApiKeyRequest, context: ServicerContext
    ) -> api_keys_pb2.ApiKey:
        api_key_id = resource_id(request.id, resource="api_key")
        async with caller_unit_of_work(self.deps.factory) as session:
            revoked = await api_keys.revoke(session, api_key_id=api_key_id)
        return mappers.to_api_key(revoked)

    async def ResolveApiKey(  # noqa: N802
        self, request: api_keys_pb2.ResolveApiKeyRequest, context: ServicerContext
    ) -> api_keys_pb2.ResolvedApiKey:
        resolved = await resolution.resolve(
            self.deps.factory,
            key=request.key,
            keys=self.deps.policies.keys,
            policy=self.deps.policies.tokens,
            ttl_seconds=self.deps.settings.api_key_token_ttl_seconds,
        )
        return mappers.to_resolved(resolved)


# Methods callable without an access token (their request carries its own credential).
PUBLIC_METHODS: frozenset[str] = frozenset({f"/{SERVICE_NAME}/ResolveApiKey"})
