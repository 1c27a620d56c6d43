"""The Bedrock adapter through botocore's Stubber (the request as Bedrock's own service model validates it,
tool-use answers, errors), and the message mappings of both adapters (the OpenAI-compatible adapter's calls are
tested against a local server: tests/integration/test_llm_openai_fake.py)."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from botocore.stub import ANY, Stubber

from gpubroker.adapters.llm.bedrock import BedrockLanguageModel, to_converse
from gpubroker.adapters.llm.openai_compat import to_openai
from gpubroker.domain.llm import LlmBadAnswer, LlmError, LlmTimeout, Message, ToolCall, ToolSpec
from gpubroker.services.assistant.parse_llm import llm_schema
from tests.llm_fakes import GOOD_SPEC, converse_answer

MODEL_ID = "anthropic.claude-3-haiku-20240307-v1:0"


@pytest.fixture
def bedrock() -> Iterator[tuple[BedrockLanguageModel, Stubber]]:
    client = boto3.client("bedrock-runtime", region_name="us-east-1", aws_access_key_id="x",
                          aws_secret_access_key="x")  # fmt: skip
    with Stubber(client) as stub:
        yield BedrockLanguageModel(MODEL_ID, client=client), stub
        stub.assert_no_pending_responses()


def test_bedrock_forces_the_answer_tool_and_returns_its_input(bedrock: tuple[BedrockLanguageModel, Stubber]) -> None:
    model, stub = bedrock
    expected = {
        "modelId": MODEL_ID,
        "system": [{"text": "sys"}],
        "messages": [{"role": "user", "content": [{"text": "serve llama"}]}],
        "inferenceConfig": ANY,
        "toolConfig": {
            "tools": [{"toolSpec": {"name": "answer", "description": ANY, "inputSchema": {"json": llm_schema()}}}],
            "toolChoice": {"tool": {"name": "answer"}},
        },
    }
    stub.add_response("converse", converse_answer(GOOD_SPEC), expected)
    assert model.complete_json("sys", "serve llama", llm_schema(), timeout_s=3) == GOOD_SPEC


@pytest.mark.parametrize(
    ("code", "error"), [("ThrottlingException", LlmError), ("AccessDeniedException", LlmError),
                        ("ModelTimeoutException", LlmTimeout)],
)  # fmt: skip
def test_bedrock_errors_are_llm_errors(bedrock: tuple[BedrockLanguageModel, Stubber], code: str,
                                       error: type[Exception]) -> None:  # fmt: skip
    model, stub = bedrock
    stub.add_client_error("converse", service_error_code=code, http_status_code=429)
    with pytest.raises(error, match=code):
        model.complete_json("sys", "text", {"type": "object"}, timeout_s=3)


def test_bedrock_text_without_a_tool_call_is_a_bad_answer(bedrock: tuple[BedrockLanguageModel, Stubber]) -> None:
    model, stub = bedrock
    stub.add_response("converse", {"output": {"message": {"role": "assistant", "content": [{"text": "Sure!"}]}},
                                   "stopReason": "end_turn", "usage": {"inputTokens": 1, "outputTokens": 1,
                                   "totalTokens": 2}, "metrics": {"latencyMs": 1}})  # fmt: skip
    with pytest.raises(LlmBadAnswer):
        model.complete_json("sys", "text", {"type": "object"}, timeout_s=3)


def test_bedrock_converse_carries_several_tool_calls_and_results(bedrock: tuple[BedrockLanguageModel, Stubber]) -> None:
    model, stub = bedrock
    answer = converse_answer({"q": 1})
    answer["output"]["message"]["content"].append({"toolUse": {"toolUseId": "t2", "name": "other", "input": {}}})
    stub.add_response("converse", answer)
    turn = model.converse([Message(role="user", text="hi")], [ToolSpec("answer", "d", {"type": "object"})],
                          system="s", timeout_s=3)  # fmt: skip
    assert [c.name for c in turn.tool_calls] == ["answer", "other"] and turn.stop_reason == "tool_use"
    history = [Message(role="user", text="hi"),
               Message(role="assistant", tool_calls=(ToolCall("a", "f", {"x": 1}), ToolCall("b", "g", {}))),
               Message(role="tool", tool_call_id="a", text='{"ok": true}'),
               Message(role="tool", tool_call_id="b", text="plain")]  # fmt: skip
    converse = to_converse(history)
    assert [m["role"] for m in converse] == ["user", "assistant", "user"]  # both results in one user message
    assert converse[2]["content"] == [{"toolResult": {"toolUseId": "a", "content": [{"json": {"ok": True}}]}},
                                      {"toolResult": {"toolUseId": "b", "content": [{"text": "plain"}]}}]  # fmt: skip
    assert to_openai(history)[1]["tool_calls"][0]["function"] == {"name": "f", "arguments": '{"x": 1}'}
