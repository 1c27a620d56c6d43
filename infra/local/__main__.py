"""``python -m infra.local``: the whole application on 127.0.0.1 (see README, "Local stack")."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from infra.local.template import ROOT


def _configure_process_env(region: str) -> None:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    os.environ["AWS_DEFAULT_REGION"] = region
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    os.environ.setdefault("POWERTOOLS_DEV", "false")


def missing_seed_data(catalogs: Path) -> list[Path]:
    """The seed folders that are not there: the catalogs, and the price history beside them (the template's local
    seed reads ``${shared}/data/price-history``, and ``${shared}`` is two levels above the catalogs)."""
    return [folder for folder in (catalogs, catalogs.parent / "price-history") if not folder.is_dir()]


def write_state(path: Path, state: dict[str, Any]) -> None:
    """Write the state file atomically (whoever waits for it reads it whole), readable by its owner only: it holds
    the run's credentials."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = Path(f"{path}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(json.dumps(state, indent=2))
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    parser.add_argument("--ws-port", type=int, default=int(os.environ.get("WS_PORT", "3001")))
    parser.add_argument("--moto-port", type=int, default=int(os.environ.get("MOTO_PORT", "0")))
    parser.add_argument(
        "--catalogs", default=os.environ.get("GPUBROKER_CATALOGS", str(ROOT.parent / "shared/data/catalogs"))
    )
    parser.add_argument("--no-seed", action="store_true")
    parser.add_argument(
        "--schedule-seconds",
        type=float,
        default=float(os.environ["GPUBROKER_SCHEDULE_SECONDS"])
        if os.environ.get("GPUBROKER_SCHEDULE_SECONDS")
        else None,
        help="fire every template schedule this often (default: the template's own rates)",
    )
    parser.add_argument("--state-file", default=str(ROOT / ".local/stack.json"))
    args = parser.parse_args(argv)

    catalogs = Path(args.catalogs)
    missing = [] if args.no_seed else missing_seed_data(catalogs)
    if missing:
        print(
            f"error: the seed data is missing: {', '.join(str(m) for m in missing)} not found. The local stack seeds "
            f"itself from the shared data folder beside the project ({ROOT.parent / 'shared'}: data/catalogs and "
            "data/price-history); put it there, or pass --catalogs DIR (its price-history beside it) or --no-seed.",
            file=sys.stderr,
        )
        return 2

    from infra.local.stack import LocalStack

    _configure_process_env("us-east-1")
    started = time.monotonic()
    outbox = Path(args.state_file).parent / "outbox"  # the account mails, as .eml files (beside the state file)
    stack = LocalStack(host=args.host, port=args.port, ws_port=args.ws_port, moto_port=args.moto_port,
                       outbox=outbox)  # fmt: skip
    stack.start()
    stack.launch_streams()
    reports: list[dict[str, Any]] = []
    local_seeds: dict[str, Any] = {}
    if not args.no_seed:  # the offers and the price history are independent: seeded side by side
        with ThreadPoolExecutor(2) as pool:
            offers = pool.submit(stack.seed, catalogs)
            local_seeds = stack.seed_local(catalogs.parent.parent)
            reports = offers.result()
    seeded_at, served_while_seeding = time.monotonic(), stack.routed.value
    stack.start_streams()
    stack.start_schedules(catalogs, args.schedule_seconds)
    if not args.no_seed:  # every documented command works from here on (a --no-seed stack has no snapshot)
        stack.wait_ready(since_publish_s=time.monotonic() - seeded_at if served_while_seeding else None)
    state = {
        "api": stack.api_url,
        "ws": stack.ws_url,
        "ws_management": stack.management_endpoint,  # the @connections endpoint the handlers post to
        "aws_endpoint": stack.aws_endpoint,
        "names": stack.names,
        "pid": os.getpid(),
        "snapshot_ttl_s": stack.snapshot_ttl_s,
        # the run's access key, which the Invoke and @connections APIs require (make ingest, the tests sign with it)
        "credentials": stack.credentials.state(),
        "outbox": str(stack.outbox),
        # the sandbox capacity provider's instances: Redis keys under this prefix (a test lists live instances)
        "sandbox": {"redis_url": os.environ.get("GPUBROKER_SANDBOX_REDIS_URL", ""), "prefix": stack.sandbox_prefix},
        # the assistant's keys (the llm breaker, the budget): this stack's prefix (AssistantRedisPrefix)
        "assistant_redis_prefix": stack.redis_key_prefix,
        "stripe": stack.stripe_url,  # make stripe-setup's default target
    }
    write_state(Path(args.state_file), state)
    for r in reports:
        print(json.dumps({k: r[k] for k in ("provider", "accepted", "rejected", "unknown_gpus", "variant_unstated")}))
    for lid, seeded in local_seeds.items():
        print(f"{lid}: {json.dumps(seeded)}")
    readiness = "ready" if not args.no_seed else "up (--no-seed: no offers until `make ingest`)"
    print(f"GPUBroker local stack {readiness} in {time.monotonic() - started:.1f}s")
    print(f"  API           {stack.api_url}   (try {stack.api_url}/offers?gpu=H100-SXM&sort=price)")
    print(f"  Health        {stack.api_url}/health (live), {stack.api_url}/health/ready (searchable)")
    print(f"  OpenAPI       {stack.api_url}/openapi.json")
    if stack.ws_url:
        print(f'  WebSocket     {stack.ws_url}   (send {{"action": "subscribe", "filters": {{...}}}})')
    print(f"  AWS endpoint  {stack.aws_endpoint}   (moto: DynamoDB, S3, ...)")
    print(
        f"  Stripe        {stack.stripe_url}   (local Stripe-compatible server: Checkout pay pages at"
        f" {stack.stripe_url}/checkout/pay/<session id>, webhooks to {stack.api_url}/billing/webhook)"
    )
    print(f"  Outbox        {stack.outbox}/*.eml   (the account mails SES sent: verification, password reset)")
    for lid in sorted(stack.app.state_machines):
        print(f"  State machine {stack.names[lid]}   (runs for real in moto; its Lambda tasks here)")
    if stack.app.state_machines:
        print(f"  Faults        {stack.api_url}/_local/faults   (fail or delay a function's next invocations)")
    if os.environ.get("GPUBROKER_LOCAL_METRICS", "off") != "off":
        print(f"  Metrics       {stack.api_url}/_local/metrics?format=text   (what the functions would publish to"
              " CloudWatch: requests, latency, errors by route; bookings, offers, breakers, ...)")  # fmt: skip
    print(f"  Capacity      {os.environ.get('GPUBROKER_CAPACITY_PROVIDER') or 'the providers'}"
          f"   (bookings reserve here; sandbox keys under {stack.sandbox_prefix})")  # fmt: skip
    print("  Ctrl-C stops it.", flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    print("stopping...", flush=True)
    stack.stop()
    Path(args.state_file).unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
