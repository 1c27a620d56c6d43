"""The assistant's language model and its guards (``AssistantSettings``): the model adapter of
``ASSISTANT_ENGINE`` (None for ``rules``), the shared ``llm`` circuit breaker (Redis at ``REDIS_URL``, else per
container) and the per-user daily call budget (Redis, else per container), both keyed under
``ASSISTANT_REDIS_PREFIX``. ``POST /ai/parse-workload`` uses
:func:`parse_deps`; the chat reuses :func:`llm_engine`."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from gpubroker.api.deps import ApiDeps
from gpubroker.config import AssistantSettings, load_settings
from gpubroker.wiring import edge

if TYPE_CHECKING:
    from gpubroker.adapters.breaker import CircuitBreaker
    from gpubroker.ports import LanguageModel, LlmBudget
    from gpubroker.services.assistant.llm_engine import LlmEngine


@dataclass(frozen=True, kw_only=True)
class ParseDeps(ApiDeps):
    """``POST /ai/parse-workload``: the front door, and the language-model engine (None: the rules engine)."""

    llm: LlmEngine | None = None


def language_model(s: AssistantSettings) -> LanguageModel | None:
    """The adapter ``ASSISTANT_ENGINE`` names, or None (``rules``)."""
    if s.ASSISTANT_ENGINE == "bedrock":
        from gpubroker.adapters.llm.bedrock import DEFAULT_MODEL_ID, BedrockLanguageModel

        return BedrockLanguageModel(s.ASSISTANT_MODEL_ID or DEFAULT_MODEL_ID)
    if s.ASSISTANT_ENGINE == "openai":
        from gpubroker.adapters.llm.openai_compat import DEFAULT_MODEL, OpenAICompatibleModel

        if not s.ASSISTANT_ENDPOINT:
            raise ValueError("ASSISTANT_ENGINE=openai needs ASSISTANT_ENDPOINT (e.g. http://127.0.0.1:11434/v1)")
        return OpenAICompatibleModel(s.ASSISTANT_ENDPOINT, s.ASSISTANT_MODEL_ID or DEFAULT_MODEL)
    return None


def llm_breaker(redis_url: str, key_prefix: str = "") -> CircuitBreaker:
    """The shared ``llm`` breaker: the project's rules (5 failures in 30 s open it for 60 s, then 3 trials)."""
    from gpubroker.adapters.breaker import MemoryCircuitBreaker, RedisCircuitBreaker
    from gpubroker.services.assistant.llm_engine import BREAKER_NAME

    if not redis_url:
        return MemoryCircuitBreaker(BREAKER_NAME)
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=0.5, socket_connect_timeout=0.5, retry_on_timeout=False)
    return RedisCircuitBreaker(client, BREAKER_NAME, key_prefix=key_prefix)


def llm_budget(redis_url: str, key_prefix: str = "") -> LlmBudget:
    """The per-user daily call budget: keys ``<key_prefix>llm:{<user_id>}:<day>`` in Redis, else per container."""
    from gpubroker.adapters.llm.budget import MemoryLlmBudget, RedisLlmBudget

    return RedisLlmBudget(redis_url, f"{key_prefix}llm") if redis_url else MemoryLlmBudget()


@cache
def llm_engine() -> LlmEngine | None:
    """The configured model behind its breaker and budget; None when ``ASSISTANT_ENGINE=rules``."""
    s = load_settings(AssistantSettings)
    model = language_model(s)
    if model is None:
        return None
    from gpubroker.adapters.llm.timed import TimedLanguageModel
    from gpubroker.services.assistant.llm_engine import LlmEngine

    return LlmEngine(
        model=TimedLanguageModel(model),
        breaker=llm_breaker(s.REDIS_URL, s.ASSISTANT_REDIS_PREFIX),
        budget=llm_budget(s.REDIS_URL, s.ASSISTANT_REDIS_PREFIX),
        timeout_s=s.ASSISTANT_TIMEOUT_SECONDS,
    )


@cache
def parse_deps() -> ParseDeps:
    return ParseDeps(front_door=edge.front_door(), llm=llm_engine())
