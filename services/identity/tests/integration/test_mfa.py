"""TOTP second factor, recovery codes, login challenges and the tenant requirement,
through the servicers against the real database."""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
import uuid

import pyotp
import pytest
from sqlalchemy import func, select, text

from crm.identity.v1 import identity_pb2, mfa_pb2
from crm_identity.dependencies import IdentityDependencies
from crm_identity.entrypoints.grpc_identity import IdentityServicer
from crm_identity.entrypoints.grpc_mfa import PUBLIC_METHODS, MfaServiceServicer
from crm_identity.models import MfaChallenge, OutboxRecord, RecoveryCode, User
from crm_identity.settings import IdentitySettings
from crm_kit.auth.tokens import AccessTokenVerifier, JwksCache
from crm_kit.context import RequestContext, bind_context
from crm_kit.db.models import new_id
from crm_kit.db.session import unit_of_work
from crm_kit.errors import (
    Conflict,
    InvalidArgument,
    PermissionDenied,
    PreconditionFailed,
    ServiceError,
    Unauthenticated,
)

from .factories import CONTEXT, PASSWORD, login, refresh, signup, unique_email

pytestmark = pytest.mark.integration

STEP = 30
RECOVERY_CODE = re.compile(r"[A-Z2-7]{4}(-[A-Z2-7]{4}){3}")


@pytest.fixture(scope="session")
def mfa(servicer: IdentityServicer) -> MfaServiceServicer:
    return MfaServiceServicer(
        IdentityDependencies(
            factory=servicer.factory,
            settings=IdentitySettings(bcrypt_rounds=10),
            policies=servicer.policies,
            reset=servicer.reset,
        )
    )


def _caller(tenant_id: str, user_id: str, *roles: str) -> RequestContext:
    return RequestContext(
        tenant_id=uuid.UUID(tenant_id),
        user_id=uuid.UUID(user_id),
        roles=roles or ("owner",),
        client_ip="203.0.113.7",
        user_agent="pytest",
    )


async def _previous_step_code(secret: str) -> str:
    """The code of the step before this one (still accepted), with time left for it to
    stay accepted: codes must be used in increasing steps, so a test spends this one
    first, then `now()`, then `_next_step_code`."""
    remaining = STEP - time.time() % STEP
    if remaining < 3:
        await asyncio.sleep(remaining + 0.1)
    return pyotp.TOTP(secret).at(time.time() - STEP)


def _next_step_code(secret: str) -> str:
    return pyotp.TOTP(secret).at(time.time() + STEP)


def _wrong_code(secret: str) -> str:
    totp = pyotp.TOTP(secret)
    now = time.time()
    accepted = {totp.at(now + offset * STEP) for offset in (-2, -1, 0, 1, 2)}
    return next(c for c in (f"{n:06d}" for n in range(1000)) if c not in accepted)


async def _enroll(mfa: MfaServiceServicer, caller: RequestContext) -> tuple[str, list[str]]:
    """Enroll with the previous step's code; the secret and the recovery codes."""
    with bind_context(caller):
        started = await mfa.StartTotpEnrollment(mfa_pb2.StartTotpEnrollmentRequest(), CONTEXT)
        code = await _previous_step_code(started.secret)
        confirmed = await mfa.ConfirmTotpEnrollment(
            mfa_pb2.ConfirmTotpEnrollmentRequest(code=code), CONTEXT
        )
    return started.secret, list(confirmed.codes)


async def _signed_up_with_mfa(
    servicer: IdentityServicer, mfa: MfaServiceServicer
) -> tuple[str, identity_pb2.SignupResponse, str, list[str]]:
    email = unique_email()
    created = await signup(servicer, email=email)
    secret, codes = await _enroll(mfa, _caller(created.tenant_id, created.user_id))
    return email, created, secret, codes


async def _complete(mfa: MfaServiceServicer, challenge: str, code: str) -> mfa_pb2.MfaLoginResult:
    return await mfa.CompleteMfaLogin(
        mfa_pb2.CompleteMfaLoginRequest(challenge=challenge, code=code), CONTEXT
    )


