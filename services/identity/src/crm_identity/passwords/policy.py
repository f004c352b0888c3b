"""What a new password must be: 8+ characters, at most 72 UTF-8 bytes, not a common one."""

from __future__ import annotations

from functools import cache

from zxcvbn.frequency_lists import FREQUENCY_LISTS

from crm_kit.errors import InvalidArgument

MIN_PASSWORD_CHARS = 8
# bcrypt reads at most 72 bytes; a longer password is refused, never truncated or pre-hashed.
MAX_PASSWORD_BYTES = 72


@cache
def common_passwords() -> frozenset[str]:
    """The 30,000 most common passwords of the zxcvbn project's leaked-password corpus."""
    return frozenset(FREQUENCY_LISTS["passwords"])


def check_password_policy(password: str, *, field: str = "password") -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise InvalidArgument(
            f"password must have at least {MIN_PASSWORD_CHARS} characters",
            code="password_too_short",
            field=field,
        )
    if "\x00" in password:
        raise InvalidArgument("password must not contain NUL", code="password_invalid", field=field)
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        raise InvalidArgument(
            f"password must be at most {MAX_PASSWORD_BYTES} bytes in UTF-8",
            code="password_too_long",
            field=field,
        )
    if password.lower() in common_passwords():
        raise InvalidArgument(
            "this password is among the most common ones; choose another",
            code="password_too_common",
            field=field,
        )
