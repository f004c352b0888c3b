"""API keys as third parties see them: the key's format and the scopes a key carries.

A key is `crm_`, 30 random base62 characters, then the CRC32 of those 30 characters
in 6 base62 characters (GitHub's token format). The checksum lets a secret scanner or
the gateway refuse a mistyped or made-up key without any lookup; it is no secret and
proves nothing about the key's validity. Only the SHA-256 of the whole key is stored.
Identity (which issues and resolves keys) and the gateway (which checks and caches
them) both import this module, so they cannot disagree.
"""

from __future__ import annotations

import hashlib
import secrets
import zlib

PREFIX = "crm_"
RANDOM_LENGTH = 30
CHECKSUM_LENGTH = 6
KEY_LENGTH = len(PREFIX) + RANDOM_LENGTH + CHECKSUM_LENGTH
# Enough to recognise a key in a list, never enough to use it.
DISPLAY_PREFIX_LENGTH = 8

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_BASE62_SET = frozenset(BASE62)

# Scopes are `<family>:<action>`; write implies read.
READ = "read"
WRITE = "write"
SCOPE_FAMILIES = (
    "contacts",
    "companies",
    "custom_fields",
    "pipelines",
    "leads",
    "deals",
    "activities",
    "tasks",
    "notes",
    "tags",
    "files",
    "capture_forms",
)
SCOPE_ACTIONS = (READ, WRITE)
SCOPES = tuple(f"{family}:{action}" for family in SCOPE_FAMILIES for action in SCOPE_ACTIONS)


def _base62(number: int, *, width: int) -> str:
    digits = []
    while number:
        number, remainder = divmod(number, 62)
        digits.append(BASE62[remainder])
    return "".join(reversed(digits)).rjust(width, BASE62[0])


def checksum(random_part: str) -> str:
    """The 6-character base62 CRC32 of the key's random part."""
    return _base62(zlib.crc32(random_part.encode("ascii")), width=CHECKSUM_LENGTH)


def generate() -> str:
    """A new key: 30 characters from `secrets` (about 178 bits) and their checksum."""
    random_part = "".join(secrets.choice(BASE62) for _ in range(RANDOM_LENGTH))
    return f"{PREFIX}{random_part}{checksum(random_part)}"


def looks_like_api_key(credential: str) -> bool:
    """Whether a bearer credential is meant as an API key (JWTs never start so)."""
    return credential.startswith(PREFIX)


def is_well_formed(key: str) -> bool:
    """Prefix, length, alphabet and checksum hold; says nothing about whether it exists."""
    if len(key) != KEY_LENGTH or not key.startswith(PREFIX):
        return False
    body = key[len(PREFIX) :]
    if not _BASE62_SET.issuperset(body):
        return False
    random_part, check = body[:RANDOM_LENGTH], body[RANDOM_LENGTH:]
    return secrets.compare_digest(checksum(random_part), check)


def key_hash(key: str) -> str:
    """SHA-256, hex: all that is stored of a key, and the gateway's cache key."""
    return hashlib.sha256(key.encode()).hexdigest()


def display_prefix(key: str) -> str:
    return key[:DISPLAY_PREFIX_LENGTH]


def grants(granted: tuple[str, ...] | frozenset[str], required: str) -> bool:
    """Whether scopes `granted` allow `required` (`x:write` also allows `x:read`)."""
    if required in granted:
        return True
    family, _, action = required.partition(":")
    return action == READ and f"{family}:{WRITE}" in granted
