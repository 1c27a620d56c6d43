"""template.yaml as data: functions, their routes, schedules, environment, and the resources they refer to.

The local stack and the tests read everything from here, so the template stays the one source of truth.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation short tags (!Ref X -> {"Ref": X}, !GetAtt a.b -> {"Fn::GetAtt": [a, b]}, ...)."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _tag)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    with path.open(encoding="utf-8") as fh:
        data: dict[str, Any] = yaml.load(fh, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    return data


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # API Gateway resource path, e.g. /offers/{offer_id}
    function: str  # logical id

    @property
    def regex(self) -> re.Pattern[str]:
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.path))
        return re.compile(f"^{pattern}$")


@dataclass(frozen=True)
class Schedule:
    function: str
    name: str
    expression: str
    input: dict[str, Any]


@dataclass
class Function:
    logical_id: str
    code_uri: Path
    handler: str
    environment: dict[str, Any] = field(default_factory=dict)
    layers: list[Any] = field(default_factory=list)
    reserved_concurrency: int | None = None

    @property
    def module_name(self) -> str:
        """Importable name: functions/api_list_offers/handler.py -> functions.api_list_offers.handler."""
        rel = self.code_uri.relative_to(ROOT)
        module, _ = self.handler.rsplit(".", 1)
        return ".".join([*rel.parts, module])

    @property
    def attribute(self) -> str:
        return self.handler.rsplit(".", 1)[1]


@dataclass
class App:
    template: dict[str, Any]
    functions: dict[str, Function]
    routes: list[Route]
    schedules: list[Schedule]
    global_env: dict[str, Any]

    def resources(self, type_: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.template["Resources"].items() if v["Type"] == type_}

    def parameter_defaults(self) -> dict[str, Any]:
        return {k: v.get("Default") for k, v in self.template.get("Parameters", {}).items()}


def read_app(path: Path = TEMPLATE) -> App:
    tpl = load_template(path)
    globals_fn = tpl.get("Globals", {}).get("Function", {})
    global_env = dict(globals_fn.get("Environment", {}).get("Variables", {}))
    functions: dict[str, Function] = {}
    routes: list[Route] = []
    schedules: list[Schedule] = []
    for lid, res in tpl["Resources"].items():
        if res["Type"] != "AWS::Serverless::Function":
            continue
        props = res["Properties"]
        functions[lid] = Function(
            logical_id=lid,
            code_uri=(path.parent / props["CodeUri"]).resolve(),
            handler=props.get("Handler", globals_fn.get("Handler", "handler.lambda_handler")),
            environment=dict(props.get("Environment", {}).get("Variables", {})),
            layers=[*globals_fn.get("Layers", []), *props.get("Layers", [])],
            reserved_concurrency=props.get("ReservedConcurrentExecutions"),
        )
        for ev_name, ev in (props.get("Events") or {}).items():
            ep = ev.get("Properties", {})
            if ev["Type"] in {"Api", "HttpApi"}:
                routes.append(Route(method=ep["Method"].upper(), path=ep["Path"], function=lid))
            elif ev["Type"] in {"Schedule", "ScheduleV2"}:
                raw_input = ep.get("Input")
                schedules.append(
                    Schedule(
                        function=lid,
                        name=ev_name,
                        expression=str(ep.get("ScheduleExpression")),
                        input=json.loads(raw_input) if isinstance(raw_input, str) else {},
                    )
                )
    return App(template=tpl, functions=functions, routes=routes, schedules=schedules, global_env=global_env)


def resolve(value: Any, names: dict[str, str], params: dict[str, Any]) -> Any:
    """Resolve !Ref to a physical name (resources) or a parameter's default; other intrinsics are not needed."""
    if isinstance(value, dict) and "Ref" in value:
        ref = value["Ref"]
        if ref in names:
            return names[ref]
        if ref in params:
            return params[ref]
        raise KeyError(f"cannot resolve !Ref {ref}")
    return value
