"""Password policy and bcrypt hashing: long passwords are refused, never truncated."""

from __future__ import annotations

import pytest

from crm_identity.passwords.hashing import PasswordHasher
from crm_identity.passwords.policy import MAX_PASSWORD_BYTES, check_password_policy
from crm_kit.errors import InvalidArgument

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def hasher() -> PasswordHasher:
    return PasswordHasher(rounds=10)


class TestCheckPasswordPolicy:
    def test_refuses_seven_characters(self) -> None:
        with pytest.raises(InvalidArgument) as excinfo:
            check_password_policy("a" * 7)

        assert excinfo.value.code == "password_too_short"
        assert excinfo.value.details == {"field": "password"}

    def test_accepts_eight_characters(self) -> None:
        check_password_policy("a" * 8)

    def test_accepts_exactly_72_bytes(self) -> None:
        check_password_policy("a" * MAX_PASSWORD_BYTES)

    def test_refuses_73_bytes(self) -> None:
        with pytest.raises(InvalidArgument) as excinfo:
            check_password_policy("a" * 73)

        assert excinfo.value.code == "password_too_long"
        assert excinfo.value.details == {"field": "password"}

    def test_counts_utf8_bytes_not_characters(self) -> None:
        password = "€" * 25  # 25 characters, 75 bytes in UTF-8
        assert len(password.encode()) == 75

        with pytest.raises(InvalidArgument) as excinfo:
            check_password_policy(password)

        assert excinfo.value.code == "password_too_long"

    def test_accepts_multibyte_within_72_bytes(self) -> None:
        check_password_policy("€" * 24)  # 72 bytes


class TestPasswordHasher:
    async def test_hash_is_bcrypt_with_the_configured_rounds(self, hasher: PasswordHasher) -> None:
        hashed = await hasher.hash("correct horse battery")

        assert hashed.startswith("$2b$10$")
        assert "correct horse battery" not in hashed

    async def test_hash_is_salted(self, hasher: PasswordHasher) -> None:
        assert await hasher.hash("correct horse battery") != await hasher.hash(
            "correct horse battery"
        )

    async def test_verifies_the_right_password(self, hasher: PasswordHasher) -> None:
        hashed = await hasher.hash("correct horse battery")

        assert await hasher.verify("correct horse battery", hashed) is True

    async def test_refuses_a_wrong_password(self, hasher: PasswordHasher) -> None:
        hashed = await hasher.hash("correct horse battery")

        assert await hasher.verify("correct horse staple", hashed) is False

    async def test_unknown_user_never_verifies(self, hasher: PasswordHasher) -> None:
        assert await hasher.verify("not-a-real-password", None) is False

    async def test_verifies_multibyte_passwords(self, hasher: PasswordHasher) -> None:
        hashed = await hasher.hash("€" * 24)

        assert await hasher.verify("€" * 24, hashed) is True

    async def test_refuses_more_than_72_bytes_rather_than_truncating(
        self, hasher: PasswordHasher
    ) -> None:
        prefix = "a" * MAX_PASSWORD_BYTES
        hashed = await hasher.hash(prefix)

        assert await hasher.verify(prefix + "b", hashed) is False
