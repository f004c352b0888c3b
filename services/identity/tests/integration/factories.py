"""Small typed helpers to drive identity's servicer in tests."""

from __future__ import annotations

import uuid

import grpc

from crm.identity.v1 import identity_pb2
from crm_identity.entrypoints.grpc_identity import IdentityServicer

PASSWORD = "correct horse battery"
CONTEXT: grpc.aio.ServicerContext = None  # type: ignore[assignment]  # servicers ignore it


def unique_email() -> str:
    return f"owner-{uuid.uuid4().hex[:10]}@Example.COM"


async def signup(
    servicer: IdentityServicer, *, email: str, password: str = PASSWORD
) -> identity_pb2.SignupResponse:
    return await servicer.Signup(
        identity_pb2.SignupRequest(
            organization_name="Acme",
            owner_name="Ada",
            email=email,
            password=password,
            age_attested=True,
        ),
        CONTEXT,
    )


async def login(
    servicer: IdentityServicer, email: str, password: str = PASSWORD, tenant_id: str = ""
) -> identity_pb2.TokenPair:
    request = identity_pb2.LoginRequest(email=email, password=password, tenant_id=tenant_id)
    return await servicer.Login(request, CONTEXT)


async def refresh(servicer: IdentityServicer, token: str) -> identity_pb2.TokenPair:
    return await servicer.RefreshToken(
        identity_pb2.RefreshTokenRequest(refresh_token=token), CONTEXT
    )
