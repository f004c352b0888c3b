"""Standard Webhooks signing (standardwebhooks.com), and the secrets behind it.

Each request carries `webhook-id` (the event id), `webhook-timestamp` (unix seconds) and
`webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, keyed with the
bytes the `whsec_` secret encodes. During a rotation's overlap the header lists one
signature per secret, space-separated, so a receiver holding either secret verifies.
Secrets are kept encrypted (Fernet) rather than hashed: signing needs them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


def generate_secret() -> str:
    """A new signing secret, `whsec_` and the base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secret: str, *, message_id: str, timestamp: int, body: bytes) -> str:
    """One `v1,<base64>` signature of `{id}.{timestamp}.{body}`."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(
    secrets_in_use: Sequence[str], *, message_id: str, timestamp: int, body: bytes
) -> str:
    """The `webhook-signature` value: one signature per secret (new first), space-separated."""
    return " ".join(
        sign(s, message_id=message_id, timestamp=timestamp, body=body) for s in secrets_in_use
    )


class SecretBox:
    """Encrypts signing secrets at rest with the service's key (MESSAGING_WEBHOOK_SECRET_KEY)."""

    def __init__(self, key: str) -> None:
        self._fernet = Fernet(key.encode())

    def seal(self, secret: str) -> bytes:
        return self._fernet.encrypt(secret.encode())

    def open(self, sealed: bytes) -> str:
        try:
            return self._fernet.decrypt(sealed).decode()
        except InvalidToken as exc:
            raise RuntimeError("a webhook secret does not decrypt with the configured key") from exc
