"""The local stack's event-source pollers in processes of their own: the DynamoDB stream pollers (one process), and
the SQS pollers (``--queue <FunctionLogicalId>``: one process per concurrent invocation).

Lambda runs a stream- or queue-triggered function apart from the API; here that keeps the broadcaster's and the
fan-out workers' boto3 work off the interpreter that serves HTTP, WebSocket and moto (measured: it halved
WebSocket delivery latency), and lets the fan-out workers post in parallel. Started by the stack with its
environment (AWS endpoint, table names, management endpoint), ``GPUBROKER_STREAM_TABLES`` (logical id ->
physical table name) and ``GPUBROKER_QUEUES`` (logical id -> [URL, ARN]); starts polling when it reads ``go`` on
stdin (the stack launches it early, so its start-up overlaps the seeding), prints ``ready`` once every poller is
in place; stops when its stdin closes (the stack ended) or on SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from infra.local.template import ROOT


class Poller(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


def serve(prepare: Callable[[], Callable[[], Sequence[Poller]]]) -> int:
    """The worker's life: ``prepare()`` (imports) now, the pollers it returns after ``go``, until told to stop."""
    make_pollers = prepare()
    if sys.stdin.readline().strip() != "go":
        return 0  # the stack ended before it needed the pollers
    pollers = make_pollers()
    for poller in pollers:
        poller.start()
    print("ready", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def watch_parent() -> None:
        sys.stdin.read()  # returns when the stack closes the pipe or dies
        stop.set()

    threading.Thread(target=watch_parent, daemon=True).start()
    stop.wait()
    for poller in pollers:
        poller.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queue", help="poll the SQS event source of this function (one poller)")
    args = parser.parse_args(argv)
    for layer in ("layers/core", "layers/math"):
        sys.path.insert(0, str(ROOT / layer))
    from infra.local.metrics import install as install_metrics_sink
    from infra.local.runtime import Runtime
    from infra.local.template import read_app

    install_metrics_sink()
    app = read_app()
    runtime = Runtime(app, isolated=False)  # this process is already apart from the API, one invocation at a time
    endpoint = os.environ["AWS_ENDPOINT_URL"]

    def streams() -> Callable[[], Sequence[Poller]]:
        from infra.local.streams import StreamPoller

        tables = json.loads(os.environ["GPUBROKER_STREAM_TABLES"])
        queues = json.loads(os.environ.get("GPUBROKER_QUEUES") or "{}")  # logical id -> [URL, ARN]
        for trigger in app.stream_triggers:
            runtime.handler(trigger.function)  # imported now, while the stack seeds

        def pollers() -> list[Poller]:
            out: list[Poller] = []
            for t in app.stream_triggers:
                on_failure = queues[t.on_failure][0] if t.on_failure else None  # its DestinationConfig.OnFailure
                out.append(StreamPoller(runtime, t, tables[t.table], endpoint_url=endpoint, on_failure_url=on_failure))
            return out

        return pollers

    def queue() -> Callable[[], Sequence[Poller]]:
        from infra.local.queues import QueuePoller, trigger_for

        trigger = trigger_for(app.queue_triggers, args.queue)
        url, arn = json.loads(os.environ["GPUBROKER_QUEUES"])[trigger.queue]
        runtime.handler(trigger.function)
        pollers: list[Any] = [QueuePoller(runtime, trigger, url, arn, endpoint_url=endpoint)]
        return lambda: pollers

    return serve(queue if args.queue else streams)


if __name__ == "__main__":
    sys.exit(main())
