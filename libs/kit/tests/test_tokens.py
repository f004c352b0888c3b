"""Access tokens are verified locally: ES256 only, the kid picks the key, claims are checked."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from crm.events.v1 import identity_pb2 as identity_events
from crm_kit.auth.revocations import RevocationList
from crm_kit.auth.tokens import AccessTokenVerifier, JwksCache, Principal, VerifiedTokens
from crm_kit.errors import Unauthenticated, Unavailable

pytestmark = pytest.mark.unit

ISSUER = "crm-identity"
AUDIENCE = "crm"
KID = "key-1"


# --- factories -------------------------------------------------------------------------


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def public_jwk(key: ec.EllipticCurvePrivateKey, kid: str) -> dict[str, Any]:
    jwk: dict[str, Any] = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {**jwk, "kid": kid, "alg": "ES256", "use": "sig"}


def jwks_document(*keys: tuple[ec.EllipticCurvePrivateKey, str]) -> str:
    return json.dumps({"keys": [public_jwk(key, kid) for key, kid in keys]})


class CountingJwks:
    """A JWKS source whose document can change, counting how often it is fetched."""

    def __init__(self, document: str) -> None:
        self.document = document
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        return self.document


class FailingJwks:
    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        raise ConnectionError("identity is down")


def access_claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": str(uuid.uuid4()),
        "tenant": str(uuid.uuid4()),
        "roles": ["owner"],
        "iat": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def sign(
    key: ec.EllipticCurvePrivateKey,
    claims: dict[str, Any],
    *,
    kid: str = KID,
    typ: str | None = "at+jwt",
) -> str:
    return jwt.encode(claims, key, algorithm="ES256", headers={"kid": kid, "typ": typ})


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_token(header: dict[str, Any], claims: dict[str, Any]) -> str:
    """A JWT built by hand, so nothing in a library refuses to produce it."""
    return f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}."


def hs256_token(secret: bytes, claims: dict[str, Any], *, kid: str = KID) -> str:
    header = {"alg": "HS256", "typ": "at+jwt", "kid": kid}
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def verifier_for(fetch: Any, *, min_refresh_seconds: float = 10.0) -> AccessTokenVerifier:
    return AccessTokenVerifier(
        JwksCache(fetch, min_refresh_seconds=min_refresh_seconds),
        issuer=ISSUER,
        audience=AUDIENCE,
    )


# --- fixtures --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def signing_key() -> ec.EllipticCurvePrivateKey:
    return new_key()


@pytest.fixture
def jwks(signing_key: ec.EllipticCurvePrivateKey) -> CountingJwks:
    return CountingJwks(jwks_document((signing_key, KID)))


@pytest.fixture
def verifier(jwks: CountingJwks) -> AccessTokenVerifier:
    return verifier_for(jwks)


# --- tests -----------------------------------------------------------------------------


class TestVerify:
    async def test_valid_token_gives_the_principal(
        self, verifier: AccessTokenVerifier, signing_key: ec.EllipticCurvePrivateKey
    ) -> None:
        claims = access_claims(roles=["owner", "sales"])

        principal = await verifier.verify(sign(signing_key, claims))

        assert principal == Principal(
            tenant_id=uuid.UUID(claims["tenant"]),
            user_id=uuid.UUID(claims["sub"]),
            roles=("owner", "sales"),
            token_id=claims["jti"],
            expires_at=claims["exp"],
            issued_at=claims["iat"],
        )

    async def test_plan_claim_becomes_the_principals_plan(
        self, verifier: AccessTokenVerifier, signing_key: ec.EllipticCurvePrivateKey
    ) -> None:
        principal = await verifier.verify(sign(signing_key, access_claims(plan="pro")))

        assert principal.plan == "pro"

    async def test_token_without_a_plan_claim_is_on_the_default_plan(
        self, verifier: AccessTokenVerifier, signing_key: ec.EllipticCurvePrivateKey
    ) -> None:
        principal = await verifier.verify(sign(signing_key, access_claims()))

        assert principal.plan == ""

    async def test_rejects_token_signed_by_another_key_with_the_same_kid(
        self, verifier: AccessTokenVerifier
    ) -> None:
        forged = sign(new_key(), access_claims())

        with pytest.raises(Unauthenticated) as excinfo:
            await verifier.verify(forged)

        assert excinfo.value.code == "invalid_token"

    async def test_rejects_expired_token_as_token_expired(
        self, verifier: AccessTokenVerifier, signing_key: ec.EllipticCurvePrivateKey
    ) -> None:
        now = int(time.time())
        expired = sign(signing_key, access_claims(iat=now - 600, exp=now - 60))

        with pytest.raises(Unauthenticated) as excinfo:
            await verifier.verify(expired)

        assert excinfo.value.code == "token_expired"

    async def test_rejects_alg_none(self, verifier: AccessTokenVerifier) -> None:
        token = unsigned_token({"alg": "none", "typ": "at+jwt", "kid": KID}, access_claims())

        with pytest.raises(Unauthenticated) as excinfo:
            await verifier.verify(token)

        assert excinfo.value.code == "invalid_token"

    @pytest.mark.parametrize("secret_format", ["pem", "jwk"])
    async def test_rejects_hs256_signed_with_the_public_key_as_secret(
        self,
        verifier: AccessTokenVerifier,
        signing_key: ec.EllipticCurvePrivateKey,
        secret_format: str,
    ) -> None:
        if secret_format == "pem":
            secret = signing_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        else:
            secret = json.dumps(public_jwk(signing_key, KID)).encode()
        token = hs256_token(secret, access_claims())

        with pytest.raises(Unauthenticated) as excinfo:
            await verifier.verify(token)

        assert excinfo.value.code == "invalid_token"

    @pytest.mark.parametrize(
        "overrides",
        [
            pytest.param({"aud": "another-api"}, id="wrong-audience"),
            pytest.param({"iss": "someone-else"}, id="wrong-issuer"),
            pytest.param({"jti": None}, id="missing-jti"),
            pytest.param({"sub": None}, id="missing-sub"),
            pytest.param({"tenant": "not-a-uuid"}, id="non-uuid-tenant"),
            pytest.param({"tenant": None}, id="missing-tenant"),
            pytest.param({"sub": "not-a-uuid"}, id="non-uuid-subject"),
            pytest.param({"roles": "owner"}, id="roles-not-a-list"),
            pytest.param({"plan": ["pro"]}, id="plan-not-a-string"),
        ],
    )
    async def test_rejects_bad_claims(
        self,
        verifier: AccessTokenVerifier,
        signing_key: ec.EllipticCurvePrivateKey,
        overrides: dict[str, Any],
    ) -> None:
        token = sign(signing_key, access_claims(**overrides))

        with pytest.raises(Unauthenticated) as excinfo:
            await verifier.verify(token)

        assert excinfo.value.code == "invalid_token"

    @pytest.mark.parametrize("typ", [None, "JWT"], ids=["missing-typ", "plain-jwt-typ"])
    async def test_rejects_token_not_typed_as_access_token(
        self,
        verifier: AccessTokenVerifier,
        signing_key: ec.EllipticCurvePrivateKey,
        typ: str | None,
    ) -> None:
        token = sign(signing_key, access_claims(), typ=typ)

        with pytest.raises(Unauthenticated) as excinfo:
            await verifier.verify(token)

        assert excinfo.value.code == "invalid_token"

    @pytest.mark.parametrize("garbage", ["", "garbage", "a.b.c", "Bearer xyz"])
    async def test_rejects_garbage(self, verifier: AccessTokenVerifier, garbage: str) -> None:
        with pytest.raises(Unauthenticated) as excinfo:
            await verifier.verify(garbage)

        assert excinfo.value.code == "invalid_token"

    async def test_known_kid_does_not_refetch_keys(
        self,
        verifier: AccessTokenVerifier,
        jwks: CountingJwks,
        signing_key: ec.EllipticCurvePrivateKey,
    ) -> None:
        await verifier.verify(sign(signing_key, access_claims()))
        await verifier.verify(sign(signing_key, access_claims()))

        assert jwks.calls == 1


class TestVerifiedTokens:
    """A verified token is remembered by its exact string, never beyond what verify allows."""

    async def test_second_verify_of_the_same_token_skips_the_signature_check(
        self,
        verifier: AccessTokenVerifier,
        signing_key: ec.EllipticCurvePrivateKey,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        token = sign(signing_key, access_claims())
        first = await verifier.verify(token)

        def no_decode(*args: Any, **kwargs: Any) -> None:
            raise AssertionError("the signature was checked again")

        monkeypatch.setattr(jwt, "decode", no_decode)
        assert await verifier.verify(token) == first

    async def test_a_tampered_copy_of_a_verified_token_is_refused(
        self, verifier: AccessTokenVerifier, signing_key: ec.EllipticCurvePrivateKey
    ) -> None:
        token = sign(signing_key, access_claims(roles=["viewer"]))
        await verifier.verify(token)
        header, _, signature = token.split(".")
        forged_claims = jwt.decode(token, options={"verify_signature": False})
        forged_claims["roles"] = ["owner"]
        forged = f"{header}.{b64url(json.dumps(forged_claims).encode())}.{signature}"

        with pytest.raises(Unauthenticated):
            await verifier.verify(forged)

    async def test_a_remembered_token_still_expires(
        self,
        verifier: AccessTokenVerifier,
        signing_key: ec.EllipticCurvePrivateKey,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        now = time.time()
        token = sign(signing_key, access_claims(iat=int(now), exp=int(now) + 60))
        await verifier.verify(token)
        monkeypatch.setattr(time, "time", lambda: now + 120)

        with pytest.raises(Unauthenticated) as rejected:
            await verifier.verify(token)
        assert rejected.value.code == "token_expired"

    async def test_a_remembered_token_dies_with_its_withdrawn_key(
        self, signing_key: ec.EllipticCurvePrivateKey
    ) -> None:
        jwks = CountingJwks(jwks_document((signing_key, KID)))
        verifier = verifier_for(jwks, min_refresh_seconds=0)
        token = sign(signing_key, access_claims())
        await verifier.verify(token)
        jwks.document = jwks_document((new_key(), "key-2"))
        await verifier.keys.refresh()

        with pytest.raises(Unauthenticated):
            await verifier.verify(token)

    async def test_a_remembered_token_is_still_checked_for_revocation(
        self, jwks: CountingJwks, signing_key: ec.EllipticCurvePrivateKey
    ) -> None:
        revocations = RevocationList()
        verifier = AccessTokenVerifier(
            JwksCache(jwks), issuer=ISSUER, audience=AUDIENCE, revocations=revocations
        )
        token = sign(signing_key, access_claims(sid="session-1"))
        claims = jwt.decode(token, options={"verify_signature": False})
        await verifier.verify(token)
        revocations.apply(revoked(user_id=claims["sub"], session_id="session-1", at=time.time()))

        with pytest.raises(Unauthenticated) as rejected:
            await verifier.verify(token)
        assert rejected.value.code == "token_revoked"

    async def test_memory_is_bounded_by_forgetting_the_oldest(
        self, jwks: CountingJwks, signing_key: ec.EllipticCurvePrivateKey
    ) -> None:
        verified = VerifiedTokens(max_entries=2)
        verifier = AccessTokenVerifier(
            JwksCache(jwks), issuer=ISSUER, audience=AUDIENCE, verified=verified
        )
        tokens = [sign(signing_key, access_claims()) for _ in range(3)]
        for token in tokens:
            await verifier.verify(token)

        keys = verifier.keys
        assert verified.get(tokens[0], keys=keys) is None
        assert verified.get(tokens[1], keys=keys) is not None
        assert verified.get(tokens[2], keys=keys) is not None


class TestJwksCache:
    async def test_unknown_kid_refreshes_once_then_not_again_within_min_refresh(
        self, verifier: AccessTokenVerifier, jwks: CountingJwks
    ) -> None:
        stranger = new_key()

        with pytest.raises(Unauthenticated) as first:
            await verifier.verify(sign(stranger, access_claims(), kid="unknown-1"))
        calls_after_first = jwks.calls
        with pytest.raises(Unauthenticated) as second:
            await verifier.verify(sign(stranger, access_claims(), kid="unknown-2"))

        assert calls_after_first == 1
        assert jwks.calls == 1
        assert first.value.code == second.value.code == "invalid_token"

    async def test_fetch_failure_is_unavailable(self) -> None:
        fetch = FailingJwks()
        verifier = verifier_for(fetch)

        with pytest.raises(Unavailable):
            await verifier.verify(sign(new_key(), access_claims()))

        assert fetch.calls == 1
        assert not verifier.keys.loaded

    async def test_rotated_key_is_picked_up_on_first_sight_of_its_kid(
        self, signing_key: ec.EllipticCurvePrivateKey
    ) -> None:
        jwks = CountingJwks(jwks_document((signing_key, KID)))
        verifier = verifier_for(jwks, min_refresh_seconds=0)
        await verifier.verify(sign(signing_key, access_claims()))
        rotated = new_key()
        jwks.document = jwks_document((signing_key, KID), (rotated, "key-2"))
        claims = access_claims()

        principal = await verifier.verify(sign(rotated, claims, kid="key-2"))

        assert principal.token_id == claims["jti"]
        assert jwks.calls == 2

    async def test_ignores_keys_that_are_not_es256(
        self, signing_key: ec.EllipticCurvePrivateKey
    ) -> None:
        jwk = {**public_jwk(signing_key, KID), "alg": "ES384"}
        cache = JwksCache(CountingJwks(json.dumps({"keys": [jwk]})))

        with pytest.raises(Unauthenticated):
            await cache.key_for(KID)

        assert not cache.loaded


class TestCriticalHeader:
    async def test_rejects_a_token_with_a_crit_header(
        self, verifier: AccessTokenVerifier, signing_key: ec.EllipticCurvePrivateKey
    ) -> None:
        token = jwt.encode(
            access_claims(),
            signing_key,
            algorithm="ES256",
            headers={"kid": KID, "typ": "at+jwt", "crit": ["exp"], "exp": 1},
        )
        with pytest.raises(Unauthenticated) as rejected:
            await verifier.verify(token)
        assert rejected.value.code == "invalid_token"


def revoked(*, user_id: str, session_id: str = "", at: float) -> identity_events.AccessRevoked:
    event = identity_events.AccessRevoked(user_id=user_id, session_id=session_id, reason="test")
    event.revoked_at.FromDatetime(datetime.fromtimestamp(at, UTC))
    return event


class TestRevocations:
    async def test_ended_session_voids_its_tokens_only(
        self, jwks: CountingJwks, signing_key: ec.EllipticCurvePrivateKey
    ) -> None:
        revocations = RevocationList()
        verifier = AccessTokenVerifier(
            JwksCache(jwks), issuer=ISSUER, audience=AUDIENCE, revocations=revocations
        )
        ended = sign(signing_key, access_claims(sid="session-1"))
        other = sign(signing_key, access_claims(sid="session-2"))
        claims = jwt.decode(ended, options={"verify_signature": False})
        revocations.apply(revoked(user_id=claims["sub"], session_id="session-1", at=time.time()))

        with pytest.raises(Unauthenticated) as rejected:
            await verifier.verify(ended)
        assert rejected.value.code == "token_revoked"
        assert (await verifier.verify(other)).session_id == "session-2"

    async def test_user_revocation_voids_tokens_issued_until_then(
        self, jwks: CountingJwks, signing_key: ec.EllipticCurvePrivateKey
    ) -> None:
        revocations = RevocationList()
        verifier = AccessTokenVerifier(
            JwksCache(jwks), issuer=ISSUER, audience=AUDIENCE, revocations=revocations
        )
        now = int(time.time())
        user = str(uuid.uuid4())
        before = sign(signing_key, access_claims(sub=user, iat=now - 60))
        after = sign(signing_key, access_claims(sub=user, iat=now + 5))
        revocations.apply(revoked(user_id=user, at=now))

        with pytest.raises(Unauthenticated):
            await verifier.verify(before)
        assert str((await verifier.verify(after)).user_id) == user

    def test_entries_older_than_the_retention_are_forgotten(self) -> None:
        revocations = RevocationList(retention_seconds=60)
        revocations.apply(revoked(user_id="u", session_id="old", at=time.time() - 120))
        revocations.apply(revoked(user_id="u", session_id="new", at=time.time()))
        principal = Principal(
            tenant_id=uuid.uuid4(),
            user_id=uuid.uuid4(),
            roles=(),
            token_id="t",
            expires_at=0,
            session_id="old",
        )
        assert revocations.is_revoked(principal) is False
