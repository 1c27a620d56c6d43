"""The Lambda invoke adapter of ``IngestionRunner`` (botocore's Stubber, no network): a function error comes back
as the domain error it names, a throttle as ``IngestionBusy``, and nothing is retried."""

from __future__ import annotations

import io
import json
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from gpubroker.adapters.lambda_invoke import LambdaIngestionRunner
from gpubroker.domain.errors import IngestionBusy, ProviderNotFound, SourceError

EVENT = {"provider": "nebius", "action": "remove"}


def runner() -> tuple[LambdaIngestionRunner, Stubber]:
    r = LambdaIngestionRunner("IngestOffersFunction")
    r._client = boto3.session.Session().client("lambda", region_name="us-east-1")
    return r, Stubber(r._client)


def body(payload: Any) -> StreamingBody:
    raw = json.dumps(payload).encode()
    return StreamingBody(io.BytesIO(raw), len(raw))


def expected() -> dict[str, Any]:
    return {"FunctionName": "IngestOffersFunction", "InvocationType": "RequestResponse",
            "Payload": json.dumps(EVENT).encode()}  # fmt: skip


def test_the_answer_is_the_functions_report() -> None:
    r, stub = runner()
    report = {"provider": "nebius", "status": "removed", "marked_unavailable": 3, "snapshot_version": "v2"}
    stub.add_response("invoke", {"StatusCode": 200, "Payload": body(report)}, expected())
    with stub:
        assert r.run(EVENT) == report


def test_a_domain_error_crosses_the_boundary_by_class_name() -> None:
    r, stub = runner()
    error = {"errorType": "ProviderNotFound", "errorMessage": "no catalog-only provider 'nebius'"}
    stub.add_response("invoke", {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": body(error)}, expected())
    with stub, pytest.raises(ProviderNotFound, match="no catalog-only provider"):
        r.run(EVENT)


@pytest.mark.parametrize("error_type", ["KeyError", "Exception", "TooManyRequests", "DomainError", "object"])
def test_any_other_error_is_a_source_error(error_type: str) -> None:
    r, stub = runner()
    error = {"errorType": error_type, "errorMessage": "boom"}
    stub.add_response("invoke", {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": body(error)}, expected())
    with stub, pytest.raises(SourceError):
        r.run(EVENT)


def test_a_throttle_is_ingestion_busy_and_is_not_retried() -> None:
    r, stub = runner()
    stub.add_client_error("invoke", "TooManyRequestsException", http_status_code=429)
    with stub, pytest.raises(IngestionBusy):
        r.run(EVENT)
    stub.assert_no_pending_responses()
