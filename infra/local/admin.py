"""``make admin EMAIL=...``: give an account of the RUNNING local stack a role (``admin`` by default): the first admin.

Invokes the template's operator function (``AdminGrantRoleFunction``, no route) through the stack's Lambda Invoke
API, as ``make ingest`` invokes the ingestion function, with the name of the person running it as ``operator``; the
function records the grant (or its refusal) in the audit log. The account must exist (register it first); the role
counts from its next login or refresh. Prints the account's id, email and roles as one JSON object. Exit status:
0 granted; 1 refused (no such account, an unknown role); 2 no stack, or a bad command line.

In AWS the same function is invoked with ``aws lambda invoke`` or ``sam remote invoke`` (README, "The first admin").
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path

from infra.local.ingest import StackDown, invoke
from infra.local.sigv4 import LocalCredentials
from infra.local.template import ROOT, read_app

FUNCTION = "AdminGrantRoleFunction"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make admin", description=__doc__.split("\n\n")[0])
    parser.add_argument("--email", required=True, help="the account's email (registered already)")
    parser.add_argument("--role", default="admin", help="the role to grant (admin or user)")
    parser.add_argument("--operator", default=None, help="who runs it, for the audit log (default: your user name)")
    parser.add_argument("--state-file", default=str(ROOT / ".local/stack.json"))
    args = parser.parse_args(argv)
    if FUNCTION not in read_app().functions:
        print(f"error: template.yaml has no {FUNCTION}", file=sys.stderr)
        return 2
    state_file = Path(args.state_file)
    if not state_file.exists():
        print("error: no local stack is running (start it with `make dev`)", file=sys.stderr)
        return 2
    state = json.loads(state_file.read_text())
    api = state["api"]
    try:  # the Invoke API takes only requests signed with the run's key (infra/local/sigv4.py)
        creds = LocalCredentials.from_state(state)
    except (KeyError, TypeError):
        print(f"error: {state_file} holds no credentials (a stack from before they existed?): restart `make dev`",
              file=sys.stderr)  # fmt: skip
        return 2
    event = {"email": args.email, "role": args.role, "operator": args.operator or f"{getpass.getuser()}@local"}
    try:
        failed, payload = invoke(api, FUNCTION, event, creds)
    except StackDown as exc:
        print(f"error: the local stack at {api} does not answer ({exc}); is `make dev` running?", file=sys.stderr)
        return 2
    except RuntimeError as exc:  # refused: a stale state file (another run's key)
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if failed:
        print(f"error: {payload.get('errorType')}: {payload.get('errorMessage')}", file=sys.stderr)
        return 1
    print(json.dumps(payload))
    return 0


if __name__ == "__main__":
    sys.exit(main())
