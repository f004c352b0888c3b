"""Only signed-in owners and admins manage webhooks, whoever forwarded the call."""

from __future__ import annotations

import uuid

import pytest

from crm_kit.context import RequestContext, bind_context
from crm_kit.errors import PermissionDenied
from crm_messaging.permissions import require_admin

pytestmark = pytest.mark.unit


def caller(*roles: str, kind: str = "user") -> RequestContext:
    return RequestContext(
        tenant_id=uuid.uuid4(), user_id=uuid.uuid4(), roles=roles, actor_kind=kind
    )


@pytest.mark.parametrize("roles", [("owner",), ("admin",), ("member", "admin")])
def test_owners_and_admins_pass(roles: tuple[str, ...]) -> None:
    with bind_context(caller(*roles)):
        require_admin("webhooks")


@pytest.mark.parametrize(
    "ctx",
    [
        caller("member"),
        caller("viewer"),
        caller(),
        caller("admin", kind="api_key"),
        caller("owner", kind="system"),
        RequestContext(actor_kind="anonymous"),
    ],
)
def test_everyone_else_is_refused(ctx: RequestContext) -> None:
    with bind_context(ctx), pytest.raises(PermissionDenied) as refused:
        require_admin("webhooks")
    assert refused.value.code == "role_not_allowed"
