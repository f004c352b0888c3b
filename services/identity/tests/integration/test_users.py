"""Users, roles, invitations and the tenant's status, against identity's real database."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import parse_qs, urlsplit

import asyncpg
import pytest
from google.protobuf.message import Message
from sqlalchemy import select

from crm.events.v1 import envelope_pb2
from crm.events.v1 import identity_pb2 as identity_events
from crm.identity.v1 import identity_pb2, users_pb2
from crm_identity.dependencies import IdentityDependencies
from crm_identity.entrypoints.grpc_identity import IdentityServicer
from crm_identity.entrypoints.grpc_users import PUBLIC_METHODS, UserServiceServicer
from crm_identity.models import Invitation, OutboxRecord, User
from crm_identity.settings import IdentitySettings
from crm_kit.context import RequestContext, bind_context
from crm_kit.db.session import unit_of_work
from crm_kit.errors import (
    Conflict,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    ServiceError,
    Unauthenticated,
)

from .factories import CONTEXT, PASSWORD, login, refresh, signup, unique_email

pytestmark = pytest.mark.integration

INVITATION_URL = "https://app.example/accept-invitation"
T = TypeVar("T")
M = TypeVar("M", bound=Message)


@pytest.fixture(scope="session")
def users(servicer: IdentityServicer) -> UserServiceServicer:
    settings = IdentitySettings(bcrypt_rounds=10, invitation_url=INVITATION_URL)
    return UserServiceServicer(
        IdentityDependencies(
            factory=servicer.factory,
            settings=settings,
            policies=servicer.policies,
            reset=servicer.reset,
        )
    )


@dataclass(frozen=True)
class Person:
    tenant_id: uuid.UUID
    user_id: uuid.UUID
    email: str
    role: str

    def context(self, *, claimed_roles: tuple[str, ...] | None = None) -> RequestContext:
        return RequestContext(
            tenant_id=self.tenant_id,
            user_id=self.user_id,
            roles=claimed_roles or (self.role,),
            client_ip="203.0.113.7",
            user_agent="pytest",
        )


async def as_(person: Person, call: Callable[[], Awaitable[T]]) -> T:
    with bind_context(person.context()):
        return await call()


async def new_organization(servicer: IdentityServicer) -> Person:
    email = unique_email()
    created = await signup(servicer, email=email)
    return Person(uuid.UUID(created.tenant_id), uuid.UUID(created.user_id), email, "owner")


async def envelopes(
    users: UserServiceServicer, tenant_id: uuid.UUID, event_type: str
) -> list[envelope_pb2.Envelope]:
    async with unit_of_work(users.deps.factory, tenant_id=None) as session:
        rows = await session.scalars(
            select(OutboxRecord.envelope)
            .where(OutboxRecord.tenant_id == tenant_id, OutboxRecord.event_type == event_type)
            .order_by(OutboxRecord.created_at)
        )
        return [envelope_pb2.Envelope.FromString(row) for row in rows]


def unpack(envelope: envelope_pb2.Envelope, message_type: type[M]) -> M:
    message = message_type()
    assert envelope.payload.Unpack(message)
    return message


async def invitation_token(
    users: UserServiceServicer, tenant_id: uuid.UUID, invitation_id: str
) -> str:
    """The token in the latest link sent for this invitation (the email's content)."""
    sent = [
        unpack(e, identity_events.InvitationSent)
        for e in await envelopes(users, tenant_id, "identity.invitation.sent")
    ]
    [*_, latest] = [s for s in sent if s.invitation_id == invitation_id]
    return parse_qs(urlsplit(latest.accept_url).query)["token"][0]


async def invite(
    users: UserServiceServicer, by: Person, *, role: str = "member", email: str | None = None
) -> tuple[users_pb2.Invitation, str]:
    request = users_pb2.InviteUserRequest(email=email or unique_email(), role=role, name="Grace")
    invitation = await as_(by, lambda: users.InviteUser(request, CONTEXT))
    return invitation, await invitation_token(users, by.tenant_id, invitation.id)


async def accept(
    users: UserServiceServicer,
    token: str,
    *,
    password: str = PASSWORD,
    age_attested: bool = True,
) -> users_pb2.AcceptInvitationResponse:
    request = users_pb2.AcceptInvitationRequest(
        token=token, name="Grace Hopper", password=password, age_attested=age_attested
    )
    return await users.AcceptInvitation(request, CONTEXT)


async def join(users: UserServiceServicer, by: Person, *, role: str) -> Person:
    email = unique_email()
    _, token = await invite(users, by, role=role, email=email)
    joined = await accept(users, token)
    return Person(by.tenant_id, uuid.UUID(joined.user_id), email, role)


async def change_role(
    users: UserServiceServicer, by: Person, target: Person, role: str
) -> users_pb2.User:
    request = users_pb2.ChangeRoleRequest(user_id=str(target.user_id), role=role)
    return await as_(by, lambda: users.ChangeRole(request, CONTEXT))


async def deactivate(users: UserServiceServicer, by: Person, target: Person) -> users_pb2.User:
    request = users_pb2.UserIdRequest(user_id=str(target.user_id))
    return await as_(by, lambda: users.DeactivateUser(request, CONTEXT))


async def list_invitations(users: UserServiceServicer, by: Person) -> list[users_pb2.Invitation]:
    listed = await as_(
        by, lambda: users.ListInvitations(users_pb2.ListInvitationsRequest(), CONTEXT)
    )
    return list(listed.invitations)


async def active_owners(users: UserServiceServicer, tenant_id: uuid.UUID) -> list[uuid.UUID]:
    async with unit_of_work(users.deps.factory, tenant_id=tenant_id) as session:
        found = await session.scalars(select(User))
        return [u.id for u in found if u.roles == ["owner"] and u.status == "active"]


async def as_database_owner(database_urls: tuple[str, str], sql: str, *args: object) -> None:
    owner = await asyncpg.connect(database_urls[1].replace("+asyncpg", ""))
    try:
        await owner.execute(sql, *args)
    finally:
        await owner.close()


class TestSignupAttestation:
    async def test_signup_without_age_attestation_is_refused(
        self, servicer: IdentityServicer
    ) -> None:
        request = identity_pb2.SignupRequest(
            organization_name="Acme", owner_name="Ada", email=unique_email(), password=PASSWORD
        )
        with pytest.raises(InvalidArgument) as refused:
            await servicer.Signup(request, CONTEXT)
        assert refused.value.code == "age_attestation_required"
        assert refused.value.details["field"] == "age_attested"

    async def test_signup_stores_attestation_time_and_e164_phone(
        self, servicer: IdentityServicer, users: UserServiceServicer
    ) -> None:
        request = identity_pb2.SignupRequest(
            organization_name="Acme",
            owner_name="Ada",
            email=unique_email(),
            password=PASSWORD,
            phone="+1 415 555 0123",
            age_attested=True,
        )
        created = await servicer.Signup(request, CONTEXT)
        async with unit_of_work(servicer.factory, tenant_id=uuid.UUID(created.tenant_id)) as s:
            owner = await s.get(User, uuid.UUID(created.user_id))
        assert owner is not None
        assert owner.phone == "+14155550123"
        assert owner.age_attested_at is not None

    @pytest.mark.parametrize("phone", ["4155550123", "+1555", "+1 415 555 0123 ext x", "call me"])
    async def test_signup_refuses_a_phone_that_is_not_e164(
        self, servicer: IdentityServicer, phone: str
    ) -> None:
        request = identity_pb2.SignupRequest(
            organization_name="Acme",
            owner_name="Ada",
            email=unique_email(),
            password=PASSWORD,
            phone=phone,
            age_attested=True,
        )
        with pytest.raises(InvalidArgument) as refused:
            await servicer.Signup(request, CONTEXT)
        assert refused.value.code == "invalid_phone"


class TestDirectory:
    async def test_every_role_lists_users_and_reads_itself(
        self, servicer: IdentityServicer, users: UserServiceServicer
    ) -> None:
        owner = await new_organization(servicer)
        viewer = await join(users, owner, role="viewer")
        listed = await as_(viewer, lambda: users.ListUsers(users_pb2.ListUsersRequest(), CONTEXT))
        assert {(u.id, u.role) for u in listed.users} == {
            (str(owner.user_id), "owner"),
            (str(viewer.user_id), "viewer"),
        }
        me = await as_(viewer, lambda: users.GetUser(users_pb2.GetUserRequest(), CONTEXT))
        assert (me.id, me.role, me.status, me.name) == (
            str(viewer.user_id),
            "viewer",
            "active",
            "Grace Hopper",
        )

    async def test_another_tenants_and_malformed_ids_are_not_found(
        self, servicer: IdentityServicer, users: UserServiceServicer
    ) -> None:
        theirs = await new_organization(servicer)
        their_member = await join(users, theirs, role="member")
        their_invitation, _ = await invite(users, theirs)
        mine = await new_organization(servicer)
        user_calls: list[Callable[[str], Awaitable[object]]] = [
            lambda i: users.GetUser(users_pb2.GetUserRequest(id=i), CONTEXT),
            lambda i: users.ChangeRole(
                users_pb2.ChangeRoleRequest(user_id=i, role="admin"), CONTEXT
            ),
            lambda i: users.DeactivateUser(users_pb2.UserIdRequest(user_id=i), CONTEXT),
            lambda i: users.ReactivateUser(users_pb2.UserIdRequest(user_id=i), CONTEXT),
            lambda i: users.UnlockUser(users_pb2.UserIdRequest(user_id=i), CONTEXT),
        ]
        invitation_calls: list[Callable[[str], Awaitable[object]]] = [
            lambda i: users.ResendInvitation(
                users_pb2.InvitationIdRequest(invitation_id=i), CONTEXT
            ),
            lambda i: users.RevokeInvitation(
                users_pb2.InvitationIdRequest(invitation_id=i), CONTEXT
            ),
        ]
        cases = [(call, str(their_member.user_id)) for call in user_calls]
        cases += [(call, "not-a-uuid") for call in user_calls]
        cases += [(call, their_invitation.id) for call in invitation_calls]
        cases += [(call, "not-a-uuid") for call in invitation_calls]
        for call, target in cases:
            with bind_context(mine.context()), pytest.raises(NotFound):
                await call(target)
        # Nothing happened to the other tenant's user or invitation.
        listed = await list_invitations(users, theirs)
        assert sorted(i.status for i in listed) == ["accepted", "pending"]
        them = await as_(
            theirs,
            lambda: users.GetUser(users_pb2.GetUserRequest(id=str(their_member.user_id)), CONTEXT),
        )
        assert (them.role, them.status) == ("member", "active")


class TestRoles:
    async def test_owner_promotes_and_publishes_role_changed(
        self, servicer: IdentityServicer, users: UserServiceServicer
    ) -> None:
        owner = await new_organization(servicer)
        member = await join(users, owner, role="member")
        changed = await change_role(users, owner, member, "admin")
        assert changed.role == "admin"
        [event] = await envelopes(users, owner.tenant_id, "identity.user.role_changed")
        payload = unpack(event, identity_events.UserChanged)
        assert (payload.user_id, payload.role, payload.previous_role) == (
            str(member.user_id),
            "admin",
            "member",
        )
        revoked = [
            unpack(e, identity_events.AccessRevoked)
            for e in await envelopes(users, owner.tenant_id, "identity.access.revoked")
        ]
        assert [(r.user_id, r.session_id, r.reason) for r in revoked] == [
            (str(member.user_id), "", "role_changed")
        ]

    @pytest.mark.parametrize("role", ["member", "viewer"])
    async def test_members_and_viewers_cannot_manage(
        self, servicer: IdentityServicer, users: UserServiceServicer, role: str
    ) -> None:
        owner = await new_organization(servicer)
        caller = await join(users, owner, role=role)
        other = await join(users, owner, role="viewer")
        invitation, _ = await invite(users, owner)
        refused: list[Callable[[], Awaitable[object]]] = [
            lambda: users.InviteUser(
                users_pb2.InviteUserRequest(email=unique_email(), role="viewer"), CONTEXT
            ),
            lambda: users.ListInvitations(users_pb2.ListInvitationsRequest(), CONTEXT),
            lambda: users.ResendInvitation(
                users_pb2.InvitationIdRequest(invitation_id=invitation.id), CONTEXT
            ),
            lambda: users.RevokeInvitation(
                users_pb2.InvitationIdRequest(invitation_id=invitation.id), CONTEXT
            ),
            lambda: users.ChangeRole(
                users_pb2.ChangeRoleRequest(user_id=str(other.user_id), role="member"), CONTEXT
            ),
            lambda: users.DeactivateUser(
                users_pb2.UserIdRequest(user_id=str(other.user_id)), CONTEXT
            ),
            lambda: users.UnlockUser(users_pb2.UserIdRequest(user_id=str(other.user_id)), CONTEXT),
            lambda: users.SetTenantStatus(
                users_pb2.SetTenantStatusRequest(status="cancelled"), CONTEXT
            ),
        ]
        for call in refused:
            with bind_context(caller.context()), pytest.raises(PermissionDenied):
                await call()

    async def test_the_role_comes_from_the_database_not_the_token(
        self, servicer: IdentityServicer, users: UserServiceServicer
    ) -> None:
        owner = await new_organization(servicer)
        admin = await join(users, owner, role="admin")
        await change_role(users, owner, admin, "member")
        stale = admin.context(claimed_roles=("admin",))
        request = users_pb2.InviteUserRequest(email=unique_email(), role="member")
        with bind_context(stale), pytest.raises(PermissionDenied):
            await users.InviteUser(request, CONTEXT)

    async def test_only_an_owner_grants_or_removes_owner(
        self, servicer: IdentityServicer, users: UserServiceServicer
    ) -> None:
        owner = await new_organization(servicer)
        admin = await join(users, owner, role="admin")
        member = await join(users, owner, role="member")
        with pytest.raises(PermissionDenied):
            await change_role(users, admin, member, "owner")
        with pytest.raises(PermissionDenied):
            await change_role(users, admin, owner, "admin")
        with pytest.raises(PermissionDenied):
            await invite(users, admin, role="owner")
        with pytest.raises(PermissionDenied):
            await deactivate(users, admin, owner)
        assert (await change_role(users, admin, member, "viewer")).role == "viewer"
        assert (await change_role(users, owner, member, "owner")).role == "owner"

    async def test_unknown_role_is_invalid(
        self, servicer: IdentityServicer, users: UserServiceServicer
    ) -> None:
        owner = await new_organization(servicer)
        member = await join(users, owner, role="member")
        with pytest.raises(InvalidArgument) as refused:
            await change_role(users, owner, member, "superuser")
        assert (refused.value.code, refused.value.details["field"]) == ("invalid_role", "role")


class TestLastOwner:
    async def test_the_last_owner_cannot_be_demoted_or_deactivated(
        self, servicer: IdentityServicer, users: UserServiceServicer
    ) -> None:
        owner = await new_organization(servicer)
        with pytest.raises(PreconditionFailed) as demoted:
            await change_role(users, owner, owner, "admin")
        with pytest.raises(PreconditionFailed) as deactivated:
            await deactivate(users, owner, owner)
        assert demoted.value.code == deactivated.value.code == "last_owner"
        assert await active_owners(users, owner.tenant_id) == [owner.user_id]

    async def test_a_deactivated_owner_does_not_count(
        self, servicer: IdentityServicer, users: UserServiceServicer
    ) -> None:
        owner = await new_organization(servicer)
        second = await join(users, owner, role="owner")
        await deactivate(users, owner, second)
        with pytest.raises(PreconditionFailed):
            await change_role(users, owner, owner, "member")

    async def test_with_two_owners_either_may_step_down(
        self, servicer: IdentityServicer, users: UserServiceServicer
    ) -> None:
        owner = await new_organization(servicer)
        second = await join(users, owner, role="owner")
        assert (await change_role(users, owner, owner, "admin")).role == "admin"
        assert await active_owners(users, owner.tenant_id) == [second.user_id]

    @pytest.mark.parametrize("scenario", ["each_demotes_the_other", "one_demotes_both"])
    async def test_concurrent_demotions_of_two_owners_leave_one(
        self, servicer: IdentityServicer, users: UserServiceServicer, scenario: str
    ) -> None:
        first = await new_organization(servicer)
        second = await join(users, first, role="owner")
        second_actor = second if scenario == "each_demotes_the_other" else first
        results = await asyncio.gather(
            change_role(users, first, second, "admin"),
            change_role(users, second_actor, first, "admin"),
            return_exceptions=True,
        )
        succeeded = [r for r in results if isinstance(r, users_pb2.User)]
        failed = [r for r in results if isinstance(r, ServiceError)]
        assert len(succeeded) == 1, results
        assert len(failed) == 1, results
        # Refused as the last owner or, if it lost the owner role first, as a non-owner.
        assert failed[0].code in {"last_owner", "owner_role_required"}
        assert len(await active_owners(users, first.tenant_id)) == 1

    async def test_concurrent_deactivations_of_two_owners_leave_one(
        self, servicer: IdentityServicer, users: UserServiceServicer
    ) -> None:
        first = await new_organization(servicer)
        second = await join(users, first, role="owner")
        results = await asyncio.gather(
            deactivate(users, first, second),
            deactivate(users, first, first),
            return_exceptions=True,
        )
        assert sum(isinstance(r, users_pb2.User) for r in results) == 1, results
        assert len(await active_owners(users, first.tenant_id)) == 1


class TestDeactivation:
    async def test_ends_sessions_revokes_access_and_blocks_login(
        self, servicer: IdentityServicer, users: UserServiceServicer
    ) -> None:
        owner = await new_organization(servicer)
        member = await join(users, owner, role="member")
        tokens = await login(servicer, member.email)

        deactivated = await deactivate(users, owner, member)

        assert deactivated.status == "deactivated"
        with pytest.raises(Unauthenticated):
            await refresh(servicer, tokens.refresh_token)
        with pytest.raises(Unauthenticated):
            await login(servicer, member.email)
        revoked = [
            unpack(e, identity_events.AccessRevoked)
            for e in await envelopes(users, owner.tenant_id, "identity.access.revoked")
        ]
        mine = [(bool(r.session_id), r.reason) for r in revoked if r.user_id == str(member.user_id)]
        # Its one session, then every token the user still holds.
        assert sorted(mine) == [(False, "deactivated"), (True, "deactivated")]
        [event] = await envelopes(users, owner.tenant_id, "identity.user.deactivated")
        assert unpack(event, identity_events.UserChanged).user_id == str(member.user_id)
        # The deactivated user's own calls are refused too, whatever its token claims.
        with bind_context(member.context()), pytest.raises(Unauthenticated):
            await users.ListUsers(users_pb2.ListUsersRequest(), CONTEXT)

    async def test_reactivation_lets_the_user_log_in_again(
        self, servicer: IdentityServicer, users: UserServiceServicer
    ) -> None:
        owner = await new_organization(servicer)
        member = await join(users, owner, role="member")
        await deactivate(users, owner, member)
        request = users_pb2.UserIdRequest(user_id=str(member.user_id))
        reactivated = await as_(owner, lambda: users.ReactivateUser(request, CONTEXT))
        assert (reactivated.status, reactivated.role) == ("active", "member")
        assert (await login(servicer, member.email)).access_token
        assert len(await envelopes(users, owner.tenant_id, "identity.user.reactivated")) == 1

    async def test_a_user_may_deactivate_themselves_unless_last_owner(
        self, servicer: IdentityServicer, users: UserServiceServicer
    ) -> None:
        owner = await new_organization(servicer)
        admin = await join(users, owner, role="admin")
        assert (await deactivate(users, admin, admin)).status == "deactivated"
        with pytest.raises(PreconditionFailed):
            await deactivate(users, owner, owner)


class TestUnlock:
    async def test_clears_the_lockout(
        self, servicer: IdentityServicer, users: UserServiceServicer
    ) -> None:
        owner = await new_organization(servicer)
        member = await join(users, owner, role="member")
        for _ in range(5):
            with pytest.raises(Unauthenticated):
                await login(servicer, member.email, "not the password")
        request = users_pb2.UserIdRequest(user_id=str(member.user_id))
        locked = await as_(
            owner, lambda: users.GetUser(users_pb2.GetUserRequest(id=str(member.user_id)), CONTEXT)
        )
        assert locked.HasField("locked_until")

        unlocked = await as_(owner, lambda: users.UnlockUser(request, CONTEXT))

        assert not unlocked.HasField("locked_until")
        async with unit_of_work(servicer.factory, tenant_id=owner.tenant_id) as session:
            row = await session.get(User, member.user_id)
        assert row is not None
        assert (
            row.locked_until,
            row.failed_logins,
            row.failure_window_started_at,
            row.lockouts,
        ) == (
            None,
            0,
            None,
            0,
        )
        assert (await login(servicer, member.email)).access_token
        assert len(await envelopes(users, owner.tenant_id, "identity.user.unlocked")) == 1


class TestInvitations:
    async def test_invite_stores_only_the_hash_and_publishes_the_link(
        self, servicer: IdentityServicer, users: UserServiceServicer
    ) -> None:
        owner = await new_organization(servicer)
        invitation, token = await invite(users, owner, role="admin")
        assert (invitation.status, invitation.role, invitation.invited_by) == (
            "pending",
            "admin",
            str(owner.user_id),
        )
        async with unit_of_work(servicer.factory, tenant_id=owner.tenant_id) as session:
            row = await session.get(Invitation, uuid.UUID(invitation.id))
        assert row is not None
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert len(token) >= 43  # 32 random bytes, base64url
        expires_in = row.expires_at - row.created_at
        assert expires_in.days == users.deps.settings.invitation_ttl_days
        [sent] = await envelopes(users, owner.tenant_id, "identity.invitation.sent")
        assert unpack(sent, identity_events.InvitationSent).accept_url.startswith(
            f"{INVITATION_URL}?token="
        )
        [invited] = await envelopes(users, owner.tenant_id, "identity.user.invited")
        assert token not in invited.SerializeToString().decode(errors="ignore")

    async def test_accept_creates_the_user_with_the_invited_role_once(
        self, servicer: IdentityServicer, users: UserServiceServicer
    ) -> None:
        owner = await new_organization(servicer)
        email = unique_email()
        invitation, token = await invite(users, owner, role="admin", email=email)

        joined = await accept(users, token)

        assert joined.tenant_id == str(owner.tenant_id)
        pair = await login(servicer, email)
        assert pair.user_id == joined.user_id
        async with unit_of_work(servicer.factory, tenant_id=owner.tenant_id) as session:
            user = await session.get(User, uuid.UUID(joined.user_id))
        assert user is not None
        assert (user.roles, user.status, user.name) == (["admin"], "active", "Grace Hopper")
        assert user.age_attested_at is not None
        assert user.password_hash.startswith("$2b$")
        [listed] = await list_invitations(users, owner)
        assert (listed.id, listed.status) == (invitation.id, "accepted")
        [event] = await envelopes(users, owner.tenant_id, "identity.user.joined")
        assert unpack(event, identity_events.UserChanged).role == "admin"

        with pytest.raises(InvalidArgument) as again:
            await accept(users, token)
        assert again.value.code == "invalid_invitation"

    async def test_parallel_accepts_of_one_token_create_one_user(
        self, servicer: IdentityServicer, users: UserServiceServicer
    ) -> None:
        owner = await new_organization(servicer)
        _, token = await invite(users, owner)
        results = await asyncio.gather(
            *(accept(users, token) for _ in range(4)), return_exceptions=True
        )
        assert sum(isinstance(r, users_pb2.AcceptInvitationResponse) for r in results) == 1
        assert all(
            isinstance(r, InvalidArgument) and r.code == "invalid_invitation"
            for r in results
            if not isinstance(r, users_pb2.AcceptInvitationResponse)
        )

    @pytest.mark.parametrize(
        ("password", "age_attested", "code"),
        [
            (PASSWORD, False, "age_attestation_required"),
            ("short", True, "password_too_short"),
            ("password123", True, "password_too_common"),
        ],
    )
    async def test_refused_acceptance_leaves_the_invitation_pending(
        self,
        servicer: IdentityServicer,
        users: UserServiceServicer,
        password: str,
        age_attested: bool,
        code: str,
    ) -> None:
        owner = await new_organization(servicer)
        _, token = await invite(users, owner)
        with pytest.raises(InvalidArgument) as refused:
            await accept(users, token, password=password, age_attested=age_attested)
        assert refused.value.code == code
        assert [i.status for i in await list_invitations(users, owner)] == ["pending"]
        assert (await accept(users, token)).user_id

    async def test_unknown_token_is_invalid(self, users: UserServiceServicer) -> None:
        with pytest.raises(InvalidArgument) as refused:
            await accept(users, "not-a-real-token")
        assert refused.value.code == "invalid_invitation"

    async def test_expired_invitation_is_refused_until_resent(
        self,
        servicer: IdentityServicer,
        users: UserServiceServicer,
        database_urls: tuple[str, str],
    ) -> None:
        owner = await new_organization(servicer)
        invitation, token = await invite(users, owner)
        await as_database_owner(
            database_urls,
            "UPDATE invitations SET expires_at = now() - interval '1 minute' WHERE id = $1",
            uuid.UUID(invitation.id),
        )
        assert [i.status for i in await list_invitations(users, owner)] == ["expired"]
        with pytest.raises(InvalidArgument) as expired:
            await accept(users, token)
        assert expired.value.code == "invalid_invitation"

        request = users_pb2.InvitationIdRequest(invitation_id=invitation.id)
        resent = await as_(owner, lambda: users.ResendInvitation(request, CONTEXT))
        assert resent.status == "pending"
        assert (
            await accept(users, await invitation_token(users, owner.tenant_id, invitation.id))
        ).user_id

    async def test_resend_replaces_the_token(
        self, servicer: IdentityServicer, users: UserServiceServicer
    ) -> None:
        owner = await new_organization(servicer)
        invitation, old_token = await invite(users, owner)
        request = users_pb2.InvitationIdRequest(invitation_id=invitation.id)
        await as_(owner, lambda: users.ResendInvitation(request, CONTEXT))
        new_token = await invitation_token(users, owner.tenant_id, invitation.id)
        assert new_token != old_token
        with pytest.raises(InvalidArgument):
            await accept(users, old_token)
        assert (await accept(users, new_token)).user_id
        with pytest.raises(Conflict) as closed:
            await as_(owner, lambda: users.ResendInvitation(request, CONTEXT))
        assert closed.value.code == "invitation_closed"

    async def test_revoked_invitation_cannot_be_accepted(
        self, servicer: IdentityServicer, users: UserServiceServicer
    ) -> None:
        owner = await new_organization(servicer)
        invitation, token = await invite(users, owner)
        request = users_pb2.InvitationIdRequest(invitation_id=invitation.id)
        revoked = await as_(owner, lambda: users.RevokeInvitation(request, CONTEXT))
        assert revoked.status == "revoked"
        with pytest.raises(InvalidArgument):
            await accept(users, token)
        [event] = await envelopes(users, owner.tenant_id, "identity.invitation.revoked")
        assert unpack(event, identity_events.InvitationSent).accept_url == ""
        # Revoked emails may be invited again.
        assert (await invite(users, owner, email=invitation.email))[0].status == "pending"

    async def test_existing_users_and_pending_invitations_conflict(
        self, servicer: IdentityServicer, users: UserServiceServicer
    ) -> None:
        owner = await new_organization(servicer)
        with pytest.raises(Conflict) as member:
            await invite(users, owner, email=owner.email.upper())
        assert member.value.code == "user_exists"
        email = unique_email()
        await invite(users, owner, email=email)
        with pytest.raises(Conflict) as pending:
            await invite(users, owner, email=email)
        assert pending.value.code == "invitation_pending"

    async def test_parallel_invitations_of_one_email_create_one(
        self, servicer: IdentityServicer, users: UserServiceServicer
    ) -> None:
        owner = await new_organization(servicer)
        email = unique_email()
        results = await asyncio.gather(
            *(invite(users, owner, email=email) for _ in range(3)), return_exceptions=True
        )
        assert sum(isinstance(r, Conflict) for r in results) == 2, results
        assert len(await list_invitations(users, owner)) == 1

    async def test_accept_is_public(self) -> None:
        assert sorted(PUBLIC_METHODS) == ["/crm.identity.v1.UserService/AcceptInvitation"]


class TestTenant:
    async def test_owner_cancels_and_reactivates(
        self, servicer: IdentityServicer, users: UserServiceServicer
    ) -> None:
        owner = await new_organization(servicer)
        member = await join(users, owner, role="member")
        read = await as_(member, lambda: users.GetTenant(users_pb2.GetTenantRequest(), CONTEXT))
        assert (read.id, read.name, read.status) == (str(owner.tenant_id), "Acme", "active")

        def set_status(status: str) -> Callable[[], Awaitable[users_pb2.Tenant]]:
            request = users_pb2.SetTenantStatusRequest(status=status)
            return lambda: users.SetTenantStatus(request, CONTEXT)

        assert (await as_(owner, set_status("cancelled"))).status == "cancelled"
        assert (await as_(owner, set_status("active"))).status == "active"
        changes = [
            unpack(e, identity_events.TenantStatusChanged)
            for e in await envelopes(users, owner.tenant_id, "identity.tenant.status_changed")
        ]
        assert [(c.previous_status, c.status) for c in changes] == [
            ("active", "cancelled"),
            ("cancelled", "active"),
        ]
        with pytest.raises(PermissionDenied):
            await as_(owner, set_status("pending_deletion"))
        with pytest.raises(InvalidArgument):
            await as_(owner, set_status("closed"))

    async def test_a_cancelled_organization_takes_no_new_members(
        self, servicer: IdentityServicer, users: UserServiceServicer
    ) -> None:
        owner = await new_organization(servicer)
        _, token = await invite(users, owner)
        request = users_pb2.SetTenantStatusRequest(status="cancelled")
        await as_(owner, lambda: users.SetTenantStatus(request, CONTEXT))
        with pytest.raises(PreconditionFailed) as refused:
            await accept(users, token)
        assert refused.value.code == "tenant_not_active"
