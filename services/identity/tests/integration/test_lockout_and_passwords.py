"""Lockout, password rules, change and reset, and sessions, against the real database."""

from __future__ import annotations

import asyncio
import uuid
from urllib.parse import parse_qs, urlsplit

import asyncpg
import bcrypt
import pytest
from sqlalchemy import select

from crm.events.v1 import envelope_pb2
from crm.events.v1 import identity_pb2 as identity_events
from crm.identity.v1 import identity_pb2
from crm_identity.entrypoints.grpc_identity import IdentityServicer
from crm_identity.models import OutboxRecord, User
from crm_kit.context import RequestContext, bind_context
from crm_kit.db.session import unit_of_work
from crm_kit.errors import InvalidArgument, NotFound, Unauthenticated

from .factories import CONTEXT, PASSWORD, login, refresh, signup, unique_email

pytestmark = pytest.mark.integration

NEW_PASSWORD = "a brand new passphrase"


async def _user(servicer: IdentityServicer, tenant_id: str) -> User:
    async with unit_of_work(servicer.factory, tenant_id=uuid.UUID(tenant_id)) as session:
        user = await session.scalar(select(User))
    assert user is not None
    return user


async def _events(servicer: IdentityServicer, tenant_id: str, event_type: str) -> list[bytes]:
    async with unit_of_work(servicer.factory, tenant_id=None) as session:
        rows = await session.scalars(
            select(OutboxRecord.envelope).where(
                OutboxRecord.tenant_id == uuid.UUID(tenant_id),
                OutboxRecord.event_type == event_type,
            )
        )
        return list(rows)


def _as_caller(pair: identity_pb2.TokenPair, session_id: str | None = None) -> RequestContext:
    return RequestContext(
        tenant_id=uuid.UUID(pair.tenant_id),
        user_id=uuid.UUID(pair.user_id),
        roles=("owner",),
        session_id=session_id,
        client_ip="203.0.113.7",
        user_agent="pytest",
    )


async def _failed_logins(servicer: IdentityServicer, email: str, attempts: int) -> None:
    for _ in range(attempts):
        with pytest.raises(Unauthenticated):
            await login(servicer, email, "not the password")


class TestLockout:
    async def test_five_failures_lock_and_the_right_password_then_fails_too(
        self, servicer: IdentityServicer
    ) -> None:
        email = unique_email()
        created = await signup(servicer, email=email)
        await _failed_logins(servicer, email, 5)

        with pytest.raises(Unauthenticated) as locked:
            await login(servicer, email)
        assert locked.value.message == "invalid email or password"
        user = await _user(servicer, created.tenant_id)
        assert user.locked_until is not None
        assert user.lockouts == 1
        assert len(await _events(servicer, created.tenant_id, "identity.account.locked")) == 1

    async def test_a_success_resets_the_count(self, servicer: IdentityServicer) -> None:
        email = unique_email()
        created = await signup(servicer, email=email)
        await _failed_logins(servicer, email, 4)
        await login(servicer, email)
        await _failed_logins(servicer, email, 4)
        await login(servicer, email)
        user = await _user(servicer, created.tenant_id)
        assert (user.failed_logins, user.locked_until, user.lockouts) == (0, None, 0)

    async def test_twenty_parallel_wrong_passwords_count_exactly_twenty(
        self, servicer: IdentityServicer
    ) -> None:
        email = unique_email()
        created = await signup(servicer, email=email)
        results = await asyncio.gather(
            *(login(servicer, email, "not the password") for _ in range(20)),
            return_exceptions=True,
        )
        assert all(isinstance(r, Unauthenticated) for r in results)
        user = await _user(servicer, created.tenant_id)
        # Every fifth failure locks again, each lock twice as long as the last.
        assert (user.failed_logins, user.lockouts) == (20, 4)
        failed = await _events(servicer, created.tenant_id, "identity.login.failed")
        assert len(failed) == 20


class TestPasswordRules:
    @pytest.mark.parametrize(
        ("password", "code"),
        [
            ("password123", "password_too_common"),
            ("Qwerty123", "password_too_common"),
            ("x" * 73, "password_too_long"),
            ("\N{GRINNING FACE}" * 20, "password_too_long"),
            ("nul\x00inside-it", "password_invalid"),
            ("short", "password_too_short"),
        ],
    )
    async def test_refused_at_signup(
        self, servicer: IdentityServicer, password: str, code: str
    ) -> None:
        with pytest.raises(InvalidArgument) as refused:
            await signup(servicer, email=unique_email(), password=password)
        assert refused.value.code == code

    async def test_seventy_two_bytes_are_accepted_whole(self, servicer: IdentityServicer) -> None:
        email = unique_email()
        password = "é" * 36  # 72 bytes in UTF-8
        await signup(servicer, email=email, password=password)
        with pytest.raises(Unauthenticated):
            await login(servicer, email, password[:-1] + "e")
        assert (await login(servicer, email, password)).access_token

    async def test_an_older_cost_is_upgraded_at_the_next_login(
        self, servicer: IdentityServicer, database_urls: tuple[str, str]
    ) -> None:
        email = unique_email()
        created = await signup(servicer, email=email)
        weak = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
        owner = await asyncpg.connect(database_urls[1].replace("+asyncpg", ""))
        try:
            await owner.execute(
                "UPDATE users SET password_hash = $1 WHERE id = $2",
                weak,
                uuid.UUID(created.user_id),
            )
        finally:
            await owner.close()
        await login(servicer, email)
        assert (await _user(servicer, created.tenant_id)).password_hash.startswith("$2b$10$")


