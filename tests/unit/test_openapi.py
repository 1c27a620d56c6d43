"""The merged OpenAPI document: parameters are never nullable (a query string cannot carry a JSON null)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.params import Query

from gpubroker.api.openapi import merge_openapi


def _app() -> APIGatewayRestResolver:
    app = APIGatewayRestResolver(enable_validation=True)

    @app.get("/things")
    def things(
        region: Annotated[list[str] | None, Query(description="repeatable")] = None,
        limit: Annotated[int | None, Query(ge=1)] = None,
        either: Annotated[int | str | None, Query()] = None,
    ) -> dict[str, int]:
        return {}

    return app


def test_optional_parameters_lose_the_null_branch_and_keep_their_constraints() -> None:
    doc = merge_openapi([_app()], title="t", version="1")
    params = {p["name"]: p["schema"] for p in doc["paths"]["/things"]["get"]["parameters"]}
    assert params["region"]["type"] == "array" and params["region"]["items"] == {"type": "string"}
    assert params["region"]["description"] == "repeatable"
    assert params["limit"]["type"] == "integer" and params["limit"]["minimum"] == 1
    # a real union stays a union, only without null
    assert {"type": "null"} not in params["either"].get("anyOf", [])
    for schema in params.values():
        assert "null" not in str(schema.get("anyOf", "")) and schema.get("type") != "null"
