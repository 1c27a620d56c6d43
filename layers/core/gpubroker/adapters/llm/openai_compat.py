"""Any endpoint speaking the OpenAI chat completions API (``POST <base>/chat/completions``): Ollama
(``http://127.0.0.1:11434/v1``), vLLM, llama.cpp's server, or OpenAI itself.

Sent through the project's HTTP client (``adapters.providers.http.HttpClient.attempt``: one attempt, never
retried, connect and read timeouts of the call's ``timeout_s``, no redirects, messages that never carry the
prompt). ``complete_json`` gives the schema as the one tool with ``tool_choice`` forcing it; a server that ignores
``tool_choice`` and answers the JSON as text (some Ollama models) is accepted when the text is one JSON object.
``converse`` (the chat's tool-use loop) sends the tools as ``tools`` (``type: function``) with ``tool_choice:
"auto"``, the assistant's calls as ``tool_calls`` (arguments as a JSON string) and each result as a ``role: tool``
message naming its ``tool_call_id``; an answer's ``tool_calls`` (several per turn) come back as calls.
``api_key`` (optional) goes in ``Authorization: Bearer``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import urllib3

from gpubroker.adapters.llm._tool import ANSWER_TOOL, answer_tool, tool_arguments, user_message
from gpubroker.adapters.providers.http import HttpClient, TransportFailed
from gpubroker.domain.errors import SourceError
from gpubroker.domain.llm import LlmBadAnswer, LlmError, LlmTimeout, Message, ModelTurn, ToolCall, ToolSpec

DEFAULT_MODEL = "mistral"


class OpenAICompatibleModel:
    engine = "openai"

    def __init__(self, base_url: str, model: str = DEFAULT_MODEL, *, api_key: str = "") -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError("the endpoint must be an http(s) URL, e.g. http://127.0.0.1:11434/v1")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self._api_key = api_key
        self._pool = urllib3.PoolManager(num_pools=2, maxsize=4, retries=False)

    def complete_json(self, system: str, user: str, schema: Mapping[str, Any], *, timeout_s: float) -> dict[str, Any]:
        tool = answer_tool(schema)
        turn = self.converse([user_message(user)], [tool], system=system, timeout_s=timeout_s, tool_choice=tool.name)
        if not turn.tool_calls and turn.text.strip().startswith("{"):
            try:
                value = json.loads(turn.text)
            except ValueError:
                raise LlmBadAnswer("openai: the text answer is not JSON") from None
            if isinstance(value, dict):
                return value
        return tool_arguments(turn)

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
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": "system", "content": system}, *to_openai(messages)],
            "temperature": 0,
            "max_tokens": max_tokens,
            "stream": False,
        }
        if tools:
            body["tools"] = [
                {"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.schema}}
                for t in tools
            ]
            body["tool_choice"] = {"type": "function", "function": {"name": tool_choice}} if tool_choice else "auto"
        return from_openai(self._post(body, timeout_s))

    def _post(self, body: dict[str, Any], timeout_s: float) -> Any:
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        http = HttpClient(provider="openai", timeout_s=timeout_s, max_attempts=1, budget_s=timeout_s, pool=self._pool)
        try:
            response = http.attempt("POST", self.url, headers=headers, data=json.dumps(body).encode())
        except TransportFailed as exc:
            if exc.timed_out:
                raise LlmTimeout(f"openai: no answer within {timeout_s:g} s") from None
            raise LlmError(str(exc)) from None
        except SourceError as exc:
            raise LlmError(str(exc)) from None
        if not 200 <= response.status < 300:
            raise LlmError(f"openai: HTTP {response.status} from the endpoint")
        try:
            return json.loads(response.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise LlmBadAnswer("openai: the answer is not JSON") from None


def to_openai(messages: Sequence[Message]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "tool":
            out.append({"role": "tool", "tool_call_id": m.tool_call_id or "", "content": m.text})
            continue
        item: dict[str, Any] = {"role": m.role, "content": m.text or (None if m.tool_calls else "")}
        if m.tool_calls:
            item["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": json.dumps(c.arguments)}}
                for c in m.tool_calls
            ]
        out.append(item)
    return out


def from_openai(answer: Any) -> ModelTurn:
    try:
        choice = answer["choices"][0]
        message = choice["message"]
    except (KeyError, IndexError, TypeError):
        raise LlmBadAnswer("openai: the answer has no choices[0].message") from None
    calls: list[ToolCall] = []
    for i, raw in enumerate(message.get("tool_calls") or []):
        fn = raw.get("function") or {}
        args = fn.get("arguments")
        if isinstance(args, str):
            try:
                args = json.loads(args) if args.strip() else {}
            except ValueError:
                raise LlmBadAnswer("openai: a tool call's arguments are not JSON") from None
        if not isinstance(args, dict):
            raise LlmBadAnswer("openai: a tool call's arguments are not a JSON object")
        calls.append(ToolCall(id=str(raw.get("id") or f"call_{i}"), name=str(fn.get("name") or ANSWER_TOOL),
                              arguments=args))  # fmt: skip
    text = message.get("content") or ""
    stop = str(choice.get("finish_reason") or ("tool_calls" if calls else "stop"))
    return ModelTurn(text=str(text), tool_calls=tuple(calls), stop_reason="tool_use" if calls else stop)
