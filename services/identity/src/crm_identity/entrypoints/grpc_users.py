"""UserService servicer: decode, call one use case, encode."""

from __future__ import annotations

from dataclasses import dataclass

from crm.identity.v1 import users_pb2, users_pb2_grpc
from crm_identity.dependencies import IdentityDependencies

SERVICE_NAME = users_pb2.DESCRIPTOR.services_by_name["UserService"].full_name


@dataclass
class UserServiceServicer(users_pb2_grpc.UserServiceServicer):
    deps: IdentityDependencies


# Methods callable without an access token (their request carries its own credential).
PUBLIC_METHODS: frozenset[str] = frozenset()
