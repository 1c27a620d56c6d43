"""moto in server mode for the local stack, with two speed-ups that change no answer; and
:func:`serialise_writes`, which makes DynamoDB's conditional writes atomic (the local stack's and the tests' server).

1. DynamoDB data-plane answers are written with ``json.dumps`` instead of moto's generic, shape-walking
   response serializer.
2. A table's items are sorted with precomputed keys (see :func:`all_items`), and string, binary and boolean
   attribute values compare without moto's per-comparison casting (:func:`_fast_comparisons`).

Measured (docs/decisions.md): moto 5.2's serializer spends ~2 ms per returned item (a Query returning 625 items
of 8 attributes took 1.2 s, 80 % of it in ``moto/core/serialize.py``). The items of a Query, Scan, GetItem or
BatchGetItem answer, and the records of a stream's GetRecords, are already in DynamoDB's wire format once moto
has built them, so dumping them as JSON gives the same document; binary values are base64-encoded, timestamps
written as epoch seconds and ``None`` members dropped, as the generic serializer does.
tests/integration/test_local_moto_server.py holds both speed-ups to moto's own answers for every kind of
attribute value. Every other operation (control plane, errors) goes through moto unchanged.

3. With ``GPUBROKER_OUTBOX`` set (the local stack sets it), every mail SES accepts is also written to that folder
   as an ``.eml`` file: the developer's outbox (:func:`capture_outbox`).

4. Step Functions executes state machines (moto's ``stepfunctions.execute_state_machine``), and with
   ``GPUBROKER_LAMBDA_ENDPOINT`` set (the local stack sets it to its HTTP front) the executions' Lambda tasks call
   that Invoke API, signed with this process's credentials (the run's key), instead of moto's own Lambda, which
   cannot run a function without Docker (:func:`execute_state_machines`).

Run: ``python -m infra.local.moto_server -H 127.0.0.1 -p 5000`` (the arguments of ``moto_server``).
"""

from __future__ import annotations

import base64
import calendar
import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# (service, operation) answered by json.dumps: reads that return items or stream records
FAST = frozenset(
    {("dynamodb", op) for op in ("Query", "Scan", "GetItem", "BatchGetItem")} | {("dynamodbstreams", "GetRecords")}
)


