"""API keys: create, list, revoke and resolve, against identity's real database."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from sqlalchemy import select

from crm.events.v1 import envelope_pb2
from crm.events.v1 import identity_pb2 as identity_events
from crm.identity.v1 import api_keys_pb2
from crm_identity.dependencies import IdentityDependencies
from crm_identity.entrypoints.grpc_api_keys import PUBLIC_METHODS, ApiKeyServiceServicer
from crm_identity.entrypoints.grpc_identity import IdentityServicer
from crm_identity.models import OutboxRecord, User
from crm_identity.settings import IdentitySettings
from crm_kit.auth import api_key_format
from crm_kit.auth.tokens import AccessTokenVerifier, JwksCache
from crm_kit.context import RequestContext, bind_context
from crm_kit.db.session import create_engine, make_session_factory, unit_of_work
from crm_kit.errors import InvalidArgument, NotFound, PermissionDenied, Unauthenticated

from .factories import CONTEXT, signup, unique_email

pytestmark = pytest.mark.integration

TOKEN_TTL_SECONDS = 300
CONTACTS_RW = ("contacts:read", "contacts:write")


@pytest.fixture(scope="session")
def api_keys(servicer: IdentityServicer) -> ApiKeyServiceServicer:
    return ApiKeyServiceServicer(
        IdentityDependencies(
            factory=servicer.factory,
            settings=IdentitySettings(api_key_token_ttl_seconds=TOKEN_TTL_SECONDS),
            policies=servicer.policies,
            reset=servicer.reset,
        )
    )


async def _owner(servicer: IdentityServicer) -> RequestContext:
    created = await signup(servicer, email=unique_email())
    return RequestContext(
        tenant_id=uuid.UUID(created.tenant_id),
        user_id=uuid.UUID(created.user_id),
        roles=("owner",),
        client_ip="203.0.113.7",
        user_agent="pytest",
    )


async def _colleague(
    servicer: IdentityServicer, owner: RequestContext, role: str
) -> RequestContext:
    """Another user of the owner's tenant holding `role` (a row, since roles are read from
    the database, not the token)."""
    assert owner.tenant_id is not None
    user_id = uuid.uuid4()
    async with unit_of_work(servicer.factory, tenant_id=owner.tenant_id) as session:
        session.add(
            User(
                id=user_id,
                tenant_id=owner.tenant_id,
                name=role.title(),
                email=f"{role}-{user_id.hex[:8]}@example.com",
                email_normalized=f"{role}-{user_id.hex[:8]}@example.com",
                password_hash="$2b$10$" + "x" * 53,
                roles=[role],
            )
        )
    return RequestContext(tenant_id=owner.tenant_id, user_id=user_id, roles=(role,))


async def _create(
    api_keys: ApiKeyServiceServicer,
    caller: RequestContext,
    *,
    name: str = "Zapier",
    scopes: Sequence[str] = CONTACTS_RW,
    expires_at: datetime | None = None,
) -> api_keys_pb2.CreatedApiKey:
    request = api_keys_pb2.CreateApiKeyRequest(name=name, scopes=scopes)
    if expires_at is not None:
        request.expires_at.FromDatetime(expires_at)
    with bind_context(caller):
        return await api_keys.CreateApiKey(request, CONTEXT)


async def _revoke(
    api_keys: ApiKeyServiceServicer, caller: RequestContext, api_key_id: str
) -> api_keys_pb2.ApiKey:
    with bind_context(caller):
        return await api_keys.RevokeApiKey(api_keys_pb2.RevokeApiKeyRequest(id=api_key_id), CONTEXT)


async def _resolve(api_keys: ApiKeyServiceServicer, key: str) -> api_keys_pb2.ResolvedApiKey:
    with bind_context(RequestContext(actor_kind="anonymous")):
        return await api_keys.ResolveApiKey(api_keys_pb2.ResolveApiKeyRequest(key=key), CONTEXT)


async def _row(database_urls: tuple[str, str], api_key_id: str) -> asyncpg.Record:
    owner = await asyncpg.connect(database_urls[1].replace("+asyncpg", ""))
    try:
        row = await owner.fetchrow("SELECT * FROM api_keys WHERE id = $1", uuid.UUID(api_key_id))
    finally:
        await owner.close()
    assert row is not None
    return row


async def _events(
    api_keys: ApiKeyServiceServicer, tenant_id: uuid.UUID, event_type: str
) -> list[envelope_pb2.Envelope]:
    async with unit_of_work(api_keys.deps.factory, tenant_id=None) as session:
        rows = await session.scalars(
            select(OutboxRecord.envelope).where(
                OutboxRecord.tenant_id == tenant_id, OutboxRecord.event_type == event_type
            )
        )
        return [envelope_pb2.Envelope.FromString(row) for row in rows]


def _changed(envelope: envelope_pb2.Envelope) -> identity_events.ApiKeyChanged:
    event = identity_events.ApiKeyChanged()
    envelope.payload.Unpack(event)
    return event


class TestCreate:
    async def test_returns_a_well_formed_key_once_and_stores_only_its_hash(
        self,
        servicer: IdentityServicer,
        api_keys: ApiKeyServiceServicer,
        database_urls: tuple[str, str],
    ) -> None:
        owner = await _owner(servicer)
        created = await _create(api_keys, owner, name="  Zapier  ", scopes=["contacts:write"])
        key = created.key

        assert api_key_format.is_well_formed(key)
        assert created.api_key.display_prefix == key[:8] == "crm_" + key[4:8]
        assert created.api_key.name == "Zapier"
        assert list(created.api_key.scopes) == ["contacts:write"]
        assert created.api_key.created_by == str(owner.user_id)
        assert not created.api_key.HasField("revoked_at")
        row = await _row(database_urls, created.api_key.id)
        assert row["key_hash"] == hashlib.sha256(key.encode()).hexdigest() != key
        assert all(key[8:] not in str(value) for value in row.values())
        [published] = await _events(api_keys, owner.require_tenant(), "identity.api_key.created")
        assert key[8:].encode() not in published.SerializeToString()
        assert _changed(published).key_hash == row["key_hash"]
        assert published.actor.id == str(owner.user_id)

    async def test_every_key_is_different(
        self, servicer: IdentityServicer, api_keys: ApiKeyServiceServicer
    ) -> None:
        owner = await _owner(servicer)
        keys = {(await _create(api_keys, owner)).key for _ in range(5)}
        assert len(keys) == 5

    @pytest.mark.parametrize(
        ("scopes", "code"),
        [
            ([], "scopes_required"),
            (["contacts:delete"], "invalid_scope"),
            (["invoices:read"], "invalid_scope"),
            (["contacts:read", "contacts"], "invalid_scope"),
        ],
    )
    async def test_scopes_are_validated(
        self,
        servicer: IdentityServicer,
        api_keys: ApiKeyServiceServicer,
        scopes: list[str],
        code: str,
    ) -> None:
        owner = await _owner(servicer)
        with pytest.raises(InvalidArgument) as refused:
            await _create(api_keys, owner, scopes=scopes)
        assert (refused.value.code, refused.value.details["field"]) == (code, "scopes")

    async def test_duplicate_scopes_are_stored_once(
        self, servicer: IdentityServicer, api_keys: ApiKeyServiceServicer
    ) -> None:
        owner = await _owner(servicer)
        created = await _create(
            api_keys, owner, scopes=["pipelines:read", "contacts:read", "pipelines:read"]
        )
        assert list(created.api_key.scopes) == ["contacts:read", "pipelines:read"]

    async def test_name_is_required_and_expiry_must_be_in_the_future(
        self, servicer: IdentityServicer, api_keys: ApiKeyServiceServicer
    ) -> None:
        owner = await _owner(servicer)
        with pytest.raises(InvalidArgument) as nameless:
            await _create(api_keys, owner, name="   ")
        with pytest.raises(InvalidArgument) as past:
            await _create(api_keys, owner, expires_at=datetime.now(UTC) - timedelta(minutes=1))
        assert nameless.value.details["field"] == "name"
        assert past.value.details["field"] == "expires_at"
        with bind_context(owner):
            listed = await api_keys.ListApiKeys(api_keys_pb2.ListApiKeysRequest(), CONTEXT)
        assert list(listed.api_keys) == []

    @pytest.mark.parametrize("role", ["member", "viewer"])
    async def test_only_owners_and_admins_manage_keys(
        self, servicer: IdentityServicer, api_keys: ApiKeyServiceServicer, role: str
    ) -> None:
        owner = await _owner(servicer)
        created = await _create(api_keys, owner)
        member = await _colleague(servicer, owner, role)
        admin = await _colleague(servicer, owner, "admin")

        with pytest.raises(PermissionDenied):
            await _create(api_keys, member)
        with pytest.raises(PermissionDenied), bind_context(member):
            await api_keys.ListApiKeys(api_keys_pb2.ListApiKeysRequest(), CONTEXT)
        with pytest.raises(PermissionDenied):
            await _revoke(api_keys, member, created.api_key.id)
        assert (await _create(api_keys, admin)).key

    async def test_a_token_still_saying_admin_is_not_enough_after_a_demotion(
        self, servicer: IdentityServicer, api_keys: ApiKeyServiceServicer
    ) -> None:
        owner = await _owner(servicer)
        demoted = await _colleague(servicer, owner, "member")
        stale_token_roles = RequestContext(
            tenant_id=demoted.tenant_id, user_id=demoted.user_id, roles=("admin",)
        )
        with pytest.raises(PermissionDenied):
            await _create(api_keys, stale_token_roles)

    async def test_an_api_key_cannot_manage_keys(
        self, servicer: IdentityServicer, api_keys: ApiKeyServiceServicer
    ) -> None:
        owner = await _owner(servicer)
        created = await _create(api_keys, owner)
        as_key = RequestContext(
            tenant_id=owner.tenant_id,
            user_id=uuid.UUID(created.api_key.id),
            actor_kind="api_key",
            scopes=CONTACTS_RW,
        )
        with pytest.raises(PermissionDenied):
            await _create(api_keys, as_key)


class TestListAndRevoke:
    async def test_list_shows_prefixes_never_keys_and_only_the_callers_tenant(
        self, servicer: IdentityServicer, api_keys: ApiKeyServiceServicer
    ) -> None:
        owner, other = await _owner(servicer), await _owner(servicer)
        first = await _create(api_keys, owner, name="first")
        second = await _create(api_keys, owner, name="second")
        await _create(api_keys, other, name="theirs")

        with bind_context(owner):
            listed = await api_keys.ListApiKeys(api_keys_pb2.ListApiKeysRequest(), CONTEXT)
        assert [k.name for k in listed.api_keys] == ["second", "first"]
        assert [k.display_prefix for k in listed.api_keys] == [
            second.key[:8],
            first.key[:8],
        ]
        assert first.key.encode() not in listed.SerializeToString()

    async def test_revoke_is_published_refused_at_resolve_and_idempotent(
        self, servicer: IdentityServicer, api_keys: ApiKeyServiceServicer
    ) -> None:
        owner = await _owner(servicer)
        created = await _create(api_keys, owner)
        await _resolve(api_keys, created.key)

        revoked = await _revoke(api_keys, owner, created.api_key.id)
        again = await _revoke(api_keys, owner, created.api_key.id)

        assert revoked.HasField("revoked_at")
        assert again.revoked_at == revoked.revoked_at
        with pytest.raises(Unauthenticated) as refused:
            await _resolve(api_keys, created.key)
        assert refused.value.message == "invalid API key"
        tenant = owner.require_tenant()
        [published] = await _events(api_keys, tenant, "identity.api_key.revoked")
        assert _changed(published).key_hash == api_key_format.key_hash(created.key)
        # Internal tokens already minted for the key are refused by every verifier.
        [access] = await _events(api_keys, tenant, "identity.access.revoked")
        access_revoked = identity_events.AccessRevoked()
        access.payload.Unpack(access_revoked)
        assert access_revoked.user_id == created.api_key.id

    async def test_another_tenants_key_is_not_found(
        self, servicer: IdentityServicer, api_keys: ApiKeyServiceServicer
    ) -> None:
        owner, intruder = await _owner(servicer), await _owner(servicer)
        created = await _create(api_keys, owner)

        with pytest.raises(NotFound) as hidden:
            await _revoke(api_keys, intruder, created.api_key.id)
        with pytest.raises(NotFound) as malformed:
            await _revoke(api_keys, intruder, "not-a-uuid")

        assert hidden.value.code == malformed.value.code == "api_key_not_found"
        assert (await _resolve(api_keys, created.key)).api_key_id == created.api_key.id


class TestResolve:
    async def test_mints_an_internal_token_and_records_the_use(
        self,
        servicer: IdentityServicer,
        api_keys: ApiKeyServiceServicer,
        database_urls: tuple[str, str],
    ) -> None:
        owner = await _owner(servicer)
        created = await _create(api_keys, owner, scopes=["pipelines:read", "contacts:read"])
        assert (await _row(database_urls, created.api_key.id))["last_used_at"] is None

        resolved = await _resolve(api_keys, created.key)

        assert resolved.api_key_id == created.api_key.id
        assert resolved.tenant_id == str(owner.tenant_id)
        assert list(resolved.scopes) == ["contacts:read", "pipelines:read"]
        assert resolved.expires_in == TOKEN_TTL_SECONDS
        verifier = AccessTokenVerifier(
            JwksCache(servicer.policies.keys.fetch_jwks), issuer="crm-identity", audience="crm"
        )
        principal = await verifier.verify(resolved.access_token)
        assert principal.tenant_id == owner.tenant_id
        assert str(principal.user_id) == created.api_key.id
        assert principal.roles == ()
        assert principal.scopes == ("contacts:read", "pipelines:read")
        assert principal.actor_kind == "api_key"
        assert principal.session_id is None
        assert principal.expires_at - int(principal.issued_at) == TOKEN_TTL_SECONDS
        last_used = (await _row(database_urls, created.api_key.id))["last_used_at"]
        assert last_used is not None
        assert datetime.now(UTC) - last_used < timedelta(minutes=1)

    async def test_the_token_never_outlives_the_key(
        self, servicer: IdentityServicer, api_keys: ApiKeyServiceServicer
    ) -> None:
        owner = await _owner(servicer)
        soon = datetime.now(UTC) + timedelta(seconds=60)
        created = await _create(api_keys, owner, expires_at=soon)
        assert created.api_key.expires_at.ToDatetime(tzinfo=UTC) == soon

        resolved = await _resolve(api_keys, created.key)

        assert 50 <= resolved.expires_in <= 60

    async def test_an_expired_key_is_refused_like_an_unknown_one(
        self,
        servicer: IdentityServicer,
        api_keys: ApiKeyServiceServicer,
        database_urls: tuple[str, str],
    ) -> None:
        owner = await _owner(servicer)
        created = await _create(api_keys, owner, expires_at=datetime.now(UTC) + timedelta(hours=1))
        admin = await asyncpg.connect(database_urls[1].replace("+asyncpg", ""))
        try:
            await admin.execute(
                "UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = $1",
                uuid.UUID(created.api_key.id),
            )
        finally:
            await admin.close()
        unknown = api_key_format.generate()

        failures: list[Unauthenticated] = []
        for key in (created.key, unknown):
            with pytest.raises(Unauthenticated) as refused:
                await _resolve(api_keys, key)
            failures.append(refused.value)

        assert {(f.message, f.code) for f in failures} == {("invalid API key", "invalid_api_key")}

    @pytest.mark.parametrize(
        "mangle",
        [
            lambda key: key[:10] + ("A" if key[10] != "A" else "B") + key[11:],
            lambda key: key[:-1] + ("0" if key[-1] != "0" else "1"),
            lambda key: key[:-1],
            lambda key: "crm_" + "!" * 36,
            lambda key: "ghp_" + key[4:],
        ],
        ids=["random-part", "checksum", "short", "alphabet", "prefix"],
    )
    async def test_a_mistyped_key_is_refused_without_touching_the_database(
        self, servicer: IdentityServicer, mangle: Callable[[str], str]
    ) -> None:
        # Nothing listens on port 1: any database work would fail with a connection error.
        unreachable = create_engine("postgresql+asyncpg://nobody:x@127.0.0.1:1/none")
        offline = ApiKeyServiceServicer(
            IdentityDependencies(
                factory=make_session_factory(unreachable),
                settings=IdentitySettings(),
                policies=servicer.policies,
                reset=servicer.reset,
            )
        )
        mistyped = mangle(api_key_format.generate())
        try:
            with pytest.raises(InvalidArgument) as refused:
                await _resolve(offline, mistyped)
        finally:
            await unreachable.dispose()
        assert refused.value.code == "malformed_api_key"

    def test_resolve_is_the_only_public_method(self) -> None:
        expected = {"/crm.identity.v1.ApiKeyService/ResolveApiKey"}
        assert expected == PUBLIC_METHODS
