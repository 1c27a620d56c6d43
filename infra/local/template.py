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
        data: dict[str, Any] = yaml.load(fh, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass  # nosec B506
    return data


DEFAULT_TIMEOUT_S = 3.0
"""Lambda's timeout when neither the function nor Globals sets one."""
ACCOUNT = "123456789012"
REGION = "us-east-1"


def function_arn(name: str) -> str:
    """The ARN of a function as the local stack's Invoke API knows it (``!GetAtt <Function>.Arn``)."""
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


def function_name(name_or_arn: str) -> str:
    """What Lambda's Invoke API accepts as ``FunctionName``, reduced to the name: a name, a partial ARN
    (``123456789012:function:Name``) or a full ARN, each with an optional ``:qualifier`` (version or alias, which the
    local stack does not keep: every invocation runs ``$LATEST``)."""
    parts = name_or_arn.split(":")
    if "function" in parts:
        return parts[parts.index("function") + 1]
    return parts[0]


def state_machine_arn(name: str) -> str:
    return f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}"


@dataclass(frozen=True)
class StateMachine:
    """An ``AWS::Serverless::StateMachine``: its ASL (``DefinitionUri`` or inline ``Definition``) and the
    ``DefinitionSubstitutions`` that fill its ``${...}`` placeholders."""

    logical_id: str
    definition: str  # the ASL text, placeholders not yet substituted
    substitutions: dict[str, Any]  # name -> value as written (!GetAtt, !Ref, a literal)
    type: str = "STANDARD"

    def render(self, names: dict[str, str], params: dict[str, Any]) -> dict[str, Any]:
        """The definition with every ``${Name}`` replaced by its substitution resolved (:func:`resolve`), as
        CloudFormation does; a placeholder without a substitution is an error (CloudFormation refuses it too)."""
        values = {k: str(resolve(v, names, params)) for k, v in self.substitutions.items()}

        def value(m: re.Match[str]) -> str:
            if m.group(1) not in values:
                raise KeyError(f"{self.logical_id}: no DefinitionSubstitutions entry for ${{{m.group(1)}}}")
            return values[m.group(1)]

        document: dict[str, Any] = json.loads(_PLACEHOLDER.sub(value, self.definition))
        return document


_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # API Gateway resource path, e.g. /offers/{offer_id}
    function: str  # logical id
    authorizer: str | None = None  # the name of the Api's Lambda authorizer that guards it (Auth.Authorizer)

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


@dataclass(frozen=True)
class WsRoute:
    """An ``AWS::ApiGatewayV2::Route`` of a WEBSOCKET API: route key -> integration -> function."""

    api: str  # logical id of the AWS::ApiGatewayV2::Api
    route_key: str  # $connect, $disconnect, $default or an action
    function: str  # logical id
    two_way: bool  # a RouteResponse exists: the integration's body goes back to the client


@dataclass(frozen=True)
class StreamTrigger:
    """A DynamoDB event source: the table whose stream invokes ``function``."""

    function: str
    table: str  # logical id of the AWS::DynamoDB::Table
    batch_size: int
    bisect_on_error: bool
    max_retries: int  # MaximumRetryAttempts; -1 (Lambda's default): until the records expire
    report_failures: bool = False  # FunctionResponseTypes has ReportBatchItemFailures
    on_failure: str | None = None  # DestinationConfig.OnFailure: logical id of the SQS queue (!GetAtt <Queue>.Arn)
    max_record_age_s: int = -1  # MaximumRecordAgeInSeconds; -1: no limit


@dataclass(frozen=True)
class QueueTrigger:
    """An SQS event source: the queue whose messages invoke ``function``, ``batch_size`` at a time, by at most
    ``max_concurrency`` invocations at once (``ScalingConfig.MaximumConcurrency``; Lambda's default: 1,000)."""

    function: str
    queue: str  # logical id of the AWS::SQS::Queue
    batch_size: int
    max_concurrency: int
    report_failures: bool  # FunctionResponseTypes has ReportBatchItemFailures


