"""In-memory identity ports (no mocks): users, refresh families, MFA, a fixed key ring (throttle: MemoryRateLimiter)."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from gpubroker.adapters.passwords import Argon2Hasher
from gpubroker.adapters.ratelimit import MemoryRateLimiter
from gpubroker.domain.accounts import User
from gpubroker.domain.mfa import Challenge, MfaState
from gpubroker.domain.tokens import KeyRing, TokenPolicy, new_signing_key
from gpubroker.services.auth import AccountMail, AuthDeps
from gpubroker.wiring.auth import AuthApiDeps
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

    def by_id(self, user_id: str) -> User | None:
        with self.lock:
            return next((u for u in self.users.values() if u.user_id == user_id), None)

    resets: dict[str, str] = field(default_factory=dict)  # email -> the jti of its live reset link

    def mark_email_verified(self, email: str, user_id: str) -> bool:
        with self.lock:
            user = self.users.get(email)
            if user is None or user.user_id != user_id:
                return False
            self.users[email] = dataclasses.replace(user, email_verified=True)
            return True

    def set_reset_link(self, email: str, jti: str, expires_at: int) -> bool:
        with self.lock:
            if email not in self.users:
                return False
            self.resets[email] = jti
            return True

    def reset_password(self, email: str, user_id: str, jti: str, password_hash: str) -> bool:
        with self.lock:
            user = self.users.get(email)
            if user is None or user.user_id != user_id or self.resets.get(email) != jti:
                return False
            del self.resets[email]
            self.users[email] = dataclasses.replace(user, password_hash=password_hash, email_verified=True)
            return True

    def grant_role(self, email: str, role: str) -> bool:
        with self.lock:
            user = self.users.get(email)
            if user is None:
                return False
            self.users[email] = dataclasses.replace(user, roles=tuple(sorted({*user.roles, role})))
            return True


@dataclass
class MemoryMfa:
    """MFA state beside ``users`` (kept in step with each User's mfa fields, as on DynamoDB's one profile item) and
    challenges; every conditional write happens under one lock, so it is atomic like DynamoDB's."""

    users: MemoryUsers
    states: dict[str, MfaState] = field(default_factory=dict)
    challenges: dict[str, Challenge] = field(default_factory=dict)

    def state(self, email: str) -> MfaState | None:
        with self.users.lock:
            if email not in self.users.users:
                return None
            return self.states.get(email, MfaState())

    def _update(self, email: str, state: MfaState) -> None:
        self.states[email] = state
        self.users.users[email] = dataclasses.replace(self.users.users[email], mfa_enabled=state.enabled)

    def set_pending_secret(self, email: str, secret: str) -> bool:
        with self.users.lock:
            old = self.states.get(email, MfaState())
            if email not in self.users.users or old.enabled:
                return False
            self._update(email, dataclasses.replace(old, pending_secret=secret))
            return True

    def activate(self, email: str, secret: str, step: int, recovery_hashes: Sequence[str]) -> bool:
        with self.users.lock:
            old = self.states.get(email, MfaState())
            if old.pending_secret != secret or old.enabled or (old.last_step is not None and old.last_step >= step):
                return False
            self._update(email, MfaState(enabled=True, secret=secret, last_step=step,
                                         recovery_hashes=frozenset(recovery_hashes)))  # fmt: skip
            return True

    def advance_step(self, email: str, step: int) -> bool:
        with self.users.lock:
            old = self.states.get(email, MfaState())
            if not old.enabled or (old.last_step is not None and old.last_step >= step):
                return False
            self._update(email, dataclasses.replace(old, last_step=step))
            return True

    def consume_recovery_code(self, email: str, code_hash: str) -> bool:
        with self.users.lock:
            old = self.states.get(email, MfaState())
            if not old.enabled or code_hash not in old.recovery_hashes:
                return False
            self._update(email, dataclasses.replace(old, recovery_hashes=old.recovery_hashes - {code_hash}))
            return True

    def put_challenge(self, challenge: Challenge) -> None:
        with self.users.lock:
            assert challenge.challenge_id not in self.challenges
            self.challenges[challenge.challenge_id] = challenge

    def challenge(self, challenge_id: str) -> Challenge | None:
        with self.users.lock:
            return self.challenges.get(challenge_id)

    def count_attempt(self, challenge_id: str, max_attempts: int, now: int) -> bool:
        with self.users.lock:
            ch = self.challenges.get(challenge_id)
            if ch is None or ch.attempts >= max_attempts or ch.expires_at <= now:
                return False
            self.challenges[challenge_id] = dataclasses.replace(ch, attempts=ch.attempts + 1)
            return True

    def spend_challenge(self, challenge_id: str) -> bool:
        with self.users.lock:
            return self.challenges.pop(challenge_id, None) is not None

    def disable(self, email: str) -> bool:
        with self.users.lock:
            old = self.states.get(email, MfaState())
            if not old.enabled:
                return False
            self._update(email, MfaState(enabled=False, last_step=old.last_step))
            return True

    def replace_recovery_codes(self, email: str, recovery_hashes: Sequence[str]) -> bool:
        with self.users.lock:
            old = self.states.get(email, MfaState())
            if not old.enabled:
                return False
            self._update(email, dataclasses.replace(old, recovery_hashes=frozenset(recovery_hashes)))
            return True


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

    def families_of(self, user_id: str) -> list[str]:
        return [f for f, fam in self.families.items() if fam.get("user_id") == user_id]


