"""API keys: owners and admins create, list and revoke the organization's keys."""

from __future__ import annotations

from datetime import UTC

from fastapi import Depends, Request

from crm.identity.v1 import api_keys_pb2
from crm_gateway.routes.responses import no_store, problems
from crm_gateway.routes.router import PrefixedRouter
from crm_gateway.schemas.api_keys import ApiKey, ApiKeyCreate, ApiKeyList, CreatedApiKey
from crm_gateway.security import Caller
from crm_kit.timestamps import optional_datetime

router = PrefixedRouter(prefix="/v1/api-keys", tags=["api-keys"])


def to_api_key(message: api_keys_pb2.ApiKey) -> ApiKey:
    return ApiKey(
        id=message.id,
        name=message.name,
        display_prefix=message.display_prefix,
        scopes=list(message.scopes),
        expires_at=optional_datetime(message, "expires_at"),
        last_used_at=optional_datetime(message, "last_used_at"),
        created_by=message.created_by or None,
        created_at=message.created_at.ToDatetime(tzinfo=UTC),
        revoked_at=optional_datetime(message, "revoked_at"),
    )


@router.post(
    "",
    dependencies=[Depends(no_store)],
    status_code=201,
    summary="Create an API key (owners and admins); the key is shown once",
    response_model=CreatedApiKey,
    responses=problems(401, 403, 422),
)
async def create_api_key(body: ApiKeyCreate, request: Request, caller: Caller) -> CreatedApiKey:
    create = api_keys_pb2.CreateApiKeyRequest(name=body.name, scopes=body.scopes)
    if body.expires_at is not None:
        create.expires_at.FromDatetime(body.expires_at)
    created = await request.app.state.upstreams.api_keys.CreateApiKey(create)
    return CreatedApiKey(**to_api_key(created.api_key).model_dump(), key=created.key)


@router.get(
    "",
    summary="List the organization's API keys, newest first, revoked ones included",
    response_model=ApiKeyList,
    responses=problems(401, 403),
)
async def list_api_keys(request: Request, caller: Caller) -> ApiKeyList:
    found = await request.app.state.upstreams.api_keys.ListApiKeys(
        api_keys_pb2.ListApiKeysRequest()
    )
    return ApiKeyList(data=[to_api_key(k) for k in found.api_keys])


@router.delete(
    "/{api_key_id}",
    summary="Revoke an API key; it stops working within seconds",
    response_model=ApiKey,
    responses=problems(401, 403, 404, 422),
)
async def revoke_api_key(api_key_id: str, request: Request, caller: Caller) -> ApiKey:
    revoked = await request.app.state.upstreams.api_keys.RevokeApiKey(
        api_keys_pb2.RevokeApiKeyRequest(id=api_key_id)
    )
    return to_api_key(revoked)