async def _start_with(mfa: MfaServiceServicer, challenge: str) -> mfa_pb2.TotpEnrollment:
    return await mfa.StartTotpEnrollment(
        mfa_pb2.StartTotpEnrollmentRequest(challenge=challenge), CONTEXT
    )


async def _confirm_with(
    mfa: MfaServiceServicer, challenge: str, code: str
) -> mfa_pb2.RecoveryCodes:
    return await mfa.ConfirmTotpEnrollment(
        mfa_pb2.ConfirmTotpEnrollmentRequest(challenge=challenge, code=code), CONTEXT
    )


async def _challenge_row(
    servicer: IdentityServicer, tenant_id: str, challenge: str
) -> MfaChallenge:
    async with unit_of_work(servicer.factory, tenant_id=uuid.UUID(tenant_id)) as s:
        row = await s.scalar(
            select(MfaChallenge).where(
                MfaChallenge.token_hash == hashlib.sha256(challenge.encode()).hexdigest()
            )
        )
    assert row is not None
    return row


async def _user(servicer: IdentityServicer, tenant_id: str, user_id: str) -> User:
    async with unit_of_work(servicer.factory, tenant_id=uuid.UUID(tenant_id)) as session:
        user = await session.get(User, uuid.UUID(user_id))
    assert user is not None
    return user


async def _event_count(servicer: IdentityServicer, tenant_id: str, event_type: str) -> int:
    async with unit_of_work(servicer.factory, tenant_id=None) as session:
        count = await session.scalar(
            select(func.count()).where(
                OutboxRecord.tenant_id == uuid.UUID(tenant_id),
                OutboxRecord.event_type == f"identity.{event_type}",
            )
        )
    return int(count or 0)


def _code_of(error: pytest.ExceptionInfo[ServiceError]) -> str:
    return error.value.code


class TestEnrollment:
    async def test_confirm_enables_totp_and_answers_ten_recovery_codes(
        self, servicer: IdentityServicer, mfa: MfaServiceServicer
    ) -> None:
        email = unique_email()
        created = await signup(servicer, email=email)
        with bind_context(_caller(created.tenant_id, created.user_id)):
            started = await mfa.StartTotpEnrollment(mfa_pb2.StartTotpEnrollmentRequest(), CONTEXT)
            assert started.otpauth_uri.startswith("otpauth://totp/")
            assert "issuer=CRM" in started.otpauth_uri
            assert pyotp.parse_uri(started.otpauth_uri).secret == started.secret
            with pytest.raises(InvalidArgument) as wrong:
                await mfa.ConfirmTotpEnrollment(
                    mfa_pb2.ConfirmTotpEnrollmentRequest(code=_wrong_code(started.secret)),
                    CONTEXT,
                )
            assert _code_of(wrong) == "invalid_mfa_code"
            confirmed = await mfa.ConfirmTotpEnrollment(
                mfa_pb2.ConfirmTotpEnrollmentRequest(code=pyotp.TOTP(started.secret).now()),
                CONTEXT,
            )

        codes = list(confirmed.codes)
        assert len(codes) == len(set(codes)) == 10
        assert all(RECOVERY_CODE.fullmatch(c) for c in codes)
        user = await _user(servicer, created.tenant_id, created.user_id)
        assert user.totp_secret == started.secret
        assert user.totp_pending_secret is None
        assert user.mfa_enabled_at is not None
        assert await _event_count(servicer, created.tenant_id, "mfa.enabled") == 1

    async def test_recovery_codes_are_stored_only_as_sha256(
        self, servicer: IdentityServicer, mfa: MfaServiceServicer
    ) -> None:
        _, created, _, codes = await _signed_up_with_mfa(servicer, mfa)

        async with unit_of_work(servicer.factory, tenant_id=uuid.UUID(created.tenant_id)) as s:
            hashes = set(await s.scalars(select(RecoveryCode.code_hash)))
            rows = list(await s.scalars(text("SELECT r::text FROM recovery_codes r")))
        plain = {c.replace("-", "") for c in codes}
        assert hashes == {hashlib.sha256(c.encode()).hexdigest() for c in plain}
        assert len(rows) == 10
        for row in rows:
            assert not any(c in row.upper() for c in plain | set(codes))

    async def test_a_second_enrollment_is_refused_while_one_is_enabled(
        self, servicer: IdentityServicer, mfa: MfaServiceServicer
    ) -> None:
        _, created, _, _ = await _signed_up_with_mfa(servicer, mfa)
        with bind_context(_caller(created.tenant_id, created.user_id)), pytest.raises(Conflict):
            await mfa.StartTotpEnrollment(mfa_pb2.StartTotpEnrollmentRequest(), CONTEXT)


