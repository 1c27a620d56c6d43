"""argon2id password hashing (argon2-cffi, RFC 9106 "low memory" profile: t=3, m=64 MiB, p=4 by default)."""

from __future__ import annotations

import base64
import secrets
from functools import cached_property

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


class Argon2Hasher:
    def __init__(self, *, time_cost: int = 3, memory_kib: int = 65536, parallelism: int = 4) -> None:
        self._ph = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID)

    def hash(self, password: str) -> str:
        return self._ph.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return bool(self._ph.verify(password_hash, password))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    @cached_property
    def dummy_hash(self) -> str:
        """Verified against when the account does not exist. A verification's cost is set by the parameters encoded
        in the hash, so this carries the hasher's own parameters with a random salt and digest: it costs what a real
        account's verification costs, and building it costs nothing (hashing a dummy password on first use made the
        first unknown-email login of each container ~126 ms slower: a timing signal)."""
        ph = self._ph

        def b64(n: int) -> str:
            return base64.b64encode(secrets.token_bytes(n)).decode().rstrip("=")

        return (f"$argon2id$v=19$m={ph.memory_cost},t={ph.time_cost},p={ph.parallelism}"
                f"${b64(ph.salt_len)}${b64(ph.hash_len)}")  # fmt: skip
