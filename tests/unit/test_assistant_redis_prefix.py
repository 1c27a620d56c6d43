"""The assistant's Redis keys (the shared ``llm`` breaker, the per-user budget) under ``ASSISTANT_REDIS_PREFIX``:
empty in AWS (the keys as before), one per local stack, so two stacks on one Redis database never share a breaker.
No Redis is reached: the clients connect on first use."""

from __future__ import annotations

import pytest

from gpubroker.adapters.breaker import RedisCircuitBreaker
from gpubroker.adapters.llm.budget import RedisLlmBudget
from gpubroker.wiring import assistant_llm
from infra.local.provision import function_environment
from infra.local.stack import LocalStack
from infra.local.template import read_app

REDIS = "redis://127.0.0.1:1/0"  # never connected to


def engine_keys(monkeypatch: pytest.MonkeyPatch, prefix: str | None) -> tuple[str, str]:
    monkeypatch.setenv("ASSISTANT_ENGINE", "openai")
    monkeypatch.setenv("ASSISTANT_ENDPOINT", "http://127.0.0.1:1/v1")
    monkeypatch.setenv("REDIS_URL", REDIS)
    if prefix is None:
        monkeypatch.delenv("ASSISTANT_REDIS_PREFIX", raising=False)
    else:
        monkeypatch.setenv("ASSISTANT_REDIS_PREFIX", prefix)
    assistant_llm.llm_engine.cache_clear()
    try:
        engine = assistant_llm.llm_engine()
    finally:
        assistant_llm.llm_engine.cache_clear()
    assert engine is not None
    assert isinstance(engine.breaker, RedisCircuitBreaker) and isinstance(engine.budget, RedisLlmBudget)
    return engine.breaker.key, engine.budget.key("u1")


def test_the_keys_carry_the_configured_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    breaker, budget = engine_keys(monkeypatch, "gpub:stack-a:1234:")
    assert breaker == "gpub:stack-a:1234:{breaker:llm}"
    assert budget.startswith("gpub:stack-a:1234:llm:{u1}:")


def test_without_a_prefix_the_keys_are_the_aws_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    breaker, budget = engine_keys(monkeypatch, None)
    assert breaker == "{breaker:llm}"
    assert budget.startswith("llm:{u1}:")


def test_a_prefix_with_a_space_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="ASSISTANT_REDIS_PREFIX"):
        engine_keys(monkeypatch, "a b")


def test_each_local_stack_has_its_own_prefix_and_hands_it_to_the_assistant_functions() -> None:
    a, b = (
        LocalStack(port=1, ws_port=1, moto_port=1, stripe_port=1),
        LocalStack(port=1, ws_port=1, moto_port=1, stripe_port=1),
    )
    assert a.redis_key_prefix != b.redis_key_prefix and a.redis_key_prefix.startswith("gpub:gpubroker-local:")
    app = read_app()
    names = {
        **{lid: lid for lid in app.template["Resources"]},
        **{f"{lid}.Arn": lid for lid in app.template["Resources"]},
    }
    names.update(
        {f"{lid}.{attr}": lid for lid in app.template["Resources"] for attr in ("StreamArn", "Name", "QueueName")}
    )
    env = function_environment(app, names, params={"AssistantRedisPrefix": a.redis_key_prefix})
    assert env["ASSISTANT_REDIS_PREFIX"] == a.redis_key_prefix
    assert function_environment(app, names)["ASSISTANT_REDIS_PREFIX"] == ""  # AWS's default
