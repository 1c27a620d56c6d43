"""``make ingest`` / ``make remove-provider``: one more catalog into the RUNNING local stack, or a catalog-only
provider out of it, through its ingestion function (the snapshot's one writer).

Calls the stack's Lambda Invoke API (signed with the run's credentials from the state file, as the AWS CLI signs
with yours) with the event the template's schedules send (plus a catalog-only provider's
registration: ``--display-name``, ``--website``, ``--marketplace``), prints the run's report as one JSON object,
and returns only once the snapshot that includes the run is the one every search reads: the ingestion function
publishes before it answers, and each function re-reads the manifest at most ``snapshot_ttl_s`` (the state file)
later, so it waits that long and then checks through ``GET /offers`` that the search answers from that snapshot
(or a newer one). Exit status: 0 done; 1 the run failed (its status and error printed; nothing new is searchable);
2 no stack, or a bad command line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from infra.local.sigv4 import LocalCredentials, sign
from infra.local.stack import ingestion_targets
from infra.local.template import ROOT, read_app

SEARCHABLE_TIMEOUT_S = 30.0
"""How long to wait for the search to read the run's snapshot (a hang guard: it takes ``snapshot_ttl_s``)."""
REPORT_FIELDS = ("provider", "status", "accepted", "rejected", "unknown_gpus", "variant_unstated", "snapshot_version")


class StackDown(Exception):
    """The stack's API does not answer."""


def _call(url: str, body: dict[str, Any] | None = None, timeout: float = 300, *,
          creds: LocalCredentials | None = None) -> tuple[int, dict[str, str], Any]:  # fmt: skip
    """GET ``url``, or POST ``body`` as JSON (SigV4-signed for Lambda when ``creds`` are given)."""
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if data is not None else {}
    if creds is not None:
        headers = sign(creds, "lambda", "POST" if data is not None else "GET", url, data or b"", headers)
    req = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # the local stack (http)  # nosec B310
            return resp.status, dict(resp.headers), json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), json.loads(err.read() or b"null")
    except urllib.error.URLError as exc:
        raise StackDown(str(exc)) from None


def invoke(
    api: str, function: str, event: dict[str, Any], creds: LocalCredentials, *, throttled_for_s: float = 600
) -> tuple[bool, Any]:
    """The function's answer, and whether it raised (Lambda's ``X-Amz-Function-Error``); RuntimeError when the
    Invoke API refuses the call (a stale state file: its credentials are another run's). A throttled invocation
    (429: a scheduled run holds the function's one reserved environment) is retried after ``Retry-After``, as the
    AWS SDKs retry Lambda's TooManyRequestsException, for at most ``throttled_for_s``."""
    deadline = time.monotonic() + throttled_for_s
    while True:
        status, headers, payload = _call(f"{api}/2015-03-31/functions/{function}/invocations", event, creds=creds)
        if status != 429 or time.monotonic() > deadline:
            break
        time.sleep(float(headers.get("Retry-After") or 1))
    if status != 200:
        raise RuntimeError(f"the Invoke API answered {status}: {payload}")
    failed = any(k.lower() == "x-amz-function-error" for k in headers)
    return failed, payload


def wait_searchable(api: str, provider: str, version: str, ttl_s: float, *, removed: bool = False) -> str:
    """Wait until a search reads snapshot ``version`` or a newer one: ``ttl_s`` (every reader's manifest re-check)
    has passed, and ``GET /offers?provider=`` answers from it (after a removal: refuses the name; the registry is in
    the same manifest). Returns the version the search reads; raises TimeoutError."""
    time.sleep(ttl_s)
    query = urllib.parse.urlencode({"provider": provider, "limit": 1})
    deadline = time.monotonic() + SEARCHABLE_TIMEOUT_S
    while True:
        status, headers, page = _call(f"{api}/offers?{query}", timeout=10)
        if removed and status == 422:
            return version
        if not removed and status == 200 and str(page.get("snapshot_version", "")) >= version:
            return str(page["snapshot_version"])
        if time.monotonic() > deadline:
            raise TimeoutError(f"the search still answers {status} {page} after {SEARCHABLE_TIMEOUT_S:.0f} s")
        time.sleep(float(headers.get("Retry-After", "0.2")) if status == 429 else 0.2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make ingest", description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", help="path (or https URL) of a SkyPilot-format vms.csv")
    parser.add_argument("--provider", required=True, help="a built-in provider, or any name for a catalog-only one")
    parser.add_argument("--display-name", help="a catalog-only provider's name as shown (default: Capitalised)")
    parser.add_argument("--website", help="a catalog-only provider's website (https://...)")
    parser.add_argument("--marketplace", choices=("true", "false"), help="its offers come from third-party hosts")
    parser.add_argument("--remove", action="store_true", help="remove the catalog-only provider instead")
    parser.add_argument("--state-file", default=str(ROOT / ".local/stack.json"))
    args = parser.parse_args(argv)
    if bool(args.remove) == bool(args.catalog):
        parser.error("give --catalog to ingest, or --remove")

    state_file = Path(args.state_file)
    if not state_file.exists():
        print("error: no local stack is running (start it with `make dev`)", file=sys.stderr)
        return 2
    state = json.loads(state_file.read_text())
    api, ttl_s = state["api"], float(state.get("snapshot_ttl_s", 2.0))
    try:
        creds = LocalCredentials.from_state(state)
    except (KeyError, TypeError):
        print(f"error: {state_file} holds no credentials (a stack from before they existed?): restart `make dev`",
              file=sys.stderr)  # fmt: skip
        return 2
    targets = ingestion_targets(read_app())
    function = (targets.get(args.provider) or next(iter(targets.values()))).function
    event: dict[str, Any] = {"provider": args.provider}
    if args.remove:
        event["action"] = "remove"
    else:
        event["catalog"] = args.catalog if args.catalog.startswith("https://") else str(Path(args.catalog).resolve())
        given = {"display_name": args.display_name, "website": args.website,
                 "marketplace": None if args.marketplace is None else args.marketplace == "true"}  # fmt: skip
        event.update({k: v for k, v in given.items() if v is not None})
    try:
        failed, payload = invoke(api, function, event, creds)
        if failed:  # the function refused the event (a malformed name, an unknown provider to remove, ...)
            print(json.dumps({"provider": args.provider, "status": "refused", "error": payload}))
            print(f"error: {payload.get('errorType')}: {payload.get('errorMessage')}", file=sys.stderr)
            return 1
        if not args.remove and payload.get("status") != "ok":
            print(json.dumps({k: payload.get(k) for k in (*REPORT_FIELDS, "error")}))
            print(f"error: ingesting {args.provider} failed: {payload.get('error')}", file=sys.stderr)
            return 1
        searched = wait_searchable(api, args.provider, str(payload["snapshot_version"]), ttl_s, removed=args.remove)
    except StackDown as exc:
        print(f"error: the local stack at {api} does not answer ({exc}); is `make dev` running?", file=sys.stderr)
        return 2
    except TimeoutError as exc:
        print(f"error: the run finished but is not searchable: {exc}", file=sys.stderr)
        return 1
    except RuntimeError as exc:
        print(f"error: the local stack at {api} refused the call ({exc}); is {state_file} this run's?", file=sys.stderr)
        return 2
    fields = payload.keys() if args.remove else REPORT_FIELDS
    print(json.dumps({**{k: payload.get(k) for k in fields}, "searchable_snapshot": searched}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