class TestLogin:
    async def test_password_alone_answers_a_challenge_that_a_totp_code_completes(
        self, servicer: IdentityServicer, mfa: MfaServiceServicer
    ) -> None:
        email, created, secret, _ = await _signed_up_with_mfa(servicer, mfa)

        pending = await login(servicer, email)
        assert pending.mfa_challenge
        assert not pending.mfa_enrollment_required
        assert (pending.access_token, pending.refresh_token, pending.tenant_id) == ("", "", "")

        tokens = await _complete(mfa, pending.mfa_challenge, pyotp.TOTP(secret).now())
        assert tokens.access_token
        assert tokens.refresh_token
        assert (tokens.tenant_id, tokens.user_id) == (created.tenant_id, created.user_id)
        assert await _event_count(servicer, created.tenant_id, "login.succeeded") == 1
        with pytest.raises(Unauthenticated) as reused:
            await _complete(mfa, pending.mfa_challenge, _next_step_code(secret))
        assert _code_of(reused) == "invalid_mfa_challenge"

    async def test_a_code_works_once(
        self, servicer: IdentityServicer, mfa: MfaServiceServicer
    ) -> None:
        email, _, secret, _ = await _signed_up_with_mfa(servicer, mfa)
        code = pyotp.TOTP(secret).now()
        await _complete(mfa, (await login(servicer, email)).mfa_challenge, code)

        with pytest.raises(Unauthenticated) as replayed:
            await _complete(mfa, (await login(servicer, email)).mfa_challenge, code)
        assert _code_of(replayed) == "invalid_mfa_code"

    async def test_wrong_codes_count_and_five_end_the_challenge_and_lock_the_account(
        self, servicer: IdentityServicer, mfa: MfaServiceServicer
    ) -> None:
        email, created, secret, _ = await _signed_up_with_mfa(servicer, mfa)
        challenge = (await login(servicer, email)).mfa_challenge

        for _ in range(5):
            with pytest.raises(Unauthenticated) as wrong:
                await _complete(mfa, challenge, _wrong_code(secret))
            assert _code_of(wrong) == "invalid_mfa_code"

        async with unit_of_work(servicer.factory, tenant_id=uuid.UUID(created.tenant_id)) as s:
            row = await s.scalar(
                select(MfaChallenge).where(
                    MfaChallenge.token_hash == hashlib.sha256(challenge.encode()).hexdigest()
                )
            )
        assert row is not None
        assert (row.failed_attempts, row.used_at) == (5, None)
        with pytest.raises(Unauthenticated) as exhausted:
            await _complete(mfa, challenge, pyotp.TOTP(secret).now())
        assert _code_of(exhausted) == "invalid_mfa_challenge"
        user = await _user(servicer, created.tenant_id, created.user_id)
        assert user.failed_logins == 5
        assert user.locked_until is not None
        with pytest.raises(Unauthenticated):
            await login(servicer, email)

    async def test_a_recovery_code_completes_a_login_once(
        self, servicer: IdentityServicer, mfa: MfaServiceServicer
    ) -> None:
        email, created, _, codes = await _signed_up_with_mfa(servicer, mfa)

        typed = codes[0].lower().replace("-", " ")
        tokens = await _complete(mfa, (await login(servicer, email)).mfa_challenge, typed)
        assert tokens.access_token
        assert await _event_count(servicer, created.tenant_id, "mfa.recovery_code_used") == 1

        with pytest.raises(Unauthenticated):
            await _complete(mfa, (await login(servicer, email)).mfa_challenge, codes[0])

    async def test_an_unknown_challenge_is_refused(self, mfa: MfaServiceServicer) -> None:
        with pytest.raises(Unauthenticated) as unknown:
            await _complete(mfa, "not-a-challenge", "123456")
        assert _code_of(unknown) == "invalid_mfa_challenge"


