"""bcrypt hashing, run in a worker thread so a login never stalls the event loop."""

from __future__ import annotations

import asyncio

import bcrypt

from crm_kit.errors import InvalidArgument

MIN_PASSWORD_CHARS = 8
# bcrypt reads at most 72 bytes; a longer password is refused, never truncated.
MAX_PASSWORD_BYTES = 72


def check_password_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise InvalidArgument(
            f"password must have at least {MIN_PASSWORD_CHARS} characters",
            code="password_too_short",
            field="password",
        )
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        raise InvalidArgument(
            f"password must be at most {MAX_PASSWORD_BYTES} bytes in UTF-8",
            code="password_too_long",
            field="password",
        )


class PasswordHasher:
    def __init__(self, *, rounds: int) -> None:
        self._rounds = rounds
        # Checked against when the email is unknown, so every failed login costs the same.
        self._dummy_hash = bcrypt.hashpw(b"not-a-real-password", bcrypt.gensalt(rounds))

    async def hash(self, password: str) -> str:
        salt = bcrypt.gensalt(self._rounds)
        hashed = await asyncio.to_thread(bcrypt.hashpw, password.encode(), salt)
        return hashed.decode()

    async def verify(self, password: str, password_hash: str | None) -> bool:
        encoded = password.encode()
        if password_hash is None or len(encoded) > MAX_PASSWORD_BYTES:
            await asyncio.to_thread(bcrypt.checkpw, encoded[:MAX_PASSWORD_BYTES], self._dummy_hash)
            return False
        return await asyncio.to_thread(bcrypt.checkpw, encoded, password_hash.encode())
