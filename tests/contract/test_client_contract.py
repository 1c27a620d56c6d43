"""The Python client (clients/python) against the API's contract: its models are the generator's output for the
current OpenAPI document, its offer filters and the `gpubroker offers` options are /offers' parameters, and it
imports nothing of the server's."""

from __future__ import annotations

import ast
import inspect
import json
from pathlib import Path

from gpubroker_client import cli
from gpubroker_client.calls import OfferQuery

from infra import client_models

PACKAGE = Path(inspect.getfile(cli)).parent
PAGING = {"sort", "limit", "cursor"}


def offers_parameters() -> set[str]:
    document = json.loads(client_models.DOCUMENT.read_text())
    return {p["name"] for p in document["paths"]["/offers"]["get"]["parameters"]} - PAGING


def test_the_committed_models_are_the_generators_output_for_the_current_document() -> None:
    assert client_models.main(["--check"]) == 0, "run `make client-models` (after `make openapi`)"


def test_the_client_knows_every_filter_of_offers_and_no_other() -> None:
    assert set(OfferQuery.__annotations__) == offers_parameters()


def test_the_offers_command_has_an_option_for_every_filter() -> None:
    options = set(inspect.signature(cli.offers).parameters)
    assert offers_parameters() <= options


def test_the_client_imports_nothing_of_the_server() -> None:
    server = {"gpubroker", "gpumath", "functions", "infra", "tests"}
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else ([node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            )
            assert not [n for n in names if n.split(".")[0] in server], (path.name, names)


def test_every_routes_answer_has_its_model() -> None:
    from gpubroker_client import models

    document = json.loads(client_models.DOCUMENT.read_text())
    answers: set[str] = set()
    for route in document["paths"].values():
        for operation in route.values():
            for status, answer in operation["responses"].items():
                schema = answer.get("content", {}).get("application/json", {}).get("schema", {})
                refs = [schema, *schema.get("anyOf", [])]
                answers |= {r["$ref"].rsplit("/", 1)[1] for r in refs if "$ref" in r and status.startswith("2")}
    missing = sorted(name for name in answers if not hasattr(models, name))
    assert len(answers) > 40 and missing == []
