"""What both adapters share: ``complete_json`` as one forced tool call."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gpubroker.domain.llm import LlmBadAnswer, Message, ModelTurn, ToolSpec

ANSWER_TOOL = "answer"


def answer_tool(schema: Mapping[str, Any]) -> ToolSpec:
    return ToolSpec(name=ANSWER_TOOL, description="Record the answer, filled in from the user's text.", schema=schema)


def user_message(text: str) -> Message:
    return Message(role="user", text=text)


def tool_arguments(turn: ModelTurn) -> dict[str, Any]:
    """The arguments of the forced ``answer`` call (the first call of that name; else the only call)."""
    calls = [c for c in turn.tool_calls if c.name == ANSWER_TOOL] or list(turn.tool_calls[:1])
    if not calls:
        raise LlmBadAnswer(f"the model called no tool (stop reason {turn.stop_reason!r})")
    return calls[0].arguments
