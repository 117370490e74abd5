"""Console passwords: argon2id hashes (argon2-cffi's defaults, RFC 9106's second recommended
parameter set) and generated passwords."""

from __future__ import annotations

import functools
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()  # argon2id


@functools.cache
def dummy_hash() -> str:
    """A hash nobody's password matches, verified against when the email is unknown, so that a
    sign-in takes as long whether or not the account exists."""
    return _HASHER.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return bool(_HASHER.verify(password_hash, password))
    except (VerificationError, InvalidHashError):
        return False


def generate_password() -> str:
    """20 URL-safe characters (120 bits)."""
    return secrets.token_urlsafe(15)
