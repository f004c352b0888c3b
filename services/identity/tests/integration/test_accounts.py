"""Signup, login and refresh-token rotation against identity's real database."""

from __future__ import annotations

import asyncio
import json
import uuid

import asyncpg
import pytest
from sqlalchemy import select

from crm.identity.v1 import identity_pb2
from crm_devstack.testing import tenant_tables_security
from crm_identity.entrypoints.grpc_identity import IdentityServicer
from crm_identity.models import OutboxRecord, User
from crm_kit.auth.tokens import AccessTokenVerifier, JwksCache
from crm_kit.db.session import unit_of_work
from crm_kit.errors import InvalidArgument, ServiceError, Unauthenticated

from .factories import CONTEXT, PASSWORD, login, refresh, signup, unique_email

pytestmark = pytest.mark.integration


class TestSignup:
    async def test_creates_owner_with_bcrypt_hash_and_publishes_tenant_created(
        self, servicer: IdentityServicer
    ) -> None:
        email = unique_email()
        response = await signup(servicer, email=email)
        tenant = uuid.UUID(response.tenant_id)
        async with unit_of_work(servicer.factory, tenant_id=tenant) as session:
            owner = await session.scalar(select(User))
        async with unit_of_work(servicer.factory, tenant_id=None) as session:
            events = list(
                await session.scalars(select(OutboxRecord).where(OutboxRecord.tenant_id == tenant))
            )
        assert owner is not None
        assert owner.roles == ["owner"]
        assert owner.email_normalized == email.lower()
        assert owner.password_hash.startswith("$2b$")
        assert PASSWORD not in owner.password_hash
        assert [e.event_type for e in events] == ["identity.tenant.created"]

    @pytest.mark.parametrize(
        ("email", "password", "code"),
        [
            ("not-an-email", PASSWORD, "invalid_email"),
            ("ok@example.com", "short", "password_too_short"),
            ("ok@example.com", "x" * 73, "password_too_long"),
        ],
    )
    async def test_bad_input_is_refused_and_writes_nothing(
        self,
        servicer: IdentityServicer,
        database_urls: tuple[str, str],
        email: str,
        password: str,
        code: str,
    ) -> None:
        owner = await asyncpg.connect(database_urls[1].replace("+asyncpg", ""))
        try:
            before = await owner.fetchval("SELECT count(*) FROM tenants")
            with pytest.raises(InvalidArgument) as refused:
                await signup(servicer, email=email, password=password)
            after = await owner.fetchval("SELECT count(*) FROM tenants")
        finally:
            await owner.close()
        assert refused.value.code == code
        assert after == before


class TestLogin:
    async def test_returns_tokens_that_verify_against_the_jwks(
        self, servicer: IdentityServicer
    ) -> None:
        email = unique_email()
        created = await signup(servicer, email=email)
        pair = await login(servicer, email.upper())
        jwks = (await servicer.GetJwks(identity_pb2.GetJwksRequest(), CONTEXT)).json

        async def fetch() -> str:
            return jwks

        verifier = AccessTokenVerifier(JwksCache(fetch), issuer="crm-identity", audience="crm")
        principal = await verifier.verify(pair.access_token)
        assert str(principal.tenant_id) == created.tenant_id
        assert str(principal.user_id) == created.user_id
        assert principal.roles == ("owner",)
        assert pair.expires_in == 900
        assert len(json.loads(jwks)["keys"]) >= 1

    async def test_wrong_password_and_unknown_email_fail_alike(
        self, servicer: IdentityServicer
    ) -> None:
        email = unique_email()
        await signup(servicer, email=email)
        failures: list[ServiceError] = []
        for attempt in (login(servicer, email, "wrong password"), login(servicer, unique_email())):
            with pytest.raises(Unauthenticated) as failed:
                await attempt
            failures.append(failed.value)
        assert {(f.code, f.message) for f in failures} == {
            ("invalid_credentials", "invalid email or password")
        }

    async def test_email_in_two_organizations_needs_a_tenant_and_leaks_nothing(
        self, servicer: IdentityServicer
    ) -> None:
        email = unique_email()
        first = await signup(servicer, email=email)
        second = await signup(servicer, email=email)
        # Right and wrong passwords without a tenant fail alike: no password oracle
        # outside the lockout, no hint that the email spans organizations.
        answers = []
        for password in ("wrong password", PASSWORD):
            with pytest.raises(Unauthenticated) as failed:
                await login(servicer, email, password)
            answers.append((failed.value.code, failed.value.message))
        assert answers[0] == answers[1]
        chosen = await login(servicer, email, tenant_id=second.tenant_id)
        assert chosen.tenant_id == second.tenant_id != first.tenant_id


class TestRefresh:
    async def test_rotation_spends_the_old_token(self, servicer: IdentityServicer) -> None:
        created = await signup(servicer, email=unique_email())
        rotated = await refresh(servicer, created.tokens.refresh_token)
        assert rotated.refresh_token != created.tokens.refresh_token
        assert rotated.tenant_id == created.tenant_id

    async def test_replayed_token_revokes_the_whole_family(
        self, servicer: IdentityServicer
    ) -> None:
        created = await signup(servicer, email=unique_email())
        rotated = await refresh(servicer, created.tokens.refresh_token)
        with pytest.raises(Unauthenticated):
            await refresh(servicer, created.tokens.refresh_token)
        with pytest.raises(Unauthenticated):
            await refresh(servicer, rotated.refresh_token)

    async def test_parallel_refreshes_with_one_token_yield_one_pair(
        self, servicer: IdentityServicer
    ) -> None:
        created = await signup(servicer, email=unique_email())
        results = await asyncio.gather(
            *(refresh(servicer, created.tokens.refresh_token) for _ in range(5)),
            return_exceptions=True,
        )
        succeeded = [r for r in results if isinstance(r, identity_pb2.TokenPair)]
        refused = [r for r in results if isinstance(r, Unauthenticated)]
        assert (len(succeeded), len(refused)) == (1, 4)

    async def test_unknown_token_is_refused(self, servicer: IdentityServicer) -> None:
        with pytest.raises(Unauthenticated):
            await refresh(servicer, "not-a-token")


class TestSchemaRules:
    async def test_every_tenant_owned_table_has_forced_rls(
        self, database_urls: tuple[str, str]
    ) -> None:
        tables = await tenant_tables_security(database_urls[1])
        tables.pop("outbox")
        # Tables whose flows start from a bare email, token or key carry one extra,
        # narrow lookup policy each.
        assert tables == {
            "users": (True, True, 2),
            "refresh_tokens": (True, True, 2),
            "password_reset_tokens": (True, True, 2),
            "sessions": (True, True, 1),
            "api_keys": (True, True, 2),
            "invitations": (True, True, 2),
            "mfa_challenges": (True, True, 2),
            "recovery_codes": (True, True, 1),
        }
