"""The API's OpenAPI document, generated from template.yaml and the functions' own resolvers.

Every REST route of the template, whoever added it, is in it: the routes and which of them sit behind the Lambda
authorizer come from the template, each route's parameters, bodies and answers from its function's resolver
(``gpubroker.api.openapi.merge_openapi`` does the merging). The same document is served in both places by
``GET /openapi.json`` (functions/api_get_openapi):

- in AWS, the function ships ``openapi.json`` beside its handler: ``make openapi`` writes it, ``make build``
  runs it before ``sam build``, and a contract test keeps the committed file equal to this generator's output, so
  a plain ``sam build`` publishes the current document too;
- the local stack generates it afresh at start (``--out`` into its own folder) and points the same function at it
  (``OPENAPI_DOCUMENT``), so a route added a minute ago is documented without regenerating anything.

``python -m infra.openapi [--out PATH]``: write the document (default: the function's ``openapi.json``);
``--check``: exit 1 when that file is not the current document.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import tomllib
from pathlib import Path
from typing import Any

from infra.local.template import ROOT, App, read_app

for _path in (ROOT / "layers/math", ROOT / "layers/core", ROOT):  # what Lambda has on sys.path (/opt/python, task)
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

TITLE = "GPUBroker API"
SERVED = ROOT / "functions/api_get_openapi/openapi.json"
DESCRIPTION = """\
Find, compare and book GPU offers across clouds.

Errors: every error answer is JSON `{"error": {"code", "message", "details"}}` with a machine-readable `code`
(ErrorDetail lists them all) and the matching status; bad input is a 4xx, never a 5xx.

Rate limits: every route is held to the caller's plan rate (per user when a valid bearer token comes with the
request, else per source IP at the free rate). Successful answers carry `RateLimit` and `RateLimit-Policy`; a 429
carries `Retry-After`.

Protected routes (security: bearerAuth + fingerprintCookie) need the access token from `POST /auth/login` in
`Authorization: Bearer ...` and the fingerprint cookie the login set.
"""


def api_version() -> str:
    with (ROOT / "pyproject.toml").open("rb") as fh:
        return str(tomllib.load(fh)["project"]["version"])


def build_document(app: App | None = None) -> dict[str, Any]:
    """The document of every REST route of ``app`` (default: template.yaml)."""
    from gpubroker.api.openapi import merge_openapi

    app = app or read_app()
    resolvers = {}
    for lid in sorted({r.function for r in app.routes}):
        fn = app.functions[lid]
        resolvers[fn.code_uri.name] = importlib.import_module(fn.module_name).app
    protected = [(r.method, r.path) for r in app.routes if r.authorizer]
    return merge_openapi(resolvers, title=TITLE, version=api_version(), protected=protected, description=DESCRIPTION)


def render(doc: dict[str, Any]) -> str:
    """The file's text: keys sorted, indented, so a route's change is a readable diff."""
    return json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def write(doc: dict[str, Any], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    tmp.write_text(render(doc), encoding="utf-8")
    tmp.replace(out)  # atomic: a function reading it sees the old document or the new one, whole


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.openapi", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=SERVED, help="where to write the document")
    parser.add_argument("--check", action="store_true", help="exit 1 when --out is not the current document")
    args = parser.parse_args(argv)
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "GPUBroker")
    doc = build_document()
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != render(doc):
            print(f"{args.out} is not the current document: run `make openapi` and commit it", file=sys.stderr)
            return 1
        return 0
    write(doc, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
