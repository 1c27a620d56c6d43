"""Test doubles of a language model: a local OpenAI-compatible server (``FakeOpenAI``: http.server on 127.0.0.1,
a thread) whose behaviour each test sets, and Converse answers for botocore's Stubber."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

GOOD_SPEC: dict[str, Any] = {
    "workload_type": {"value": "llm_inference", "confidence": 0.9},
    "model": {"value": "llama 3.1 70b instruct", "confidence": 0.9},
    "precision": {"value": "fp16", "written": "fp16", "confidence": 0.9},
    "context_tokens": {"value": 4096, "confidence": 0.9},
    "concurrency": {"value": 8, "confidence": 0.9},
    "budget_usd": {"amount": 10, "currency": "EUR", "period": "hour", "confidence": 0.8},
    "region": {"written": ["Germany"], "confidence": 0.9},
}
"""What a model would answer for TEXT (deliberately unlike the rules engine's reading in one place: the rules engine
reads the same text, so a test can tell which engine answered)."""
TEXT = "serve llama 3.1 70b in fp16 to 8 users, 4k context, in Germany, up to 10 euros an hour"
BAD_SPEC: dict[str, Any] = {"workload_type": {"value": "quantum_computing", "confidence": 2}}


def chat_answer(arguments: dict[str, Any] | str, *, as_text: bool = False) -> dict[str, Any]:
    """An OpenAI chat completion answering with one tool call (or the JSON as text)."""
    args = arguments if isinstance(arguments, str) else json.dumps(arguments)
    if as_text:
        message: dict[str, Any] = {"role": "assistant", "content": args}
        return {"id": "x", "object": "chat.completion", "choices": [{"index": 0, "message": message,
                                                                     "finish_reason": "stop"}]}  # fmt: skip
    call = {"id": "call_1", "type": "function", "function": {"name": "answer", "arguments": args}}
    message = {"role": "assistant", "content": None, "tool_calls": [call]}
    return {"id": "x", "object": "chat.completion",
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}]}  # fmt: skip


def converse_answer(arguments: dict[str, Any]) -> dict[str, Any]:
    """A Bedrock Converse response whose one content block is a call of the ``answer`` tool."""
    return {
        "output": {"message": {"role": "assistant", "content": [
            {"toolUse": {"toolUseId": "tooluse_1", "name": "answer", "input": arguments}}]}},
        "stopReason": "tool_use",
        "usage": {"inputTokens": 900, "outputTokens": 120, "totalTokens": 1020},
        "metrics": {"latencyMs": 800},
    }  # fmt: skip


class FakeOpenAI:
    """``POST /v1/chat/completions``: ``mode`` is ``answer`` (``body`` as the answer), ``status`` (answers
    ``status``), ``hang`` (sleeps ``hang_s`` before answering) or ``garbage`` (not JSON). Records the requests."""

    def __init__(self) -> None:
        self.mode = "answer"
        self.body: dict[str, Any] = chat_answer(GOOD_SPEC)
        self.status = 500
        self.hang_s = 30.0
        self.requests: list[dict[str, Any]] = []
        self._stop = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                auth = self.headers.get("Authorization")
                fake.requests.append({"path": self.path, "body": body, "authorization": auth})
                if fake.mode == "hang":
                    fake._stop.wait(fake.hang_s)
                    if fake._stop.is_set():
                        return
                if fake.mode == "status":
                    self._send(fake.status, b'{"error": {"message": "overloaded"}}')
                elif fake.mode == "garbage":
                    self._send(200, b"<html>not json")
                else:
                    self._send(200, json.dumps(fake.body).encode())

            def _send(self, status: int, data: bytes) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up (a timeout test)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)

    def start(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def fake_openai() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI().start()
    try:
        yield fake
    finally:
        fake.close()


def wait_for(predicate: Any, timeout_s: float = 2.0) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return bool(predicate())
