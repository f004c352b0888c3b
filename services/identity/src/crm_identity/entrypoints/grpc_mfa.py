"""MfaService servicer: decode, call one use case, encode."""

from __future__ import annotations

from dataclasses import dataclass

from crm.identity.v1 import mfa_pb2, mfa_pb2_grpc
from crm_identity.dependencies import IdentityDependencies

SERVICE_NAME = mfa_pb2.DESCRIPTOR.services_by_name["MfaService"].full_name


@dataclass
class MfaServiceServicer(mfa_pb2_grpc.MfaServiceServicer):
    deps: IdentityDependencies


# Methods callable without an access token (their request carries its own credential).
PUBLIC_METHODS: frozenset[str] = frozenset()
