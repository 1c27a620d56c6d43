"""A ``LanguageModel`` that measures the one it wraps: ``LlmLatency`` (ms, every call, failed ones too),
``LlmCalls`` and ``LlmErrors`` (by error class), per engine and for the service (EMF, ``gpubroker.observability``).
The wiring puts it around whichever adapter ``ASSISTANT_ENGINE`` names, so every use of the model is measured once."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from aws_lambda_powertools.metrics import MetricUnit

from gpubroker.domain.llm import Message, ModelTurn, ToolSpec
from gpubroker.observability import publish
from gpubroker.ports import LanguageModel

T = TypeVar("T")


class TimedLanguageModel:
    def __init__(self, model: LanguageModel) -> None:
        self.model = model
        self.engine = model.engine

    def __getattr__(self, name: str) -> Any:
        """Anything else is the wrapped adapter's (its client, its model id): the wrapper only measures."""
        return getattr(self.model, name)

    def _measured(self, call: Callable[[], T]) -> T:
        started = time.perf_counter()
        error: str | None = None
        try:
            return call()
        except Exception as exc:
            error = type(exc).__name__
            raise
        finally:
            values = {
                "LlmCalls": (MetricUnit.Count, 1.0),
                "LlmLatency": (MetricUnit.Milliseconds, round((time.perf_counter() - started) * 1000, 3)),
                "LlmErrors": (MetricUnit.Count, 0.0 if error is None else 1.0),
            }
            publish(values, dimensions={"engine": self.engine}, rollups=[{}])

    def complete_json(self, system: str, user: str, schema: Mapping[str, Any], *, timeout_s: float) -> dict[str, Any]:
        return self._measured(lambda: self.model.complete_json(system, user, schema, timeout_s=timeout_s))

    def converse(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec],
        *,
        system: str,
        timeout_s: float,
        tool_choice: str | None = None,
        max_tokens: int = 1024,
    ) -> ModelTurn:
        return self._measured(
            lambda: self.model.converse(
                messages, tools, system=system, timeout_s=timeout_s, tool_choice=tool_choice, max_tokens=max_tokens
            )
        )
