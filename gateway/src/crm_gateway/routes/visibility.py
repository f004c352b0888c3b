"""Workspace settings: who sees which records (admins and owners only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from crm.crm_core.v1 import visibility_pb2
from crm_gateway.routes.responses import problems
from crm_gateway.routes.router import PrefixedRouter
from crm_gateway.schemas.settings import VisibilityRule, VisibilitySettings, VisibilityUpdate
from crm_gateway.security import authenticated
from crm_kit.context import RequestContext

router = PrefixedRouter(prefix="/v1/settings", tags=["settings"])

Caller = Annotated[RequestContext, Depends(authenticated)]

VISIBILITY_RULE = (
    "Per role (`member`, `viewer`) and object type, `all` records (the default) or only "
    "`own` ones (the caller is the record's owner). Admins and owners always see every "
    "record. A record the caller may not see answers 404, like a missing one. Only admins "
    "and owners may read or change these (403 `role_not_allowed`); API keys may not."
)


def _settings(message: visibility_pb2.VisibilitySettings) -> VisibilitySettings:
    return VisibilitySettings(
        rules=[
            VisibilityRule.model_validate(
                {"role": r.role, "object_type": r.object_type, "visibility": r.visibility}
            )
            for r in message.rules
        ]
    )


@router.get(
    "/visibility",
    summary="Record visibility per role and object type",
    description=VISIBILITY_RULE,
    response_model=VisibilitySettings,
    responses=problems(401, 403),
)
async def get_visibility(request: Request, caller: Caller) -> VisibilitySettings:
    message = await request.app.state.upstreams.visibility.GetVisibility(
        visibility_pb2.GetVisibilityRequest()
    )
    return _settings(message)


@router.put(
    "/visibility",
    summary="Set record visibility for some roles and object types",
    description=VISIBILITY_RULE + " The pairs sent are set; the others keep their setting.",
    response_model=VisibilitySettings,
    responses=problems(401, 403, 422),
)
async def put_visibility(
    body: VisibilityUpdate, request: Request, caller: Caller
) -> VisibilitySettings:
    rules = [visibility_pb2.VisibilityRule(**r.model_dump()) for r in body.rules]
    message = await request.app.state.upstreams.visibility.PutVisibility(
        visibility_pb2.PutVisibilityRequest(rules=rules)
    )
    return _settings(message)
