"""Signing-key rotation without downtime: old tokens verify until they expire."""

from __future__ import annotations

import json
from datetime import timedelta

import jwt
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_identity.entrypoints.grpc_identity import IdentityServicer
from crm_identity.tokens.keys import KeyStore
from crm_kit.auth.tokens import AccessTokenVerifier, JwksCache
from crm_kit.db.session import make_session_factory

from .factories import login, signup, unique_email

pytestmark = pytest.mark.integration


class TestRotation:
    async def test_new_tokens_use_the_new_key_and_old_ones_still_verify(
        self, servicer: IdentityServicer, engine: AsyncEngine
    ) -> None:
        email = unique_email()
        await signup(servicer, email=email)
        before = await login(servicer, email)
        old_kid = jwt.get_unverified_header(before.access_token)["kid"]

        # An operator rotates from another process (its own KeyStore); the serving
        # one picks the new key up at its next reload.
        new_kid = await KeyStore(make_session_factory(engine)).rotate()
        await servicer.policies.keys.load()
        after = await login(servicer, email)
        jwks = servicer.policies.keys.jwks()

        async def fetch() -> str:
            return jwks

        verifier = AccessTokenVerifier(JwksCache(fetch), issuer="crm-identity", audience="crm")
        assert jwt.get_unverified_header(after.access_token)["kid"] == new_kid != old_kid
        assert {k["kid"] for k in json.loads(jwks)["keys"]} >= {old_kid, new_kid}
        assert (await verifier.verify(before.access_token)).user_id == (
            await verifier.verify(after.access_token)
        ).user_id

    async def test_a_key_retired_past_the_window_is_no_longer_published(
        self, engine: AsyncEngine
    ) -> None:
        store = KeyStore(make_session_factory(engine), verify_window=timedelta(0))
        await store.load()
        first = {k["kid"] for k in json.loads(store.jwks())["keys"]}
        kid = await store.rotate()
        published = {k["kid"] for k in json.loads(store.jwks())["keys"]}
        assert published == {kid}
        assert kid not in first
