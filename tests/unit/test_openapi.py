"""The merged OpenAPI document: parameters are never nullable (a query string cannot carry a JSON null)."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, Field

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


class Filters(BaseModel):
    kind: tuple[Literal["a", "b"], ...] = Field(default=(), description="repeatable")
    size: float | None = Field(default=None, ge=0, le=10)
    sort: Literal["x", "-x"] = "x"


def test_a_query_model_keeps_each_fields_enum_bounds_and_description() -> None:
    """Powertools expands ``Annotated[Model, Query()]`` into one parameter per field with only its basic type; the
    merged document restores each field's schema from the model (what GET /offers takes)."""
    app = APIGatewayRestResolver(enable_validation=True)

    @app.get("/models")
    def models(query: Annotated[Filters, Query()]) -> dict[str, int]:
        return {}

    doc = merge_openapi([app], title="t", version="1")
    params = {p["name"]: p for p in doc["paths"]["/models"]["get"]["parameters"]}
    assert set(params) == {"kind", "size", "sort"}
    assert params["kind"]["schema"]["items"]["enum"] == ["a", "b"] and params["kind"]["description"] == "repeatable"
    assert (params["size"]["schema"]["minimum"], params["size"]["schema"]["maximum"]) == (0, 10)
    assert params["sort"]["schema"]["enum"] == ["x", "-x"] and params["sort"]["schema"]["default"] == "x"
    assert all("default" not in p["schema"] for n, p in params.items() if n != "sort")
