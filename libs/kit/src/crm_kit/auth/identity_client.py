"""Fetching identity's JWKS over gRPC, for every verifier outside identity."""

from __future__ import annotations

from crm.identity.v1 import identity_pb2, identity_pb2_grpc
from crm_kit.auth.tokens import JwksFetcher
from crm_kit.grpc.interceptors import insecure_channel


def identity_jwks_fetcher(identity_address: str) -> JwksFetcher:
    """A fetcher whose channel opens on first use, inside the event loop that uses it.

    A grpc.aio channel is bound to the loop it was created in, and apps are often
    built before their server starts its loop.
    """
    stubs: list[identity_pb2_grpc.IdentityServiceStub] = []

    async def fetch() -> str:
        if not stubs:
            channel = insecure_channel(identity_address, default_timeout=3.0)
            stubs.append(identity_pb2_grpc.IdentityServiceStub(channel))
        jwks: identity_pb2.Jwks = await stubs[0].GetJwks(identity_pb2.GetJwksRequest())
        return jwks.json

    return fetch