@dataclass
class Outbox:
    """A ``Mailer`` that keeps what it is given (``down``: refuses, as SES does when it is unreachable)."""

    sent: list[tuple[str, str, str]] = field(default_factory=list)
    down: bool = False

    def send(self, to: str, subject: str, text: str) -> None:
        from gpubroker.domain.errors import MailUnavailable

        if self.down:
            raise MailUnavailable("the mail could not be sent; try again later", details={"reason": "test"})
        self.sent.append((to, subject, text))

    def link_token(self, to: str) -> str:
        """The token of the newest link mailed to ``to``."""
        import re

        for addr, _, text in reversed(self.sent):
            found = re.search(r"#token=([A-Za-z0-9_.-]+)", text)
            if addr == to and found:
                return found.group(1)
        raise AssertionError(f"no link was mailed to {to}")


class NoSleep:
    """``AccountMail.sleep``/``monotonic`` for tests: time moves only when slept (the forgot floor is recorded)."""

    def __init__(self) -> None:
        self.t = 0.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds

    def monotonic(self) -> float:
        return self.t


@dataclass(frozen=True)
class FixedRing:
    fixed: KeyRing

    def ring(self) -> KeyRing:
        return self.fixed


def mail_world(clock: FixedClock | None = None) -> tuple[AuthDeps, FixedClock, Outbox, NoSleep]:
    """``auth_world`` with the account mail: an ``Outbox`` mailer, links to https://app.gpubroker.test."""
    deps, clock = auth_world(clock)
    outbox, pace = Outbox(), NoSleep()
    deps.mail = AccountMail(mailer=outbox, app_url="https://app.gpubroker.test", sleep=pace.sleep,
                            monotonic=pace.monotonic)  # fmt: skip
    return deps, clock, outbox, pace


def auth_world(clock: FixedClock | None = None) -> tuple[AuthDeps, FixedClock]:
    clock = clock or FixedClock()
    users = MemoryUsers()
    deps = AuthDeps(
        users=users,
        refresh=MemoryRefresh(),
        mfa=MemoryMfa(users),
        hasher=Argon2Hasher(time_cost=1, memory_kib=1024, parallelism=1),  # cheap for tests; production: defaults
        throttle=MemoryRateLimiter(lambda: clock.now().timestamp()),
        keys=FixedRing(KeyRing(active=KEY, published=(KEY,))),
        policy=POLICY,
        clock=clock,
    )
    return deps, clock


def auth_api(deps: AuthDeps, log: Any = None, spool: Any = None) -> AuthApiDeps:
    """The /auth functions' ``Deps`` around the account services' ``deps``: an unlimited front door and an audit
    trail of in-memory fakes (``log`` and ``spool`` when given)."""
    from tests.fakes import UNLIMITED, trail

    return AuthApiDeps(auth=deps, front_door=UNLIMITED, audit=trail(log, spool))
