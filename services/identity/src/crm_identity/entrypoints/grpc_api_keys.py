"""ApiKeyService servicer: decode, call one use case, encode."""

from __future__ import annotations

from dataclasses import dataclass

from crm.identity.v1 import api_keys_pb2, api_keys_pb2_grpc
from crm_identity.dependencies import IdentityDependencies

SERVICE_NAME = api_keys_pb2.DESCRIPTOR.services_by_name["ApiKeyService"].full_name


@dataclass
class ApiKeyServiceServicer(api_keys_pb2_grpc.ApiKeyServiceServicer):
    deps: IdentityDependencies


# Methods callable without an access token (their request carries its own credential).
PUBLIC_METHODS: frozenset[str] = frozenset()
