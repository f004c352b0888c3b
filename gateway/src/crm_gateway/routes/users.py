"""The organization's people (users, roles, invitations) and the organization itself."""

from __future__ import annotations

from fastapi import Depends, Request, Response

from crm.identity.v1 import users_pb2
from crm_gateway.routes.responses import problems
from crm_gateway.routes.router import PrefixedRouter
from crm_gateway.schemas.users import (
    Invitation,
    InvitationAcceptance,
    InvitationAccepted,
    InvitationCreate,
    InvitationList,
    RoleChange,
    Tenant,
    TenantStatusChange,
    User,
    UserList,
)
from crm_gateway.security import Caller, limit_auth_endpoint
from crm_kit.timestamps import optional_datetime, to_datetime

router = PrefixedRouter(prefix="/v1", tags=["users"])


def to_user(message: users_pb2.User) -> User:
    return User(
        id=message.id,
        name=message.name,
        email=message.email,
        phone=message.phone or None,
        role=message.role,
        status=message.status,
        mfa_enabled=message.mfa_enabled,
        locked_until=optional_datetime(message, "locked_until"),
        created_at=to_datetime(message.created_at),
    )


def to_invitation(message: users_pb2.Invitation) -> Invitation:
    return Invitation(
        id=message.id,
        email=message.email,
        role=message.role,
        status=message.status,
        expires_at=to_datetime(message.expires_at),
        invited_by=message.invited_by or None,
        created_at=to_datetime(message.created_at),
    )


def to_tenant(message: users_pb2.Tenant) -> Tenant:
    return Tenant(
        id=message.id,
        name=message.name,
        status=message.status,
        mfa_required=message.mfa_required,
        status_changed_at=to_datetime(message.status_changed_at),
    )


@router.get(
    "/users",
    summary="List the organization's users",
    description="Every role may read the list; only owners and admins change it.",
    response_model=UserList,
    responses=problems(401),
)
async def list_users(request: Request, caller: Caller) -> UserList:
    found = await request.app.state.upstreams.users.ListUsers(users_pb2.ListUsersRequest())
    return UserList(data=[to_user(u) for u in found.users])


@router.get(
    "/users/me",
    summary="Get your own user",
    response_model=User,
    responses=problems(401),
)
async def get_me(request: Request, caller: Caller) -> User:
    return to_user(await request.app.state.upstreams.users.GetUser(users_pb2.GetUserRequest()))


@router.get(
    "/users/{user_id}",
    summary="Get a user",
    response_model=User,
    responses=problems(401, 404, 422),
)
async def get_user(user_id: str, request: Request, caller: Caller) -> User:
    message = await request.app.state.upstreams.users.GetUser(users_pb2.GetUserRequest(id=user_id))
    return to_user(message)


@router.patch(
    "/users/{user_id}/role",
    summary="Change a user's role",
    description="Owners and admins only; only an owner grants or removes `owner`. "
    "The last active owner cannot be demoted (`last_owner`). The user's current "
    "access tokens stop working, so their next refresh carries the new role.",
    response_model=User,
    responses=problems(401, 403, 404, 412, 422),
)
async def change_role(user_id: str, body: RoleChange, request: Request, caller: Caller) -> User:
    message = await request.app.state.upstreams.users.ChangeRole(
        users_pb2.ChangeRoleRequest(user_id=user_id, role=body.role)
    )
    return to_user(message)


@router.post(
    "/users/{user_id}/deactivate",
    summary="Deactivate a user: no login, every session and access token ended",
    description="Owners and admins only (an owner for an owner). The last active owner "
    "cannot be deactivated (`last_owner`).",
    response_model=User,
    responses=problems(401, 403, 404, 412, 422),
)
async def deactivate_user(user_id: str, request: Request, caller: Caller) -> User:
    message = await request.app.state.upstreams.users.DeactivateUser(
        users_pb2.UserIdRequest(user_id=user_id)
    )
    return to_user(message)


@router.post(
    "/users/{user_id}/reactivate",
    summary="Reactivate a deactivated user",
    response_model=User,
    responses=problems(401, 403, 404, 422),
)
async def reactivate_user(user_id: str, request: Request, caller: Caller) -> User:
    message = await request.app.state.upstreams.users.ReactivateUser(
        users_pb2.UserIdRequest(user_id=user_id)
    )
    return to_user(message)


