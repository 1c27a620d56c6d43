"""What every use of the assistant's language model shares (the parse engine, the chat): the configured model with
its guards, the caller, the refusals before a call, and the deadline of a call.

* :class:`LlmEngine`: the model (``gpubroker.ports.LanguageModel``), the shared ``llm`` circuit breaker, the
  per-user daily call budget (``domain.plans.LLM_DAILY_CALLS``) and the timeout of one call (default 3 s).
* :func:`refusal`: why no call may be made (``anonymous``, ``budget``, ``budget_unavailable``, ``breaker_open``),
  or None, in which case one call was counted against the user's budget and the breaker allowed it; the caller
  then reports the outcome with ``engine.breaker.record_success()`` / ``record_failure()``.
* :func:`within_timeout`: runs a model call in a worker thread and waits at most ``engine.timeout_s``
  (``LlmTimeout`` after that), on top of the adapters' own socket timeouts, so a model that hangs or trickles
  costs the caller the timeout and no more.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from gpubroker.domain.llm import BudgetUnavailable, LlmTimeout
from gpubroker.domain.plans import LLM_DAILY_CALLS, Plan
from gpubroker.domain.workload_spec import FallbackReason

if TYPE_CHECKING:
    from gpubroker.ports import CircuitBreaker, LanguageModel, LlmBudget

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 3.0
BREAKER_NAME = "llm"
_POOL = ThreadPoolExecutor(max_workers=8, thread_name_prefix="llm")
T = TypeVar("T")


@dataclass(frozen=True, kw_only=True)
class LlmEngine:
    """The configured model and what guards it: the shared ``llm`` breaker and the per-user daily budget."""

    model: LanguageModel
    breaker: CircuitBreaker
    budget: LlmBudget
    timeout_s: float = DEFAULT_TIMEOUT_S


@dataclass(frozen=True)
class Caller:
    """A signed-in user and their plan (anonymous callers are None)."""

    user_id: str
    plan: Plan


def refusal(caller: Caller | None, engine: LlmEngine) -> FallbackReason | None:
    """Why no call is made (anonymous, budget, breaker), or None: the call is counted and the breaker allows it."""
    if caller is None:
        return "anonymous"
    try:
        if not engine.budget.take(caller.user_id, LLM_DAILY_CALLS[caller.plan]):
            return "budget"
    except BudgetUnavailable:
        log.warning("assistant: the LLM call budget cannot be counted; answering with the rules engine")
        return "budget_unavailable"
    if not engine.breaker.allow():
        engine.budget.give_back(caller.user_id)
        return "breaker_open"
    return None


def within_timeout(engine: LlmEngine, call: Callable[..., T], *args: Any) -> T:
    """``call(*args, timeout_s=engine.timeout_s)``, waited for at most ``engine.timeout_s`` (else ``LlmTimeout``;
    the call's thread ends at its own socket timeout)."""
    future = _POOL.submit(call, *args, timeout_s=engine.timeout_s)
    try:
        return future.result(timeout=engine.timeout_s)
    except FutureTimeout:
        raise LlmTimeout(f"no answer within {engine.timeout_s:g} s") from None