@dataclass
class Function:
    logical_id: str
    code_uri: Path
    handler: str
    environment: dict[str, Any] = field(default_factory=dict)
    layers: list[Any] = field(default_factory=list)
    reserved_concurrency: int | None = None
    local_seed: dict[str, Any] | None = None  # Metadata.LocalSeed.Input: run once by the local stack at start
    timeout_s: float = DEFAULT_TIMEOUT_S  # Timeout (the function's, else Globals'): longer, Lambda stops it

    @property
    def module_name(self) -> str:
        """Importable name: functions/api_list_offers/handler.py -> functions.api_list_offers.handler."""
        rel = self.code_uri.relative_to(ROOT)
        module, _ = self.handler.rsplit(".", 1)
        return ".".join([*rel.parts, module])

    @property
    def attribute(self) -> str:
        return self.handler.rsplit(".", 1)[1]


@dataclass(frozen=True)
class Authorizer:
    """A REQUEST Lambda authorizer of the REST API (``Auth.Authorizers`` of the AWS::Serverless::Api)."""

    name: str
    function: str  # logical id
    headers: tuple[str, ...]  # identity sources: every one must be present, and together they key the cache
    ttl_s: int  # ReauthorizeEvery


@dataclass(frozen=True)
class GatewayResponse:
    """A customised API Gateway response (``GatewayResponses``): what the gateway itself answers."""

    status: int
    headers: dict[str, str]
    body: str


def _authorizers(api: dict[str, Any]) -> dict[str, Authorizer]:
    out = {}
    for name, spec in ((api.get("Auth") or {}).get("Authorizers") or {}).items():
        function = spec["FunctionArn"]["Fn::GetAtt"][0]
        identity = spec.get("Identity") or {}
        out[name] = Authorizer(name=name, function=function, headers=tuple(identity.get("Headers") or ()),
                               ttl_s=int(identity.get("ReauthorizeEvery", 300)))  # fmt: skip
    return out


def _gateway_responses(api: dict[str, Any]) -> dict[str, GatewayResponse]:
    out = {}
    for kind, spec in (api.get("GatewayResponses") or {}).items():
        if "StatusCode" not in spec:
            continue  # DEFAULT_4XX/5XX only add headers (nosniff), which the local front sets on every answer
        headers = (spec.get("ResponseParameters") or {}).get("Headers") or {}
        out[kind] = GatewayResponse(
            status=int(spec["StatusCode"]),
            headers={k: str(v).strip("'") for k, v in headers.items()},  # literal values are single-quoted
            body=str((spec.get("ResponseTemplates") or {}).get("application/json", "")),
        )
    return out


@dataclass
class App:
    template: dict[str, Any]
    functions: dict[str, Function]
    routes: list[Route]
    schedules: list[Schedule]
    global_env: dict[str, Any]
    ws_routes: list[WsRoute] = field(default_factory=list)
    stream_triggers: list[StreamTrigger] = field(default_factory=list)
    queue_triggers: list[QueueTrigger] = field(default_factory=list)
    authorizers: dict[str, Authorizer] = field(default_factory=dict)
    gateway_responses: dict[str, GatewayResponse] = field(default_factory=dict)
    state_machines: dict[str, StateMachine] = field(default_factory=dict)

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
    triggers: list[StreamTrigger] = []
    queue_triggers: list[QueueTrigger] = []
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
            local_seed=_local_seed(res),
            timeout_s=_timeout(props.get("Timeout", globals_fn.get("Timeout", DEFAULT_TIMEOUT_S)), tpl),
        )
        for ev_name, ev in (props.get("Events") or {}).items():
            ep = ev.get("Properties", {})
            if ev["Type"] in {"Api", "HttpApi"}:
                auth = (ep.get("Auth") or {}).get("Authorizer")
                routes.append(Route(method=ep["Method"].upper(), path=ep["Path"], function=lid,
                                    authorizer=None if auth in (None, "NONE") else str(auth)))  # fmt: skip
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
            elif ev["Type"] == "DynamoDB":
                table, attr = ep["Stream"]["Fn::GetAtt"]
                assert attr == "StreamArn", f"{lid}.{ev_name}: Stream must be !GetAtt <Table>.StreamArn"
                triggers.append(
                    StreamTrigger(
                        function=lid,
                        table=table,
                        batch_size=int(ep.get("BatchSize", 100)),
                        bisect_on_error=bool(ep.get("BisectBatchOnFunctionError", False)),
                        max_retries=int(ep.get("MaximumRetryAttempts", -1)),
                        report_failures="ReportBatchItemFailures" in (ep.get("FunctionResponseTypes") or ()),
                        on_failure=_on_failure_queue(lid, ev_name, ep),
                        max_record_age_s=int(ep.get("MaximumRecordAgeInSeconds", -1)),
                    )
                )
            elif ev["Type"] == "SQS":
                queue, attr = ep["Queue"]["Fn::GetAtt"]
                assert attr == "Arn", f"{lid}.{ev_name}: Queue must be !GetAtt <Queue>.Arn"
                queue_triggers.append(
                    QueueTrigger(
                        function=lid,
                        queue=queue,
                        batch_size=int(ep.get("BatchSize", 10)),
                        max_concurrency=int((ep.get("ScalingConfig") or {}).get("MaximumConcurrency", 1000)),
                        report_failures="ReportBatchItemFailures" in (ep.get("FunctionResponseTypes") or ()),
                    )
                )
    rest_apis = [r["Properties"] for r in tpl["Resources"].values() if r["Type"] == "AWS::Serverless::Api"]
    return App(
        authorizers={k: v for api in rest_apis for k, v in _authorizers(api).items()},
        gateway_responses={k: v for api in rest_apis for k, v in _gateway_responses(api).items()},
        template=tpl,
        functions=functions,
        routes=routes,
        schedules=schedules,
        global_env=global_env,
        ws_routes=_ws_routes(tpl, set(functions)),
        stream_triggers=triggers,
        queue_triggers=queue_triggers,
        state_machines=_state_machines(tpl, path.parent),
    )