class TestChangePassword:
    async def test_needs_the_current_password_and_ends_other_sessions(
        self, servicer: IdentityServicer
    ) -> None:
        email = unique_email()
        created = await signup(servicer, email=email)
        other = await login(servicer, email)
        with bind_context(_as_caller(created.tokens)):
            sessions = await servicer.ListSessions(identity_pb2.ListSessionsRequest(), CONTEXT)
        assert len(sessions.sessions) == 2
        current = next(s.id for s in sessions.sessions if s.id != "")

        with bind_context(_as_caller(created.tokens, session_id=current)):
            with pytest.raises(Unauthenticated):
                await servicer.ChangePassword(
                    identity_pb2.ChangePasswordRequest(
                        current_password="wrong one", new_password=NEW_PASSWORD
                    ),
                    CONTEXT,
                )
            await servicer.ChangePassword(
                identity_pb2.ChangePasswordRequest(
                    current_password=PASSWORD, new_password=NEW_PASSWORD
                ),
                CONTEXT,
            )
            remaining = await servicer.ListSessions(identity_pb2.ListSessionsRequest(), CONTEXT)

        assert [s.id for s in remaining.sessions] == [current]
        with pytest.raises(Unauthenticated):
            await login(servicer, email)
        assert (await login(servicer, email, NEW_PASSWORD)).access_token
        refreshed_tokens = {created.tokens.refresh_token, other.refresh_token}
        outcomes = []
        for token in refreshed_tokens:
            try:
                await refresh(servicer, token)
                outcomes.append("ok")
            except Unauthenticated:
                outcomes.append("ended")
        assert sorted(outcomes) == ["ended", "ok"]


class TestPasswordReset:
    async def test_unknown_email_answers_the_same_and_writes_nothing(
        self, servicer: IdentityServicer
    ) -> None:
        response = await servicer.RequestPasswordReset(
            identity_pb2.RequestPasswordResetRequest(email=unique_email()), CONTEXT
        )
        assert response == identity_pb2.RequestPasswordResetResponse()

    async def test_emailed_link_resets_once_and_ends_every_session(
        self, servicer: IdentityServicer
    ) -> None:
        email = unique_email()
        created = await signup(servicer, email=email)
        await servicer.RequestPasswordReset(
            identity_pb2.RequestPasswordResetRequest(email=email.upper()), CONTEXT
        )
        await servicer.background.drain()
        [raw] = await _events(servicer, created.tenant_id, "identity.password_reset.requested")
        requested = identity_events.PasswordResetRequested()
        envelope_pb2.Envelope.FromString(raw).payload.Unpack(requested)
        token = parse_qs(urlsplit(requested.reset_url).query)["token"][0]

        reset = identity_pb2.ResetPasswordRequest(token=token, new_password=NEW_PASSWORD)
        await servicer.ResetPassword(reset, CONTEXT)
        with pytest.raises(InvalidArgument) as reused:
            await servicer.ResetPassword(reset, CONTEXT)
        assert reused.value.code == "invalid_reset_token"
        with pytest.raises(Unauthenticated):
            await refresh(servicer, created.tokens.refresh_token)
        assert (await login(servicer, email, NEW_PASSWORD)).tenant_id == created.tenant_id


class TestSessions:
    async def test_logout_ends_only_that_session(self, servicer: IdentityServicer) -> None:
        email = unique_email()
        created = await signup(servicer, email=email)
        other = await login(servicer, email)
        await servicer.Logout(
            identity_pb2.LogoutRequest(refresh_token=created.tokens.refresh_token), CONTEXT
        )
        with pytest.raises(Unauthenticated):
            await refresh(servicer, created.tokens.refresh_token)
        assert (await refresh(servicer, other.refresh_token)).access_token

    async def test_logout_everywhere_ends_all(self, servicer: IdentityServicer) -> None:
        email = unique_email()
        created = await signup(servicer, email=email)
        other = await login(servicer, email)
        with bind_context(_as_caller(created.tokens)):
            await servicer.LogoutEverywhere(identity_pb2.LogoutEverywhereRequest(), CONTEXT)
        for token in (created.tokens.refresh_token, other.refresh_token):
            with pytest.raises(Unauthenticated):
                await refresh(servicer, token)

    async def test_another_users_session_answers_not_found(
        self, servicer: IdentityServicer
    ) -> None:
        mine = await signup(servicer, email=unique_email())
        theirs = await signup(servicer, email=unique_email())
        with bind_context(_as_caller(theirs.tokens)):
            [their_session] = (
                await servicer.ListSessions(identity_pb2.ListSessionsRequest(), CONTEXT)
            ).sessions
        with bind_context(_as_caller(mine.tokens)), pytest.raises(NotFound):
            await servicer.EndSession(
                identity_pb2.EndSessionRequest(session_id=their_session.id), CONTEXT
            )