def _wire(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime):  # epoch seconds truncated to milliseconds, as the JSON protocol (Smithy) says
        whole = calendar.timegm(value.utctimetuple())
        return whole + (value.microsecond // 1000) / 1000.0 if value.microsecond else whole
    raise TypeError(f"not serialisable: {type(value).__name__}")


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


def fast_body(result: Any) -> str:
    return json.dumps(_drop_none(result), default=_wire, separators=(",", ":"))


def all_items(table: Any) -> list[Any]:
    """moto's ``Table.all_items`` (every item, ordered by hash key then range key) with each item's sort key
    computed once: moto sorts the whole table on every Query and Scan through ``DynamoType.__lt__``, which
    re-casts both values on each comparison (a 10,000-item table: 0.6 s per Query). The order is the same: one
    table's keys all have the type its key schema gives them, and ``__lt__`` compares ``cast_value``."""
    items = [item for hash_set in table.items.values() for item in (hash_set.values() if table.range_key_attr
             else [hash_set])]  # fmt: skip

    def key(item: Any) -> tuple[Any, ...]:
        if item.range_key:
            return (item.hash_key.cast_value, item.range_key.cast_value)
        return (item.hash_key.cast_value,)

    return sorted(items, key=key)


_PLAIN = frozenset({"S", "B", "BOOL"})  # types whose cast_value is their value


def _fast_comparisons(dynamo_type: Any) -> dict[str, Any]:
    """``DynamoType`` equality and order compare plain values directly for S, B and BOOL (``cast_value`` is the
    value itself for them); every other type goes through moto's own methods."""
    eq, ne, lt = dynamo_type.__eq__, dynamo_type.__ne__, dynamo_type.__lt__

    def equal(self: Any, other: Any) -> bool:
        if self.type in _PLAIN:
            return bool(self.type == other.type and self.value == other.value)
        return bool(eq(self, other))

    def not_equal(self: Any, other: Any) -> bool:
        if self.type in _PLAIN:
            return bool(self.type != other.type or self.value != other.value)
        return bool(ne(self, other))

    def less(self: Any, other: Any) -> bool:
        if self.type in _PLAIN and other.type == self.type:
            return bool(self.value < other.value)
        return bool(lt(self, other))

    # __hash__ is re-set: a class that assigns __eq__ keeps its hash only if it says so
    return {"__eq__": equal, "__ne__": not_equal, "__lt__": less, "__hash__": dynamo_type.__hash__}


def install() -> None:
    """Patch moto's result class and table ordering (idempotent; :func:`uninstall` restores both)."""
    from moto.core.responses import ActionContext, ActionResult
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    if getattr(ActionResult, "_gpubroker_generic", None) is not None:
        return
    Table._gpubroker_all_items = Table.all_items  # type: ignore[attr-defined]
    Table.all_items = all_items  # type: ignore[assignment]
    DynamoType._gpubroker_generic = {k: DynamoType.__dict__[k] for k in ("__eq__", "__ne__", "__lt__", "__hash__")}  # type: ignore[attr-defined]
    for name, method in _fast_comparisons(DynamoType).items():
        setattr(DynamoType, name, method)
    generic = ActionResult.execute_result

    def execute_result(self: ActionResult, context: ActionContext) -> Any:
        if (context.service_model.service_name, context.operation_model.name) not in FAST or isinstance(
            self.result, Exception
        ):
            return generic(self, context)
        status, headers, _ = generic(ActionResult({}), context)  # the status and headers of a success
        return status, headers, fast_body(self.result)

    ActionResult.execute_result = execute_result  # type: ignore[method-assign]
    ActionResult._gpubroker_generic = generic  # type: ignore[attr-defined]


def uninstall() -> None:
    from moto.core.responses import ActionResult
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    generic = getattr(ActionResult, "_gpubroker_generic", None)
    if generic is not None:
        for name, method in DynamoType._gpubroker_generic.items():  # type: ignore[attr-defined]
            setattr(DynamoType, name, method)
        Table.all_items = Table._gpubroker_all_items  # type: ignore[attr-defined,method-assign]
        ActionResult.execute_result = generic  # type: ignore[method-assign]
        ActionResult._gpubroker_generic = None  # type: ignore[attr-defined]


_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items")
_WRITE_LOCK = threading.RLock()
_BATCHED = ("put_item", "delete_item")  # BatchWriteItem calls these with (table, item or key) alone


def serialise_writes() -> None:
    """Make moto's DynamoDB writes atomic, as DynamoDB's are (idempotent).

    moto's server answers requests on many threads, and its ``update_item`` reads the item, checks the condition
    and writes in separate steps with no lock: two concurrent conditional writes on one item can both succeed.
    Seen in a CI simulation: of 20 concurrent refreshes with one refresh token, 2 got 200 (the conditional
    ``spent = false`` write passed twice). DynamoDB evaluates a condition and applies the write atomically per
    item, and our one-winner guarantees (refresh rotation, TOTP replay, audit sequence slots) rest on that. One
    lock around every write is stricter than per-item atomicity, but moto's writes are in-memory and short.
    Reads are left unlocked, and so are a BatchWriteItem's puts and deletes (no condition: the local stack's
    seeding writes thousands of them from several threads).

    Installed in the integration tests' in-process server, where the one-winner tests run, and in the local
    stack's moto process (idle start 7.5-8.0 s with it, 7.3-10.2 s without: no measurable cost)."""
    from moto.dynamodb.models import DynamoDBBackend

    for name in _WRITES:
        method = getattr(DynamoDBBackend, name)
        if getattr(method, "_gpubroker_serialised", False):
            continue

        def locked(self: Any, *args: Any, _method: Any = method, **kwargs: Any) -> Any:
            if len(args) <= 2 and not kwargs and _method.__name__ in _BATCHED:
                return _method(self, *args, **kwargs)  # a BatchWriteItem member: no condition, no read
            with _WRITE_LOCK:
                return _method(self, *args, **kwargs)

        locked._gpubroker_serialised = True  # type: ignore[attr-defined]
        locked.__name__ = name
        setattr(DynamoDBBackend, name, locked)


OUTBOX_ENV = "GPUBROKER_OUTBOX"
"""The folder the local stack's moto process writes every sent mail to (set by infra/local/stack.py)."""


def write_eml(folder: Path, source: str, to: list[str], subject: str, body: str, message_id: str) -> Path:
    """One sent message as an RFC 5322 file ``<UTC time>-<message id>.eml`` in ``folder`` (any mail client or
    ``cat`` reads it); written whole under a temporary name, then renamed, so a reader never sees half a file."""
    from email.message import EmailMessage
    from email.utils import formatdate

    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = source, ", ".join(to), subject
    msg["Date"], msg["Message-ID"] = formatdate(usegmt=True), f"<{message_id}@local.gpubroker>"
    msg.set_content(body)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = folder / f"{stamp}-{message_id}.eml"
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(msg.as_bytes())
    tmp.replace(path)
    return path


def capture_outbox(folder: Path) -> None:
    """Keep a copy of every message moto's SES accepts (API v1 and v2 ``SendEmail`` with simple content) in
    ``folder``, after moto has checked it as SES does (a verified sender, valid addresses): the local stack's
    outbox. Idempotent."""
    from moto.ses.models import SESBackend

    send = SESBackend.send_email
    if getattr(send, "_gpubroker_outbox", False):
        return

    def send_email(self: Any, source: str, subject: str, body: str, destinations: dict[str, list[str]]) -> Any:
        message = send(self, source, subject, body, destinations)
        to = [a for kind in ("ToAddresses", "CcAddresses", "BccAddresses") for a in destinations.get(kind, [])]
        write_eml(folder, source, to, subject, body, message.id)
        return message

    send_email._gpubroker_outbox = True  # type: ignore[attr-defined]
    SESBackend.send_email = send_email  # type: ignore[method-assign]


LAMBDA_ENDPOINT_ENV = "GPUBROKER_LAMBDA_ENDPOINT"
"""The Lambda Invoke API the state machines' tasks call (set by infra/local/stack.py: the stack's HTTP front)."""


def execute_state_machines(lambda_endpoint: str | None) -> None:
    """Make moto's Step Functions run executions (its ASL interpreter), and send their Lambda calls to
    ``lambda_endpoint`` (idempotent).

    moto's interpreter makes every service client through ``boto_client_for(region, service, credentials)``
    (``moto.stepfunctions.parser.asl.utils.boto_client``), which targets this server (``localhost:MOTO_PORT``) with
    the key ``ak``/``sk``. For ``lambda`` it now targets ``lambda_endpoint`` with this process's credentials, so
    ``arn:aws:states:::lambda:invoke`` (with or without ``.waitForTaskToken``) and a bare function ARN as a Task's
    ``Resource`` run the real handler in the stack's runtime; a function error comes back as Lambda returns it
    (``X-Amz-Function-Error`` and ``{"errorType", "errorMessage"}``), so Retry and Catch see the exception's class
    name. The modules that imported the function by name are patched too (every ``from ... import
    boto_client_for`` made before this call)."""
    import sys

    from moto.core.config import default_user_config
    from moto.stepfunctions.parser.asl.utils import boto_client

    default_user_config["stepfunctions"]["execute_state_machine"] = True
    _keep_task_failure_cause()
    if not lambda_endpoint:
        return
    original = getattr(boto_client.boto_client_for, "_gpubroker_original", boto_client.boto_client_for)

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        if service != "lambda":
            return original(region, service, state_credentials)
        import boto3
        from botocore.config import Config

        return boto3.client(
            "lambda",
            region_name=region,
            endpoint_url=lambda_endpoint,
            # the run's key (the stack's environment): the Invoke API answers nothing else
            config=Config(
                parameter_validation=False,
                retries={"max_attempts": 0, "total_max_attempts": 1},  # Retry is the state machine's business
                connect_timeout=10,
                read_timeout=960,  # Lambda's longest timeout (900 s) and a margin: the function's own ends first
            ),
        )

    boto_client_for._gpubroker_original = original  # type: ignore[attr-defined]
    boto_client.boto_client_for = boto_client_for  # modules imported from now on take this one
    for name, module in list(sys.modules.items()):
        if name.startswith("moto.stepfunctions") and getattr(module, "boto_client_for", None) is original:
            module.boto_client_for = boto_client_for  # type: ignore[attr-defined]
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    patched = getattr(lambda_eval_utils, "boto_client_for", None)
    assert patched is boto_client_for, "moto's Lambda tasks would not reach the stack"


def _keep_task_failure_cause() -> None:
    """moto 5.2's ``SendTaskFailure`` handler passes the ``error`` on and drops the ``cause`` (its backend takes
    both): the execution's failure then says why in AWS and not here. Pass both (idempotent)."""
    from moto.core.responses import EmptyResult
    from moto.stepfunctions.responses import StepFunctionResponse

    if getattr(StepFunctionResponse.send_task_failure, "_gpubroker_cause", False):
        return

    def send_task_failure(self: Any) -> Any:
        backend = self.stepfunction_backend
        backend.send_task_failure(self._get_param("taskToken"), error=self._get_param("error"),
                                  cause=self._get_param("cause"))  # fmt: skip
        return EmptyResult()

    send_task_failure._gpubroker_cause = True  # type: ignore[attr-defined]
    StepFunctionResponse.send_task_failure = send_task_failure  # type: ignore[method-assign]


_UNSHAREABLE_STATES = frozenset({"Map", "Parallel"})  # their components keep per-run state (workers, map records)


def _shareable(definition: str) -> bool:
    """Whether a parsed program of ``definition`` can serve several executions at once: every component of Task,
    Choice, Pass, Wait, Succeed and Fail states keeps its per-run state in the execution's environment (its heap,
    keyed by the component's ``heap_key``); Map and Parallel components hold workers of their own."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("Type"), str):
                found.append(node["Type"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    try:
        walk(json.loads(definition))
    except ValueError:
        return False
    return not _UNSHAREABLE_STATES.intersection(found)


def _warm_heap_keys(program: Any) -> None:
    """Give every component its ``heap_key`` now, in one thread: the key is made on first use, and two executions
    making it at once would each store their state under a key the other then overwrites."""
    from moto.stepfunctions.parser.asl.component.component import Component
    from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent

    seen: set[int] = set()
    todo: list[Any] = [program]
    while todo:
        node = todo.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, EvalComponent):
            _ = node.heap_key
        if isinstance(node, Component):
            todo.extend(vars(node).values())
        elif isinstance(node, list | tuple | set | frozenset):
            todo.extend(node)
        elif isinstance(node, dict):
            todo.extend(node.values())


def cache_parsed_programs() -> None:
    """Parse each state machine definition once, not once per execution. moto's interpreter (LocalStack's) parses
    the ASL with ANTLR in the execution's thread: ~50 ms of CPU for the booking saga, holding the GIL while the
    server answers the StartExecution that started it (measured: StartExecution p50 105 ms on the local stack,
    ``docs/decisions.md``). A definition with Map or Parallel states is still parsed per execution."""
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.backend import execution_worker

    worker = execution_worker.ExecutionWorker
    original = worker._get_evaluation_entrypoint
    programs: dict[str, Any] = {}
    lock = threading.Lock()

    def entrypoint(self: Any) -> Any:
        definition = self._evaluation_details.state_machine_details.definition
        if not _shareable(definition):
            return original(self)
        with lock:
            program = programs.get(definition)
            if program is None:
                program = AmazonStateLanguageParser.parse(definition)[0]
                _warm_heap_keys(program)
                programs[definition] = program
        return program

    worker._get_evaluation_entrypoint = entrypoint  # type: ignore[method-assign]


def main() -> None:
    import os
    import sys

    from moto.server import main as moto_main

    install()
    serialise_writes()
    if os.environ.get(OUTBOX_ENV):
        capture_outbox(Path(os.environ[OUTBOX_ENV]))
    execute_state_machines(os.environ.get(LAMBDA_ENDPOINT_ENV))
    cache_parsed_programs()
    # the interpreter's threads (one per running execution) and the request threads share one GIL: a 1 ms switch
    # interval (Python's default: 5 ms) lets a request through between an execution's steps sooner
    sys.setswitchinterval(0.001)
    moto_main()


if __name__ == "__main__":
    main()