class TestDisableAndRegenerate:
    async def test_disabling_needs_the_password_and_a_code(
        self, servicer: IdentityServicer, mfa: MfaServiceServicer
    ) -> None:
        email, created, secret, _ = await _signed_up_with_mfa(servicer, mfa)
        code = pyotp.TOTP(secret).now()

        with bind_context(_caller(created.tenant_id, created.user_id)):
            with pytest.raises(Unauthenticated) as bad_password:
                await mfa.DisableTotp(
                    mfa_pb2.DisableTotpRequest(password="not the password", code=code), CONTEXT
                )
            with pytest.raises(Unauthenticated) as bad_code:
                await mfa.DisableTotp(
                    mfa_pb2.DisableTotpRequest(password=PASSWORD, code=_wrong_code(secret)),
                    CONTEXT,
                )
            await mfa.DisableTotp(mfa_pb2.DisableTotpRequest(password=PASSWORD, code=code), CONTEXT)

        assert _code_of(bad_password) == "invalid_password"
        assert _code_of(bad_code) == "invalid_mfa_code"
        user = await _user(servicer, created.tenant_id, created.user_id)
        assert (user.totp_secret, user.mfa_enabled_at) == (None, None)
        async with unit_of_work(servicer.factory, tenant_id=uuid.UUID(created.tenant_id)) as s:
            assert await s.scalar(select(func.count()).select_from(RecoveryCode)) == 0
        assert await _event_count(servicer, created.tenant_id, "mfa.disabled") == 1
        assert (await login(servicer, email)).access_token

    async def test_regenerating_replaces_every_recovery_code(
        self, servicer: IdentityServicer, mfa: MfaServiceServicer
    ) -> None:
        email, created, secret, old = await _signed_up_with_mfa(servicer, mfa)

        with bind_context(_caller(created.tenant_id, created.user_id)):
            new = await mfa.RegenerateRecoveryCodes(
                mfa_pb2.RegenerateRecoveryCodesRequest(code=pyotp.TOTP(secret).now()), CONTEXT
            )

        assert len(new.codes) == 10
        assert not set(new.codes) & set(old)
        with pytest.raises(Unauthenticated):
            await _complete(mfa, (await login(servicer, email)).mfa_challenge, old[0])
        assert await _complete(mfa, (await login(servicer, email)).mfa_challenge, new.codes[0])
        assert (
            await _event_count(servicer, created.tenant_id, "mfa.recovery_codes_regenerated") == 1
        )


async def _add_member(servicer: IdentityServicer, tenant_id: str) -> tuple[str, str]:
    """A second user of the tenant, written directly (invitations are another area)."""
    email = unique_email()
    member_id = new_id()
    async with unit_of_work(servicer.factory, tenant_id=uuid.UUID(tenant_id)) as session:
        session.add(
            User(
                id=member_id,
                tenant_id=uuid.UUID(tenant_id),
                name="Grace",
                email=email,
                email_normalized=email.lower(),
                password_hash=await servicer.policies.hasher.hash(PASSWORD),
                roles=["member"],
                status="active",
            )
        )
    return email, str(member_id)


