"""The caller's own account: sessions and password."""

from __future__ import annotations

from fastapi import Depends, Request, Response

from crm.identity.v1 import identity_pb2
from crm_gateway.routes.responses import problems
from crm_gateway.routes.router import PrefixedRouter
from crm_gateway.schemas import PasswordChange, Session, SessionList
from crm_gateway.security import Caller, limit_auth_endpoint
from crm_kit.timestamps import to_datetime

router = PrefixedRouter(prefix="/v1/me", tags=["me"])


def to_session(message: identity_pb2.Session) -> Session:
    return Session(
        id=message.id,
        created_at=to_datetime(message.created_at),
        last_used_at=to_datetime(message.last_used_at),
        expires_at=to_datetime(message.expires_at),
        ip=message.ip,
        user_agent=message.user_agent,
        current=message.current,
    )


@router.get(
    "/sessions",
    summary="List your open sessions (device, IP, last used)",
    response_model=SessionList,
    responses=problems(401),
)
async def list_sessions(request: Request, caller: Caller) -> SessionList:
    found = await request.app.state.upstreams.identity.ListSessions(
        identity_pb2.ListSessionsRequest()
    )
    return SessionList(data=[to_session(s) for s in found.sessions])


@router.delete(
    "/sessions",
    status_code=204,
    summary="Log out everywhere: end all your sessions",
    responses=problems(401),
)
async def end_all_sessions(request: Request, caller: Caller) -> Response:
    await request.app.state.upstreams.identity.LogoutEverywhere(
        identity_pb2.LogoutEverywhereRequest()
    )
    return Response(status_code=204)


@router.delete(
    "/sessions/{session_id}",
    status_code=204,
    summary="End one of your sessions",
    responses=problems(401, 404, 422),
)
async def end_session(session_id: str, request: Request, caller: Caller) -> Response:
    await request.app.state.upstreams.identity.EndSession(
        identity_pb2.EndSessionRequest(session_id=session_id)
    )
    return Response(status_code=204)


@router.post(
    "/password",
    status_code=204,
    summary="Change your password; ends your other sessions",
    responses=problems(401, 422),
    dependencies=[Depends(limit_auth_endpoint)],
)
async def change_password(body: PasswordChange, request: Request, caller: Caller) -> Response:
    await request.app.state.upstreams.identity.ChangePassword(
        identity_pb2.ChangePasswordRequest(
            current_password=body.current_password, new_password=body.new_password
        )
    )
    return Response(status_code=204)
