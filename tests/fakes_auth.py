"""In-memory identity ports (no mocks): users, refresh families, a fixed key ring (throttle: MemoryRateLimiter)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from gpubroker.adapters.passwords import Argon2Hasher
from gpubroker.adapters.ratelimit import MemoryRateLimiter
from gpubroker.domain.accounts import User
from gpubroker.domain.tokens import KeyRing, TokenPolicy, new_signing_key
from gpubroker.services.auth import AuthDeps
from tests.fakes import FixedClock

KEY = new_signing_key("test-key")
POLICY = TokenPolicy(issuer="https://auth.gpubroker.test", audience="gpubroker-api")


@dataclass
class MemoryUsers:
    users: dict[str, User] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def create(self, user: User) -> bool:
        with self.lock:
            if user.email in self.users:
                return False
            self.users[user.email] = user
            return True

    def by_email(self, email: str) -> User | None:
        return self.users.get(email)


@dataclass
class MemoryRefresh:
    families: dict[str, dict[str, object]] = field(default_factory=dict)
    tokens: dict[str, dict[str, object]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start_family(self, family: str, user_id: str, expires_at: int) -> None:
        self.families[family] = {"user_id": user_id, "revoked": False, "expires_at": expires_at}

    def add(self, jti: str, family: str, expires_at: int) -> None:
        self.tokens[jti] = {"family": family, "spent": False, "expires_at": expires_at}

    def spend(self, jti: str) -> bool:
        with self.lock:
            token = self.tokens.get(jti)
            if token is None or token["spent"]:
                return False
            token["spent"] = True
            return True

    def revoke_family(self, family: str) -> None:
        self.families.setdefault(family, {})["revoked"] = True

    def family_revoked(self, family: str) -> bool:
        fam = self.families.get(family)
        return fam is None or bool(fam.get("revoked"))


@dataclass(frozen=True)
class FixedRing:
    fixed: KeyRing

    def ring(self) -> KeyRing:
        return self.fixed


def auth_world(clock: FixedClock | None = None) -> tuple[AuthDeps, FixedClock]:
    clock = clock or FixedClock()
    deps = AuthDeps(
        users=MemoryUsers(),
        refresh=MemoryRefresh(),
        hasher=Argon2Hasher(time_cost=1, memory_kib=1024, parallelism=1),  # cheap for tests; production: defaults
        throttle=MemoryRateLimiter(lambda: clock.now().timestamp()),
        keys=FixedRing(KeyRing(active=KEY, published=(KEY,))),
        policy=POLICY,
        clock=clock,
    )
    return deps, clock
