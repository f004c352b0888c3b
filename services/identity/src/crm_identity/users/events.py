"""The events this area publishes (through identity's outbox, in the caller's transaction)."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncSession

from crm.events.v1 import identity_pb2 as identity_events
from crm_identity import activity
from crm_identity.models import Invitation, Tenant, User
from crm_identity.users.roles import role_of


def user_changed(
    session: AsyncSession, *, event_type: str, user: User, previous_role: str = ""
) -> None:
    """identity.user.{joined,role_changed,deactivated,reactivated,unlocked}."""
    activity.record(
        session,
        tenant_id=user.tenant_id,
        event_type=event_type,
        payload=identity_events.UserChanged(
            user_id=str(user.id),
            email=user.email,
            role=role_of(user),
            previous_role=previous_role,
            client=activity.client_info(),
        ),
    )


def user_invited(session: AsyncSession, *, invitation: Invitation) -> None:
    """identity.user.invited: the audit record, without the link (no user exists yet)."""
    activity.record(
        session,
        tenant_id=invitation.tenant_id,
        event_type="user.invited",
        payload=identity_events.UserChanged(
            email=invitation.email, role=invitation.role, client=activity.client_info()
        ),
    )


def _invitation(invitation: Invitation, *, accept_url: str) -> identity_events.InvitationSent:
    message = identity_events.InvitationSent(
        invitation_id=str(invitation.id),
        email=invitation.email,
        role=invitation.role,
        accept_url=accept_url,
        invited_by=str(invitation.invited_by) if invitation.invited_by else "",
    )
    message.expires_at.FromDatetime(invitation.expires_at)
    return message


def invitation_sent(
    session: AsyncSession, *, invitation: Invitation, token: str, invitation_url: str
) -> None:
    """identity.invitation.sent: the email's content, the only place the token travels."""
    accept_url = f"{invitation_url}?{urlencode({'token': token})}"
    activity.record(
        session,
        tenant_id=invitation.tenant_id,
        event_type="invitation.sent",
        payload=_invitation(invitation, accept_url=accept_url),
    )


def invitation_revoked(session: AsyncSession, *, invitation: Invitation) -> None:
    """identity.invitation.revoked: the InvitationSent shape, without any link."""
    activity.record(
        session,
        tenant_id=invitation.tenant_id,
        event_type="invitation.revoked",
        payload=_invitation(invitation, accept_url=""),
    )


def tenant_status_changed(
    session: AsyncSession, *, tenant: Tenant, previous_status: str, changed_at: datetime
) -> None:
    changed = identity_events.TenantStatusChanged(
        tenant_id=str(tenant.id), status=tenant.status, previous_status=previous_status
    )
    changed.changed_at.FromDatetime(changed_at)
    activity.record(
        session, tenant_id=tenant.id, event_type="tenant.status_changed", payload=changed
    )
