"""bcrypt hashing, run in a worker thread so a login never stalls the event loop."""

from __future__ import annotations

import asyncio

import bcrypt

from crm_identity.passwords.policy import MAX_PASSWORD_BYTES


class PasswordHasher:
    def __init__(self, *, rounds: int) -> None:
        self._rounds = rounds
        # Checked against when the email is unknown, so every failed login costs the same.
        self._dummy_hash = bcrypt.hashpw(b"not-a-real-password", bcrypt.gensalt(rounds))

    async def hash(self, password: str) -> str:
        salt = bcrypt.gensalt(self._rounds)
        hashed = await asyncio.to_thread(bcrypt.hashpw, password.encode(), salt)
        return hashed.decode()

    def needs_rehash(self, password_hash: str) -> bool:
        """True for a hash made at a lower cost than today's (upgraded at the next login)."""
        return int(password_hash.split("$")[2]) < self._rounds

    async def verify(self, password: str, password_hash: str | None) -> bool:
        encoded = password.encode()
        if password_hash is None or len(encoded) > MAX_PASSWORD_BYTES:
            await asyncio.to_thread(bcrypt.checkpw, encoded[:MAX_PASSWORD_BYTES], self._dummy_hash)
            return False
        return await asyncio.to_thread(bcrypt.checkpw, encoded, password_hash.encode())
