"""The ES256 signing keys, kept in identity's database so every replica signs alike."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from datetime import timedelta

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_identity.models import SigningKey
from crm_kit.auth.tokens import ACCESS_TOKEN_ALGORITHM
from crm_kit.db.models import utcnow
from crm_kit.db.session import unit_of_work

log = logging.getLogger(__name__)

# Serializes key creation across replicas starting at once.
_KEY_CREATION_LOCK = 0x1D3E7


def generate_signing_key() -> SigningKey:
    private = ec.generate_private_key(ec.SECP256R1())
    kid = secrets.token_urlsafe(12)
    jwk = json.loads(ECAlgorithm.to_jwk(private.public_key()))
    jwk.update({"kid": kid, "alg": ACCESS_TOKEN_ALGORITHM, "use": "sig"})
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return SigningKey(kid=kid, private_key_pem=pem, public_jwk=json.dumps(jwk))


class KeyStore:
    """Loads the active key once; `jwks()` serves every key that may still verify."""

    def __init__(
        self,
        factory: async_sessionmaker[AsyncSession],
        *,
        verify_window: timedelta = timedelta(minutes=20),
    ) -> None:
        self._factory = factory
        # How long a retired key stays published: longer than any token it signed lives.
        self._verify_window = verify_window
        self._active: SigningKey | None = None
        self._private_key: ec.EllipticCurvePrivateKey | None = None
        self._jwks = '{"keys": []}'

    async def load(self) -> None:
        """Create the first key if there is none, then cache the active key and JWKS."""
        async with unit_of_work(self._factory, tenant_id=None) as session:
            await session.execute(
                text("SELECT pg_advisory_xact_lock(:k)"), {"k": _KEY_CREATION_LOCK}
            )
            keys = list(await session.scalars(select(SigningKey).order_by(SigningKey.created_at)))
            if not any(k.retired_at is None for k in keys):
                key = generate_signing_key()
                session.add(key)
                keys.append(key)
        active = [k for k in keys if k.retired_at is None][-1]
        private = serialization.load_pem_private_key(active.private_key_pem.encode(), None)
        assert isinstance(private, ec.EllipticCurvePrivateKey)
        horizon = utcnow() - self._verify_window
        published = [k for k in keys if k.retired_at is None or k.retired_at > horizon]
        self._active, self._private_key = active, private
        self._jwks = json.dumps({"keys": [json.loads(k.public_jwk) for k in published]})

    async def rotate(self) -> str:
        """Sign with a new key from now on; the old one keeps verifying until its tokens
        expire. Returns the new kid. Other replicas pick it up at their next reload."""
        async with unit_of_work(self._factory, tenant_id=None) as session:
            await session.execute(
                text("SELECT pg_advisory_xact_lock(:k)"), {"k": _KEY_CREATION_LOCK}
            )
            await session.execute(
                update(SigningKey)
                .where(SigningKey.retired_at.is_(None))
                .values(retired_at=utcnow())
            )
            key = generate_signing_key()
            session.add(key)
        await self.load()
        return key.kid

    async def reload_forever(self, interval_seconds: float = 30.0) -> None:
        """Pick up keys rotated by another process (run beside the server)."""
        while True:
            await asyncio.sleep(interval_seconds)
            try:
                await self.load()
            except Exception:
                log.exception("reloading signing keys failed; keeping the current ones")

    def jwks(self) -> str:
        return self._jwks

    def sign(self, claims: dict[str, object]) -> str:
        if self._active is None or self._private_key is None:
            raise RuntimeError("KeyStore.load() has not run")
        return jwt.encode(
            claims,
            self._private_key,
            algorithm=ACCESS_TOKEN_ALGORITHM,
            headers={"kid": self._active.kid, "typ": "at+jwt"},
        )

    async def fetch_jwks(self) -> str:
        """JWKS source for identity's own token verification."""
        return self._jwks
