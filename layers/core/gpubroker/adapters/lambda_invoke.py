"""Runs an event through another Lambda function synchronously (``Invoke``, ``RequestResponse``): the port
``IngestionRunner``, used by ``DELETE /providers/{name}`` to ask the ingestion function, the snapshot's one
writer, to remove a provider.

A function error comes back as ``X-Amz-Function-Error`` with ``{"errorType", "errorMessage"}``: an ``errorType``
that names one of the domain errors the ingestion function raises on purpose is raised again as that class (the
class names are the vocabulary across the boundary, as in the state machine's Retry/Catch); any other error is a
``SourceError`` (502). A throttled
invoke (the ingestion function runs one event at a time) is ``IngestionBusy`` (503).

The client never retries and waits up to 25 s for the answer: a retried removal whose first attempt went through
would answer 404 for a provider it removed, and a timed-out one must not run twice.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from gpubroker.domain import errors

# the errors the ingestion function raises on purpose, by the class name Lambda reports as ``errorType``
RAISED_BY_INGESTION: dict[str, type[errors.DomainError]] = {
    cls.__name__: cls for cls in (errors.ValidationFailed, errors.ProviderNotFound, errors.BuiltinProvider)
}


class LambdaIngestionRunner:
    def __init__(self, function_name: str) -> None:
        self.function_name = function_name
        self._client: Any = None

    @property
    def _lambda(self) -> Any:
        if self._client is None:  # built on first use, after any mock or local endpoint is up
            import boto3
            from botocore.config import Config

            cfg = Config(retries={"total_max_attempts": 1}, connect_timeout=3, read_timeout=25)
            self._client = boto3.session.Session().client("lambda", config=cfg)
        return self._client

    def run(self, event: Mapping[str, Any]) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        try:
            resp = self._lambda.invoke(FunctionName=self.function_name, InvocationType="RequestResponse",
                              Payload=json.dumps(dict(event)).encode())  # fmt: skip
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "TooManyRequestsException":
                raise errors.IngestionBusy("ingestion is running another event; retry shortly") from None
            raise
        payload = json.loads(resp["Payload"].read() or b"null")
        if resp.get("FunctionError"):
            error_type = str((payload or {}).get("errorType", ""))
            message = str((payload or {}).get("errorMessage", "the ingestion function failed"))
            raise RAISED_BY_INGESTION.get(error_type, errors.SourceError)(message)
        if not isinstance(payload, dict):
            raise errors.SourceError("the ingestion function answered with no report")
        return payload