def _timeout(value: Any, tpl: dict[str, Any]) -> float:
    """A function's ``Timeout``: a number, or ``!Ref`` of a parameter (its default)."""
    if isinstance(value, dict) and "Ref" in value:
        value = tpl.get("Parameters", {})[value["Ref"]]["Default"]
    return float(value)


def _state_machines(tpl: dict[str, Any], base: Path) -> dict[str, StateMachine]:
    out = {}
    for lid, res in tpl["Resources"].items():
        if res["Type"] != "AWS::Serverless::StateMachine":
            continue
        props = res["Properties"]
        if "DefinitionUri" in props:
            uri = props["DefinitionUri"]
            assert isinstance(uri, str), f"{lid}: DefinitionUri must be a path (an S3 location is not read locally)"
            definition = (base / uri).read_text(encoding="utf-8")
        else:
            definition = json.dumps(props["Definition"])
        out[lid] = StateMachine(
            logical_id=lid,
            definition=definition,
            substitutions=dict(props.get("DefinitionSubstitutions") or {}),
            type=str(props.get("Type", "STANDARD")),
        )
    return out


_SUB_VAR = re.compile(r"\$\{([A-Za-z0-9:]+)(?:\.Arn)?\}")


def _sub_refs(value: Any) -> list[str]:
    """The resource names a ``!Sub`` string (or a plain ``!Ref``) refers to, in order."""
    if isinstance(value, dict) and "Ref" in value:
        return [str(value["Ref"])]
    if isinstance(value, dict) and "Fn::Sub" in value:
        text = value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]
        return [m for m in _SUB_VAR.findall(text) if "::" not in m]
    return []


def _ws_routes(tpl: dict[str, Any], functions: set[str]) -> list[WsRoute]:
    resources: dict[str, Any] = tpl["Resources"]
    ws_apis = {
        lid
        for lid, r in resources.items()
        if r["Type"] == "AWS::ApiGatewayV2::Api" and r["Properties"].get("ProtocolType") == "WEBSOCKET"
    }
    two_way = {
        _sub_refs(r["Properties"]["RouteId"])[0]
        for r in resources.values()
        if r["Type"] == "AWS::ApiGatewayV2::RouteResponse"
    }
    out: list[WsRoute] = []
    for lid, r in resources.items():
        if r["Type"] != "AWS::ApiGatewayV2::Route":
            continue
        props = r["Properties"]
        api = _sub_refs(props["ApiId"])[0]
        if api not in ws_apis:
            continue
        integration = next(ref for ref in _sub_refs(props["Target"]) if ref in resources)
        uri = resources[integration]["Properties"]["IntegrationUri"]
        function = next(ref for ref in _sub_refs(uri) if ref in functions)
        out.append(WsRoute(api=api, route_key=str(props["RouteKey"]), function=function, two_way=lid in two_way))
    return out


