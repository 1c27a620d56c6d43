"""The merged OpenAPI document: parameters are never nullable (a query string cannot carry a JSON null); JSON
Schema keywords only; operationIds, tags, rate limits and the authorizer documented; every $ref resolving."""

from __future__ import annotations

from typing import Annotated, Literal

import pytest
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from pydantic import BaseModel, BeforeValidator, Field, create_model

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


Count = Annotated[int, BeforeValidator(lambda v: v)]


class Sizing(BaseModel):
    """pydantic writes the bounds of a constrained optional field with a before-validator (``Int | None`` of
    gpubroker.domain.types) as ge/le inside the union: what LlmInference.gpu_count had in the document."""

    gpu_count: Count | None = Field(default=None, ge=1, le=4096)
    share: float | None = Field(default=None, gt=0, lt=1)
    name: Annotated[str, BeforeValidator(lambda v: v)] | None = Field(default=None, min_length=2, max_length=8)


SizingTwin = create_model("Sizing", gpus=(int, ...))  # another model named Sizing


def _named() -> dict[str, APIGatewayRestResolver]:
    offers, me, sizing = (APIGatewayRestResolver(enable_validation=True) for _ in range(3))

    @offers.get("/offers/<offer_id>")
    def read(offer_id: str) -> dict[str, int]:
        return {}

    @me.get("/me/presets")
    def mine() -> dict[str, int]:
        return {}

    @sizing.post("/math/sizing")
    def size(body: Annotated[Sizing, Body()]) -> dict[str, int]:
        return {}

    return {"api_get_offer": offers, "api_list_my_presets": me, "api_math_sizing": sizing}


def test_bounds_in_an_optional_union_become_json_schema_keywords() -> None:
    doc = merge_openapi(_named(), title="t", version="1")
    props = doc["components"]["schemas"]["Sizing"]["properties"]
    assert props["gpu_count"]["anyOf"][0] == {"type": "integer", "minimum": 1, "maximum": 4096}
    assert props["share"]["anyOf"][0] == {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}
    assert props["name"]["anyOf"][0] == {"type": "string", "minLength": 2, "maxLength": 8}


def test_operation_ids_come_from_the_function_and_tags_from_the_path() -> None:
    doc = merge_openapi(_named(), title="t", version="1")
    ops = {path: item[method] for path, item in doc["paths"].items() for method in item}
    assert {p: op["operationId"] for p, op in ops.items()} == {
        "/offers/{offer_id}": "getOffer",
        "/me/presets": "listMyPresets",
        "/math/sizing": "mathSizing",
    }
    assert {p: op["tags"] for p, op in ops.items()} == {
        "/offers/{offer_id}": ["offers"],
        "/me/presets": ["presets"],
        "/math/sizing": ["math"],
    }
    assert [t["name"] for t in doc["tags"]] == ["math", "offers", "presets"]
    # resolvers given without their function's name: from method and path
    unnamed = merge_openapi(list(_named().values()), title="t", version="1")
    assert unnamed["paths"]["/offers/{offer_id}"]["get"]["operationId"] == "getOffersOfferId"


def test_powertools_validation_schemas_are_gone_and_every_ref_resolves() -> None:
    doc = merge_openapi(_named(), title="t", version="1")
    assert not {"HTTPValidationError", "ValidationError", "ResponseValidationError"} & set(doc["components"]["schemas"])
    assert "ValidationError" not in str(doc)


def test_a_route_or_schema_name_claimed_twice_and_a_dangling_ref_are_refused() -> None:
    apps = _named()
    with pytest.raises(ValueError, match="routed by two functions"):
        merge_openapi({**apps, "api_other": apps["api_get_offer"]}, title="t", version="1")
    other = APIGatewayRestResolver(enable_validation=True)

    @other.post("/math/other")
    def size(body: Annotated[SizingTwin, Body()]) -> dict[str, int]:
        return {}

    with pytest.raises(ValueError, match="two different schemas are named Sizing"):
        merge_openapi({**apps, "api_math_other": other}, title="t", version="1")
    dangling = APIGatewayRestResolver(enable_validation=True)

    @dangling.get("/x", responses={200: {"description": "OK", "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Nowhere"}}}}})  # fmt: skip
    def x() -> dict[str, int]:
        return {}

    with pytest.raises(ValueError, match="Nowhere points nowhere"):
        merge_openapi([dangling], title="t", version="1")


def test_rate_limits_and_the_authorizer_are_documented() -> None:
    doc = merge_openapi(_named(), title="t", version="1", protected=[("GET", "/me/presets")])
    mine, offer = doc["paths"]["/me/presets"]["get"], doc["paths"]["/offers/{offer_id}"]["get"]
    for op in (mine, offer):
        assert op["responses"]["200"]["headers"]["RateLimit"]["required"] is True
        assert op["responses"]["429"]["headers"]["Retry-After"]["schema"] == {"type": "integer", "minimum": 1}
    assert mine["security"] == [{"bearerAuth": [], "fingerprintCookie": []}] and "security" not in offer
    assert {"401", "403"} <= set(mine["responses"]) and not {"401", "403"} & set(offer["responses"])
    assert set(doc["components"]["securitySchemes"]) == {"bearerAuth", "fingerprintCookie"}
