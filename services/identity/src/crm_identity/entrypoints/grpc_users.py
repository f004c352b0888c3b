"""UserService servicer: decode, call one use case, encode."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from grpc.aio import ServicerContext

from crm.identity.v1 import users_pb2, users_pb2_grpc
from crm_identity.dependencies import IdentityDependencies
from crm_identity.models import Invitation, Tenant, User
from crm_identity.users import invitations, tenant
from crm_identity.users import service as users
from crm_identity.users.roles import role_of
from crm_identity.users.schemas import InvitationAcceptance, InvitationCreate, InvitationPolicy
from crm_kit.context import current_context
from crm_kit.db.models import utcnow
from crm_kit.db.session import caller_unit_of_work
from crm_kit.timestamps import to_timestamp
from crm_kit.validation import resource_id

SERVICE_NAME = users_pb2.DESCRIPTOR.services_by_name["UserService"].full_name


def _user(user: User) -> users_pb2.User:
    message = users_pb2.User(
        id=str(user.id),
        name=user.name,
        email=user.email,
        phone=user.phone or "",
        role=role_of(user),
        status=user.status,
        mfa_enabled=user.mfa_enabled_at is not None,
        created_at=to_timestamp(user.created_at),
    )
    if user.locked_until is not None and user.locked_until > utcnow():
        message.locked_until.CopyFrom(to_timestamp(user.locked_until))
    return message


def _invitation(invitation: Invitation) -> users_pb2.Invitation:
    return users_pb2.Invitation(
        id=str(invitation.id),
        email=invitation.email,
        role=invitation.role,
        status=invitations.status_of(invitation, now=utcnow()),
        expires_at=to_timestamp(invitation.expires_at),
        invited_by=str(invitation.invited_by) if invitation.invited_by else "",
        created_at=to_timestamp(invitation.created_at),
    )


def _tenant(found: Tenant) -> users_pb2.Tenant:
    return users_pb2.Tenant(
        id=str(found.id),
        name=found.name,
        status=found.status,
        mfa_required=found.mfa_required,
        status_changed_at=to_timestamp(found.status_changed_at),
    )


@dataclass
class UserServiceServicer(users_pb2_grpc.UserServiceServicer):
    deps: IdentityDependencies
    invitation_policy: InvitationPolicy = field(init=False)

    def __post_init__(self) -> None:
        settings = self.deps.settings
        self.invitation_policy = InvitationPolicy(
            ttl=timedelta(days=settings.invitation_ttl_days), url=settings.invitation_url
        )

    async def ListUsers(  # noqa: N802 - gRPC method name
        self, request: users_pb2.ListUsersRequest, context: ServicerContext
    ) -> users_pb2.ListUsersResponse:
        async with caller_unit_of_work(self.deps.factory) as session:
            found = await users.list_users(session, actor_id=current_context().require_user())
        return users_pb2.ListUsersResponse(users=[_user(u) for u in found])

    async def GetUser(  # noqa: N802
        self, request: users_pb2.GetUserRequest, context: ServicerContext
    ) -> users_pb2.User:
        user_id = resource_id(request.id, resource="user") if request.id else None
        async with caller_unit_of_work(self.deps.factory) as session:
            user = await users.get_user(
                session, actor_id=current_context().require_user(), user_id=user_id
            )
        return _user(user)

    async def ChangeRole(  # noqa: N802
        self, request: users_pb2.ChangeRoleRequest, context: ServicerContext
    ) -> users_pb2.User:
        user_id = resource_id(request.user_id, resource="user")
        async with caller_unit_of_work(self.deps.factory) as session:
            user = await users.change_role(
                session,
                actor_id=current_context().require_user(),
                user_id=user_id,
                role=request.role,
            )
        return _user(user)

    async def DeactivateUser(  # noqa: N802
        self, request: users_pb2.UserIdRequest, context: ServicerContext
    ) -> users_pb2.User:
        user_id = resource_id(request.user_id, resource="user")
        async with caller_unit_of_work(self.deps.factory) as session:
            user = await users.deactivate(
                session, actor_id=current_context().require_user(), user_id=user_id
            )
        return _user(user)

    async def ReactivateUser(  # noqa: N802
        self, request: users_pb2.UserIdRequest, context: ServicerContext
    ) -> users_pb2.User:
        user_id = resource_id(request.user_id, resource="user")
        async with caller_unit_of_work(self.deps.factory) as session:
            user = await users.reactivate(
                session, actor_id=current_context().require_user(), user_id=user_id
            )
        return _user(user)

    async def UnlockUser(  # noqa: N802
        self, request: users_pb2.UserIdRequest, context: ServicerContext
    ) -> users_pb2.User:
        user_id = resource_id(request.user_id, resource="user")
        async with caller_unit_of_work(self.deps.factory) as session:
            user = await users.unlock(
                session, actor_id=current_context().require_user(), user_id=user_id
            )
        return _user(user)

    async def InviteUser(  # noqa: N802
        self, request: users_pb2.InviteUserRequest, context: ServicerContext
    ) -> users_pb2.Invitation:
        data = InvitationCreate(email=request.email, role=request.role, name=request.name)
        async with caller_unit_of_work(self.deps.factory) as session:
            invitation = await invitations.invite(
                session,
                actor_id=current_context().require_user(),
                data=data,
                policy=self.invitation_policy,
            )
        return _invitation(invitation)

    async def ListInvitations(  # noqa: N802
        self, request: users_pb2.ListInvitationsRequest, context: ServicerContext
    ) -> users_pb2.ListInvitationsResponse:
        async with caller_unit_of_work(self.deps.factory) as session:
            found = await invitations.list_invitations(
                session, actor_id=current_context().require_user()
            )
        return users_pb2.ListInvitationsResponse(invitations=[_invitation(i) for i in found])

    async def ResendInvitation(  # noqa: N802
        self, request: users_pb2.InvitationIdRequest, context: ServicerContext
    ) -> users_pb2.Invitation:
        invitation_id = resource_id(request.invitation_id, resource="invitation")
        async with caller_unit_of_work(self.deps.factory) as session:
            invitation = await invitations.resend(
                session,
                actor_id=current_context().require_user(),
                invitation_id=invitation_id,
                policy=self.invitation_policy,
            )
        return _invitation(invitation)

    async def RevokeInvitation(  # noqa: N802
        self, request: users_pb2.InvitationIdRequest, context: ServicerContext
    ) -> users_pb2.Invitation:
        invitation_id = resource_id(request.invitation_id, resource="invitation")
        async with caller_unit_of_work(self.deps.factory) as session:
            invitation = await invitations.revoke(
                session, actor_id=current_context().require_user(), invitation_id=invitation_id
            )
        return _invitation(invitation)

    async def AcceptInvitation(  # noqa: N802
        self, request: users_pb2.AcceptInvitationRequest, context: ServicerContext
    ) -> users_pb2.AcceptInvitationResponse:
        acceptance = InvitationAcceptance(
            token=request.token,
            password=request.password,
            age_attested=request.age_attested,
            name=request.name,
        )
        joined = await invitations.accept(
            self.deps.factory, acceptance=acceptance, hasher=self.deps.policies.hasher
        )
        return users_pb2.AcceptInvitationResponse(
            tenant_id=str(joined.tenant_id), user_id=str(joined.user_id)
        )

    async def GetTenant(  # noqa: N802
        self, request: users_pb2.GetTenantRequest, context: ServicerContext
    ) -> users_pb2.Tenant:
        async with caller_unit_of_work(self.deps.factory) as session:
            found = await tenant.get_tenant(session, actor_id=current_context().require_user())
        return _tenant(found)

    async def SetTenantStatus(  # noqa: N802
        self, request: users_pb2.SetTenantStatusRequest, context: ServicerContext
    ) -> users_pb2.Tenant:
        async with caller_unit_of_work(self.deps.factory) as session:
            found = await tenant.set_status(
                session, actor_id=current_context().require_user(), status=request.status
            )
        return _tenant(found)


# Methods callable without an access token (their request carries its own credential).
PUBLIC_METHODS: frozenset[str] = frozenset({f"/{SERVICE_NAME}/AcceptInvitation"})
