"""``make ingest``: load one more catalog into the RUNNING local stack through its ingestion function.

Calls the stack's Lambda Invoke API with the same event the template's schedules send, and prints the run's
report as one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path

from infra.local.stack import ingestion_targets
from infra.local.template import ROOT, read_app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make ingest")
    parser.add_argument("--catalog", required=True, help="path (or https URL) of a SkyPilot-format vms.csv")
    parser.add_argument("--provider", required=True)
    parser.add_argument("--state-file", default=str(ROOT / ".local/stack.json"))
    args = parser.parse_args(argv)

    state_file = Path(args.state_file)
    if not state_file.exists():
        print("error: no local stack is running (start it with `make dev`)", file=sys.stderr)
        return 2
    state = json.loads(state_file.read_text())
    catalog = args.catalog if args.catalog.startswith("https://") else str(Path(args.catalog).resolve())
    targets = ingestion_targets(read_app())
    function = (targets.get(args.provider) or next(iter(targets.values()))).function
    body = json.dumps({"provider": args.provider, "catalog": catalog}).encode()
    req = urllib.request.Request(
        f"{state['api']}/2015-03-31/functions/{function}/invocations", data=body, method="POST"
    )
    try:
        with urllib.request.urlopen(req, timeout=300) as resp:
            failed = resp.headers.get("X-Amz-Function-Error")
            payload = json.loads(resp.read())
    except urllib.error.URLError as exc:
        print(
            f"error: the local stack at {state['api']} does not answer ({exc}); is `make dev` running?",
            file=sys.stderr,
        )
        return 2
    if failed:
        print(json.dumps({"error": payload}), file=sys.stderr)
        return 1
    print(json.dumps({k: payload[k] for k in ("provider", "accepted", "rejected", "unknown_gpus", "variant_unstated")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
