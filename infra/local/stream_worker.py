"""The local stack's DynamoDB stream pollers in a process of their own.

Lambda runs a stream-triggered function apart from the API; here that keeps the broadcaster's boto3 work off the
interpreter that serves HTTP, WebSocket and moto (measured: it halved WebSocket delivery latency). Started by the
stack with its environment (AWS endpoint, table names, management endpoint) and ``GPUBROKER_STREAM_TABLES``
(logical id -> physical table name); starts polling when it reads ``go`` on stdin (the stack launches it early, so
its start-up overlaps the seeding), prints ``ready`` once every poller holds its LATEST iterators; stops when its
stdin closes (the stack ended) or on SIGTERM.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading

from infra.local.template import ROOT


def main() -> int:
    for layer in ("layers/core", "layers/math"):
        sys.path.insert(0, str(ROOT / layer))
    from infra.local.runtime import Runtime
    from infra.local.streams import StreamPoller
    from infra.local.template import read_app

    app = read_app()
    tables = json.loads(os.environ["GPUBROKER_STREAM_TABLES"])
    runtime = Runtime(app)
    for trigger in app.stream_triggers:
        runtime.handler(trigger.function)  # imported now, while the stack seeds
    if sys.stdin.readline().strip() != "go":
        return 0  # the stack ended before it needed the streams
    pollers = []
    for trigger in app.stream_triggers:
        poller = StreamPoller(runtime, trigger, tables[trigger.table], endpoint_url=os.environ["AWS_ENDPOINT_URL"])
        poller.start()
        pollers.append(poller)
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


if __name__ == "__main__":
    sys.exit(main())