class TestTenantRequirement:
    async def test_only_an_owner_with_a_second_factor_may_require_one(
        self, servicer: IdentityServicer, mfa: MfaServiceServicer
    ) -> None:
        created = await signup(servicer, email=unique_email())
        require = mfa_pb2.SetTenantMfaRequirementRequest(required=True)

        member = _caller(created.tenant_id, created.user_id, "member")
        with bind_context(member), pytest.raises(PermissionDenied):
            await mfa.SetTenantMfaRequirement(require, CONTEXT)
        owner = _caller(created.tenant_id, created.user_id)
        with bind_context(owner), pytest.raises(PreconditionFailed) as not_enrolled:
            await mfa.SetTenantMfaRequirement(require, CONTEXT)
        assert _code_of(not_enrolled) == "mfa_not_enabled"

    async def test_the_requirement_forces_a_challenge_and_blocks_disabling(
        self, servicer: IdentityServicer, mfa: MfaServiceServicer
    ) -> None:
        _, created, secret, _ = await _signed_up_with_mfa(servicer, mfa)
        owner = _caller(created.tenant_id, created.user_id)
        with bind_context(owner):
            await mfa.SetTenantMfaRequirement(
                mfa_pb2.SetTenantMfaRequirementRequest(required=True), CONTEXT
            )
        member_email, member_id = await _add_member(servicer, created.tenant_id)

        pending = await login(servicer, member_email)
        assert pending.mfa_challenge
        assert pending.mfa_enrollment_required
        assert not pending.access_token
        with pytest.raises(PreconditionFailed) as must_enroll:
            await _complete(mfa, pending.mfa_challenge, "")
        assert _code_of(must_enroll) == "mfa_enrollment_required"
        with bind_context(owner), pytest.raises(PreconditionFailed) as required:
            await mfa.DisableTotp(
                mfa_pb2.DisableTotpRequest(password=PASSWORD, code=pyotp.TOTP(secret).now()),
                CONTEXT,
            )
        assert _code_of(required) == "mfa_required_by_tenant"
        assert (
            await _event_count(servicer, created.tenant_id, "mfa.tenant_requirement_changed") == 1
        )

        # Enrolled from a session the member already had, the next login completes.
        member_secret, _ = await _enroll(mfa, _caller(created.tenant_id, member_id, "member"))
        again = await login(servicer, member_email)
        assert again.mfa_challenge
        assert not again.mfa_enrollment_required
        tokens = await _complete(mfa, again.mfa_challenge, pyotp.TOTP(member_secret).now())
        assert tokens.user_id == member_id


async def _mfa_tenant_with_unenrolled_member(
    servicer: IdentityServicer, mfa: MfaServiceServicer
) -> tuple[str, str, str]:
    """A tenant that requires MFA (its owner enrolled) and a member without a second
    factor: (tenant id, member email, member id)."""
    _, created, _, _ = await _signed_up_with_mfa(servicer, mfa)
    with bind_context(_caller(created.tenant_id, created.user_id)):
        await mfa.SetTenantMfaRequirement(
            mfa_pb2.SetTenantMfaRequirementRequest(required=True), CONTEXT
        )
    member_email, member_id = await _add_member(servicer, created.tenant_id)
    return created.tenant_id, member_email, member_id


