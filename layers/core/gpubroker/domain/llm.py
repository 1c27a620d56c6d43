"""What a language model is asked and answers, independent of the engine (Bedrock Converse or an OpenAI-compatible
chat API): messages, tools, tool calls, a turn, and the errors. Pure data, no I/O.

The port is :class:`gpubroker.ports.LanguageModel`; the adapters are in ``gpubroker.adapters.llm``. A tool's
``schema`` is a JSON schema with no ``$ref`` (:func:`inline_refs` flattens a pydantic schema): both APIs take it as
is, and small local models follow a flat schema better.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from gpubroker.domain.errors import SourceError

EngineName = Literal["bedrock", "openai"]
Role = Literal["user", "assistant", "tool"]


class LlmError(SourceError):
    """The model could not answer: an HTTP or API error, a refused or dropped connection, an answer that is not
    the shape asked for (:class:`LlmBadAnswer`), or no answer in time (:class:`LlmTimeout`)."""

    code = "llm_unavailable"


class LlmTimeout(LlmError):
    """No answer within the call's ``timeout_s``."""


class LlmBadAnswer(LlmError):
    """The model answered, but not with what was asked (no tool call, arguments that are not a JSON object)."""


@dataclass(frozen=True)
class ToolSpec:
    """A tool the model may call: its name, what it does, and the JSON schema of its arguments (no ``$ref``)."""

    name: str
    description: str
    schema: Mapping[str, Any]


@dataclass(frozen=True)
class ToolCall:
    """One call the model asks for: ``id`` pairs it with its result message."""

    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Message:
    """One message of a conversation: a user's text, the assistant's text and tool calls, or a tool's result
    (``role="tool"``, ``tool_call_id`` naming the call, ``text`` the result, usually JSON; ``is_error`` when the
    tool refused the call, e.g. arguments that do not validate)."""

    role: Role
    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    is_error: bool = False  # a tool's result that reports an error (Converse ``status: error``)


@dataclass(frozen=True)
class ModelTurn:
    """What the model answered in one call: text, tool calls (possibly several), and why it stopped
    (``end_turn``, ``tool_use``, ``max_tokens``, or the API's own word)."""

    text: str = ""
    tool_calls: tuple[ToolCall, ...] = field(default_factory=tuple)
    stop_reason: str = "end_turn"


def inline_refs(schema: Mapping[str, Any]) -> dict[str, Any]:
    """``schema`` with every local ``$ref`` (``#/$defs/X``) replaced by its definition and ``$defs`` dropped. A
    recursive definition is not supported (none of the project's models is recursive)."""
    defs: Mapping[str, Any] = schema.get("$defs", {})

    def walk(node: Any, depth: int) -> Any:
        if depth > 32:
            raise ValueError("schema nests too deep (a recursive $ref?)")
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                rest = {k: v for k, v in node.items() if k != "$ref"}
                return walk({**defs[ref.removeprefix("#/$defs/")], **rest}, depth + 1)
            return {k: walk(v, depth + 1) for k, v in node.items() if k != "$defs"}
        if isinstance(node, list):
            return [walk(v, depth + 1) for v in node]
        return node

    out: dict[str, Any] = walk(dict(schema), 0)
    return out


class BudgetUnavailable(LlmError):
    """The per-user call budget cannot be counted (its store is unreachable): no model call is made."""