@router.post(
    "/users/{user_id}/unlock",
    summary="Lift a user's lockout after failed logins",
    response_model=User,
    responses=problems(401, 403, 404, 422),
)
async def unlock_user(user_id: str, request: Request, caller: Caller) -> User:
    message = await request.app.state.upstreams.users.UnlockUser(
        users_pb2.UserIdRequest(user_id=user_id)
    )
    return to_user(message)


@router.post(
    "/invitations",
    status_code=201,
    summary="Invite someone to the organization by email",
    description="Owners and admins only; only an owner invites an owner. The emailed link "
    "works once and expires after 7 days. An email that is already a user, or already "
    "has a pending invitation, answers 409 (resend the pending one instead).",
    response_model=Invitation,
    responses=problems(401, 403, 409, 422),
)
async def invite_user(
    body: InvitationCreate, request: Request, response: Response, caller: Caller
) -> Invitation:
    message = await request.app.state.upstreams.users.InviteUser(
        users_pb2.InviteUserRequest(email=body.email, role=body.role, name=body.name)
    )
    invitation = to_invitation(message)
    response.headers["Location"] = f"/v1/invitations/{invitation.id}"
    return invitation


@router.get(
    "/invitations",
    summary="List the organization's invitations, newest first",
    response_model=InvitationList,
    responses=problems(401, 403),
)
async def list_invitations(request: Request, caller: Caller) -> InvitationList:
    found = await request.app.state.upstreams.users.ListInvitations(
        users_pb2.ListInvitationsRequest()
    )
    return InvitationList(data=[to_invitation(i) for i in found.invitations])


@router.post(
    "/invitations/accept",
    summary="Accept an invitation with the emailed token and create your account",
    description="Public: the token is the credential. Works once; then log in with "
    "`POST /v1/auth/login`.",
    response_model=InvitationAccepted,
    responses=problems(409, 412, 422),
    dependencies=[Depends(limit_auth_endpoint)],
)
async def accept_invitation(body: InvitationAcceptance, request: Request) -> InvitationAccepted:
    joined = await request.app.state.upstreams.users.AcceptInvitation(
        users_pb2.AcceptInvitationRequest(
            token=body.token,
            name=body.name,
            password=body.password,
            age_attested=body.age_attested,
        )
    )
    return InvitationAccepted(tenant_id=joined.tenant_id, user_id=joined.user_id)


@router.post(
    "/invitations/{invitation_id}/resend",
    summary="Send an invitation again with a new link and a fresh expiry",
    description="The previous link stops working.",
    response_model=Invitation,
    responses=problems(401, 403, 404, 409, 422),
)
async def resend_invitation(invitation_id: str, request: Request, caller: Caller) -> Invitation:
    message = await request.app.state.upstreams.users.ResendInvitation(
        users_pb2.InvitationIdRequest(invitation_id=invitation_id)
    )
    return to_invitation(message)


@router.delete(
    "/invitations/{invitation_id}",
    summary="Revoke an invitation: its link stops working",
    response_model=Invitation,
    responses=problems(401, 403, 404, 409, 422),
)
async def revoke_invitation(invitation_id: str, request: Request, caller: Caller) -> Invitation:
    message = await request.app.state.upstreams.users.RevokeInvitation(
        users_pb2.InvitationIdRequest(invitation_id=invitation_id)
    )
    return to_invitation(message)


@router.get(
    "/tenant",
    summary="Get your organization",
    response_model=Tenant,
    responses=problems(401),
)
async def get_tenant(request: Request, caller: Caller) -> Tenant:
    return to_tenant(
        await request.app.state.upstreams.users.GetTenant(users_pb2.GetTenantRequest())
    )


@router.patch(
    "/tenant",
    summary="Cancel or reactivate your organization (owner only)",
    response_model=Tenant,
    responses=problems(401, 403, 422),
)
async def set_tenant_status(body: TenantStatusChange, request: Request, caller: Caller) -> Tenant:
    message = await request.app.state.upstreams.users.SetTenantStatus(
        users_pb2.SetTenantStatusRequest(status=body.status)
    )
    return to_tenant(message)