class TestEnrollmentAtLogin:
    async def test_the_enrollment_challenge_enrolls_and_completes_the_login(
        self, servicer: IdentityServicer, mfa: MfaServiceServicer
    ) -> None:
        tenant_id, email, member_id = await _mfa_tenant_with_unenrolled_member(servicer, mfa)
        pending = await login(servicer, email)
        assert pending.mfa_enrollment_required

        started = await _start_with(mfa, pending.mfa_challenge)
        assert pyotp.parse_uri(started.otpauth_uri).secret == started.secret
        with pytest.raises(Unauthenticated) as wrong:
            await _confirm_with(mfa, pending.mfa_challenge, _wrong_code(started.secret))
        assert _code_of(wrong) == "invalid_mfa_code"
        assert (
            await _challenge_row(servicer, tenant_id, pending.mfa_challenge)
        ).failed_attempts == 1
        assert (await _user(servicer, tenant_id, member_id)).failed_logins == 1

        confirmed = await _confirm_with(
            mfa, pending.mfa_challenge, pyotp.TOTP(started.secret).now()
        )

        assert len(confirmed.codes) == 10
        assert all(RECOVERY_CODE.fullmatch(c) for c in confirmed.codes)
        assert confirmed.HasField("login")
        assert (confirmed.login.tenant_id, confirmed.login.user_id) == (tenant_id, member_id)
        jwks = (await servicer.GetJwks(identity_pb2.GetJwksRequest(), CONTEXT)).json

        async def fetch() -> str:
            return jwks

        verifier = AccessTokenVerifier(JwksCache(fetch), issuer="crm-identity", audience="crm")
        principal = await verifier.verify(confirmed.login.access_token)
        assert (str(principal.tenant_id), str(principal.user_id)) == (tenant_id, member_id)
        assert (await refresh(servicer, confirmed.login.refresh_token)).access_token
        user = await _user(servicer, tenant_id, member_id)
        assert user.totp_secret == started.secret
        assert (user.failed_logins, user.totp_pending_secret) == (0, None)
        assert await _event_count(servicer, tenant_id, "mfa.enabled") == 2
        assert await _event_count(servicer, tenant_id, "login.succeeded") == 1

    async def test_the_enrollment_challenge_works_once(
        self, servicer: IdentityServicer, mfa: MfaServiceServicer
    ) -> None:
        _, email, _ = await _mfa_tenant_with_unenrolled_member(servicer, mfa)
        challenge = (await login(servicer, email)).mfa_challenge
        secret = (await _start_with(mfa, challenge)).secret
        await _confirm_with(mfa, challenge, await _previous_step_code(secret))

        with pytest.raises(Unauthenticated) as restarted:
            await _start_with(mfa, challenge)
        with pytest.raises(Unauthenticated) as reconfirmed:
            await _confirm_with(mfa, challenge, pyotp.TOTP(secret).now())
        with pytest.raises(Unauthenticated) as completed:
            await _complete(mfa, challenge, _next_step_code(secret))
        assert {_code_of(restarted), _code_of(reconfirmed), _code_of(completed)} == {
            "invalid_mfa_challenge"
        }

    async def test_it_cannot_enroll_a_user_who_already_has_a_second_factor(
        self, servicer: IdentityServicer, mfa: MfaServiceServicer
    ) -> None:
        tenant_id, email, member_id = await _mfa_tenant_with_unenrolled_member(servicer, mfa)
        challenge = (await login(servicer, email)).mfa_challenge
        secret, _ = await _enroll(mfa, _caller(tenant_id, member_id, "member"))

        with pytest.raises(Unauthenticated) as started:
            await _start_with(mfa, challenge)
        with pytest.raises(Unauthenticated) as confirmed:
            await _confirm_with(mfa, challenge, pyotp.TOTP(secret).now())
        assert {_code_of(started), _code_of(confirmed)} == {"invalid_mfa_challenge"}
        assert (await _user(servicer, tenant_id, member_id)).totp_secret == secret

    async def test_an_ordinary_login_challenge_cannot_enroll(
        self, servicer: IdentityServicer, mfa: MfaServiceServicer
    ) -> None:
        email, created, secret, _ = await _signed_up_with_mfa(servicer, mfa)
        challenge = (await login(servicer, email)).mfa_challenge
        with pytest.raises(Unauthenticated) as enrolled:
            await _start_with(mfa, challenge)
        assert _code_of(enrolled) == "invalid_mfa_challenge"

        # Not even once the user has no second factor: it was not issued for enrolling.
        with bind_context(_caller(created.tenant_id, created.user_id)):
            await mfa.DisableTotp(
                mfa_pb2.DisableTotpRequest(password=PASSWORD, code=pyotp.TOTP(secret).now()),
                CONTEXT,
            )
        with pytest.raises(Unauthenticated) as unenrolled:
            await _start_with(mfa, challenge)
        with pytest.raises(Unauthenticated) as confirmed:
            await _confirm_with(mfa, challenge, "123456")
        assert {_code_of(unenrolled), _code_of(confirmed)} == {"invalid_mfa_challenge"}
        assert (await _user(servicer, created.tenant_id, created.user_id)).totp_secret is None

    async def test_without_a_session_or_a_challenge_enrollment_is_refused(
        self, mfa: MfaServiceServicer
    ) -> None:
        with pytest.raises(Unauthenticated):
            await mfa.StartTotpEnrollment(mfa_pb2.StartTotpEnrollmentRequest(), CONTEXT)
        with pytest.raises(Unauthenticated):
            await mfa.ConfirmTotpEnrollment(
                mfa_pb2.ConfirmTotpEnrollmentRequest(code="123456"), CONTEXT
            )
        with pytest.raises(Unauthenticated) as forged:
            await _start_with(mfa, "enroll.not-a-challenge")
        assert _code_of(forged) == "invalid_mfa_challenge"

    def test_enrollment_and_completing_a_login_are_the_public_methods(self) -> None:
        assert sorted(PUBLIC_METHODS) == [
            "/crm.identity.v1.MfaService/CompleteMfaLogin",
            "/crm.identity.v1.MfaService/ConfirmTotpEnrollment",
            "/crm.identity.v1.MfaService/StartTotpEnrollment",
        ]