def _on_failure_queue(lid: str, event: str, props: dict[str, Any]) -> str | None:
    """The logical id of a stream event source's on-failure SQS queue (``DestinationConfig.OnFailure``), if any."""
    on_failure = (props.get("DestinationConfig") or {}).get("OnFailure")
    if not on_failure:
        return None
    assert on_failure.get("Type", "SQS") == "SQS", f"{lid}.{event}: the local stack delivers OnFailure to SQS only"
    queue, attr = on_failure["Destination"]["Fn::GetAtt"]
    assert attr == "Arn", f"{lid}.{event}: OnFailure.Destination must be !GetAtt <Queue>.Arn"
    return str(queue)


def _local_seed(resource: dict[str, Any]) -> dict[str, Any] | None:
    raw = (resource.get("Metadata") or {}).get("LocalSeed", {}).get("Input")
    return json.loads(raw) if isinstance(raw, str) else None


def condition(name: str, conditions: dict[str, Any], params: dict[str, Any]) -> bool:
    """A template condition's value from the parameters: ``Fn::Equals``, ``Fn::Not``, ``Fn::And``, ``Fn::Or`` and
    ``Condition`` references (the intrinsic functions CloudFormation allows in Conditions that the template uses)."""

    def value(expr: Any) -> Any:
        if isinstance(expr, dict) and "Ref" in expr:
            return params[expr["Ref"]]
        return expr

    def truth(expr: Any) -> bool:
        if isinstance(expr, dict) and "Condition" in expr:
            return condition(expr["Condition"], conditions, params)
        (fn, args), *_ = expr.items()
        if fn == "Fn::Equals":
            return str(value(args[0])) == str(value(args[1]))
        if fn == "Fn::Not":
            return not truth(args[0])
        if fn == "Fn::And":
            return all(truth(a) for a in args)
        if fn == "Fn::Or":
            return any(truth(a) for a in args)
        raise ValueError(f"condition {name}: {fn} is not supported locally")

    return truth(conditions[name])


NO_VALUE = "AWS::NoValue"
"""What ``!Ref AWS::NoValue`` resolves to: the caller drops the property (CloudFormation removes it)."""


def resolve(
    value: Any,
    names: dict[str, str],
    params: dict[str, Any],
    endpoints: dict[str, str] | None = None,
    conditions: dict[str, Any] | None = None,
) -> Any:
    """Resolve !Ref to a physical name (resources) or a parameter's default, !GetAtt <id>.<attr> to what
    ``names["<id>.<attr>"]`` holds, !If by the template's ``conditions``, and !Ref AWS::NoValue to :data:`NO_VALUE`.

    A ``!Sub`` that names an API (``https://${Api}.execute-api...``) resolves to that API's local URL in
    ``endpoints`` (logical id -> URL) when given; other ``!Sub`` strings are substituted from names and parameters.
    """
    if isinstance(value, dict) and "Fn::If" in value:
        name, then, otherwise = value["Fn::If"]
        chosen = then if condition(name, conditions or {}, params) else otherwise
        return resolve(chosen, names, params, endpoints, conditions)
    if isinstance(value, dict) and "Fn::Sub" in value and isinstance(value["Fn::Sub"], str):
        text: str = value["Fn::Sub"]
        for ref in _sub_refs(value):
            if endpoints and ref in endpoints:
                return endpoints[ref]
        pseudo = {"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012", "AWS::Partition": "aws"}
        table = {**pseudo, **{k: str(v) for k, v in params.items()}, **names}
        return re.sub(r"\$\{([A-Za-z0-9:.]+)\}", lambda m: table.get(m.group(1), m.group(1)), text)
    if isinstance(value, dict) and "Ref" in value:
        ref = value["Ref"]
        if ref == "AWS::NoValue":
            return NO_VALUE
        if ref in names:
            return names[ref]
        if ref in params:
            return params[ref]
        raise KeyError(f"cannot resolve !Ref {ref}")
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        lid, attr = value["Fn::GetAtt"]
        key = f"{lid}.{attr}"  # provision() records the attributes it knows, e.g. "AuditSigningKey.Arn"
        if key in names:
            return names[key]
        raise KeyError(f"cannot resolve !GetAtt {key}")
    return value
