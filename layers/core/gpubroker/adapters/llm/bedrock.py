"""Amazon Bedrock through the Converse API (boto3 ``bedrock-runtime``): one request per call, no SDK retries,
connect and read timeouts of the call's ``timeout_s``.

``complete_json`` gives the schema as the one tool with ``toolChoice: {"tool": {"name": "answer"}}`` (the model
must call it: its ``input`` is the answer); ``converse`` (the chat's tool-use loop) maps
:class:`gpubroker.domain.llm.Message` to Converse messages (an assistant's ``toolUse`` blocks, the tools' results
as ``toolResult`` blocks of one user message, as Converse requires, ``status: error`` on a refused call) and back
(every ``toolUse`` block of the answer is a call: several per turn).

Errors: a ``ClientError`` (throttling, access denied, model not ready, validation), a connection error or a
timeout raise :class:`LlmError` / :class:`LlmTimeout`; the message names the error code, never the prompt.
The client is created on first use (so a moto or Stubber set up later still intercepts it), one per timeout.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from gpubroker.adapters.llm._tool import answer_tool, tool_arguments, user_message
from gpubroker.domain.llm import LlmBadAnswer, LlmError, LlmTimeout, Message, ModelTurn, ToolCall, ToolSpec

DEFAULT_MODEL_ID = "anthropic.claude-3-haiku-20240307-v1:0"


class BedrockLanguageModel:
    engine = "bedrock"

    def __init__(self, model_id: str = DEFAULT_MODEL_ID, *, client: Any = None, region: str | None = None) -> None:
        self.model_id = model_id
        self._client = client  # tests: a client with a Stubber; else built per timeout on first use
        self._region = region
        self._clients: dict[float, Any] = {}
        self._lock = threading.Lock()

    def client(self, timeout_s: float) -> Any:
        if self._client is not None:
            return self._client
        with self._lock:
            if timeout_s not in self._clients:
                import boto3
                from botocore.config import Config

                config = Config(
                    connect_timeout=timeout_s,
                    read_timeout=timeout_s,
                    retries={"total_max_attempts": 1, "mode": "standard"},
                )
                self._clients[timeout_s] = boto3.client("bedrock-runtime", region_name=self._region, config=config)
            return self._clients[timeout_s]

    def complete_json(self, system: str, user: str, schema: Mapping[str, Any], *, timeout_s: float) -> dict[str, Any]:
        tool = answer_tool(schema)
        turn = self.converse([user_message(user)], [tool], system=system, timeout_s=timeout_s, tool_choice=tool.name)
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
        request: dict[str, Any] = {
            "modelId": self.model_id,
            "system": [{"text": system}],
            "messages": to_converse(messages),
            "inferenceConfig": {"maxTokens": max_tokens, "temperature": 0.0},
        }
        if tools:
            config: dict[str, Any] = {
                "tools": [
                    {"toolSpec": {"name": t.name, "description": t.description, "inputSchema": {"json": t.schema}}}
                    for t in tools
                ]
            }
            config["toolChoice"] = {"tool": {"name": tool_choice}} if tool_choice else {"auto": {}}
            request["toolConfig"] = config
        response = self._call(request, timeout_s)
        return from_converse(response)

    def _call(self, request: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            ConnectTimeoutError,
            ReadTimeoutError,
        )

        try:
            response: dict[str, Any] = self.client(timeout_s).converse(**request)
        except (ReadTimeoutError, ConnectTimeoutError) as exc:
            raise LlmTimeout(f"bedrock: no answer within {timeout_s:g} s ({type(exc).__name__})") from None
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "ClientError")
            if code == "ModelTimeoutException":
                raise LlmTimeout(f"bedrock: {code}") from None
            raise LlmError(f"bedrock: {code}") from None
        except BotoCoreError as exc:
            raise LlmError(f"bedrock: {type(exc).__name__}") from None
        return response


def to_converse(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """Converse messages: tool results become ``toolResult`` blocks of a user message (consecutive ones merged)."""
    out: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "tool":
            result: dict[str, Any] = {"toolUseId": m.tool_call_id or "", "content": [_result_content(m.text)]}
            if m.is_error:
                result["status"] = "error"
            block = {"toolResult": result}
            if out and out[-1]["role"] == "user" and all("toolResult" in b for b in out[-1]["content"]):
                out[-1]["content"].append(block)
            else:
                out.append({"role": "user", "content": [block]})
            continue
        content: list[dict[str, Any]] = [{"text": m.text}] if m.text else []
        for call in m.tool_calls:
            content.append({"toolUse": {"toolUseId": call.id, "name": call.name, "input": call.arguments}})
        out.append({"role": m.role, "content": content or [{"text": " "}]})
    return out


def _result_content(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {"text": text}
    return {"json": value} if isinstance(value, dict) else {"text": text}


def from_converse(response: Mapping[str, Any]) -> ModelTurn:
    try:
        content = response["output"]["message"]["content"]
    except (KeyError, TypeError):
        raise LlmBadAnswer("bedrock: the answer has no output message") from None
    texts: list[str] = []
    calls: list[ToolCall] = []
    for block in content:
        if "text" in block:
            texts.append(str(block["text"]))
        elif "toolUse" in block:
            use = block["toolUse"]
            args = use.get("input")
            if not isinstance(args, dict):
                raise LlmBadAnswer("bedrock: a tool call's input is not a JSON object")
            calls.append(ToolCall(id=str(use.get("toolUseId", "")), name=str(use.get("name", "")), arguments=args))
    return ModelTurn(text="".join(texts), tool_calls=tuple(calls), stop_reason=str(response.get("stopReason", "")))
