"""The circuit-breaker rules: a pure state machine, the reference every implementation must agree with.

No I/O and no clock: every operation takes ``now`` (seconds, any epoch, the same for every caller) as an
argument. ``gpubroker.adapters.breaker`` runs these exact rules in Redis (shared by every Lambda instance) and in
memory (the per-process fallback); property tests check both against this class.

The rules (``BreakerConfig`` defaults in brackets):

* **closed**: every call is allowed. A failure at time ``t`` is remembered while ``now - t <= window_s`` [30 s];
  when ``failures`` [5] are remembered at once, the breaker opens. Successes do not erase failures (it is a time
  window, not a count of consecutive failures).
* **open**: every call is rejected while ``now < open_until`` (``opened_at + open_s`` [60 s]). Results reported
  while open (calls allowed before it opened) are ignored.
* **half_open** (from ``open_until`` on): at most ``trials`` [3] permits are outstanding or used at any moment:
  ``allow`` is True only while ``successes + outstanding permits < trials``. ``trials`` successes close the
  breaker (and forget everything); any failure reopens it for another ``open_s``. A permit neither resolved nor
  reported within ``open_s`` of being issued is taken as lost (its caller crashed or timed out) and its slot is
  issued again; a result arriving after that is ignored. A success is counted only against an outstanding permit.

Results carry no permit id, so a late result of a call allowed while closed can resolve a trial permit in
half-open; this only moves the decision by one call and is accepted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from gpubroker.domain.errors import SourceError


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class BreakerConfig:
    """Thresholds: open after ``failures`` within ``window_s`` seconds, stay open ``open_s``, then ``trials``."""

    failures: int = 5
    window_s: float = 30.0
    open_s: float = 60.0
    trials: int = 3

    def __post_init__(self) -> None:
        if self.failures < 1 or self.trials < 1:
            raise ValueError("failures and trials must be at least 1")
        if self.window_s <= 0 or self.open_s <= 0:
            raise ValueError("window_s and open_s must be positive")


class BreakerOpen(SourceError):
    """The provider's circuit breaker is open: the call was not attempted."""

    code = "provider_unavailable"


@dataclass
class CircuitBreakerModel:
    """The reference state machine. Not thread-safe: callers serialise access (a lock, or a Redis script)."""

    config: BreakerConfig = field(default_factory=BreakerConfig)
    mode: BreakerState = BreakerState.CLOSED
    failures: list[float] = field(default_factory=list)  # closed: failure times still inside the window
    opened_at: float | None = None  # open: when it (re)opened
    permits: list[float] = field(default_factory=list)  # half_open: issue times of outstanding trial permits
    successes: int = 0  # half_open: trial successes so far

    @property
    def open_until(self) -> float | None:
        return None if self.opened_at is None else self.opened_at + self.config.open_s

    def state(self, now: float) -> BreakerState:
        self._tick(now)
        return self.mode

    def allow(self, now: float) -> bool:
        self._tick(now)
        if self.mode is BreakerState.CLOSED:
            return True
        if self.mode is BreakerState.OPEN:
            return False
        if self.successes + len(self.permits) < self.config.trials:
            self.permits.append(now)
            return True
        return False

    def record_success(self, now: float) -> None:
        self._tick(now)
        if self.mode is BreakerState.HALF_OPEN and self.permits:
            self.permits.pop(0)
            self.successes += 1
            if self.successes >= self.config.trials:
                self._reset()

    def record_failure(self, now: float) -> None:
        self._tick(now)
        if self.mode is BreakerState.CLOSED:
            self.failures.append(now)
            if len(self.failures) >= self.config.failures:
                self._open(now)
        elif self.mode is BreakerState.HALF_OPEN:
            self._open(now)

    def _tick(self, now: float) -> None:
        """Apply the passage of time: forget old failures, end the open period, drop lost permits."""
        cfg = self.config
        if self.mode is BreakerState.CLOSED:
            self.failures = [t for t in self.failures if now - t <= cfg.window_s]
        elif self.mode is BreakerState.OPEN and self.opened_at is not None and now >= self.opened_at + cfg.open_s:
            self.mode = BreakerState.HALF_OPEN
            self.permits = []
            self.successes = 0
        if self.mode is BreakerState.HALF_OPEN:
            self.permits = [t for t in self.permits if now - t < cfg.open_s]

    def _open(self, now: float) -> None:
        self.mode = BreakerState.OPEN
        self.opened_at = now
        self.failures = []
        self.permits = []
        self.successes = 0

    def _reset(self) -> None:
        self.mode = BreakerState.CLOSED
        self.opened_at = None
        self.failures = []
        self.permits = []
        self.successes = 0
