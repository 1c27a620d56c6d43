"""Real API Gateway REST proxy events (the shape `sam local generate-event apigateway aws-proxy` gives)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

_BASE = json.loads((Path(__file__).parent / "events" / "apigw_rest_get.json").read_text())


def rest_event(
    resource: str,
    path: str,
    query: dict[str, list[str]] | None = None,
    path_params: dict[str, str] | None = None,
) -> dict[str, Any]:
    ev: dict[str, Any] = json.loads(json.dumps(_BASE))
    ev["resource"] = resource
    ev["path"] = path
    ev["requestContext"]["resourcePath"] = resource
    ev["requestContext"]["path"] = f"/dev{path}"
    ev["queryStringParameters"] = {k: v[-1] for k, v in query.items()} if query else None
    ev["multiValueQueryStringParameters"] = dict(query) if query else None
    ev["pathParameters"] = path_params
    return ev


def query_string(query: dict[str, list[str]]) -> str:
    return urlencode([(k, v) for k, vs in query.items() for v in vs])


class Ctx:
    function_name = "test"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:test"
    aws_request_id = "00000000-0000-0000-0000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000
