"""``make chaos``: every experiment of tests/chaos/experiments.py against a local stack of its own, printed as a table.

The stack (``python -m infra.local`` on free ports, seeded from the shared catalogs) runs with a redis-server of this
run's on a free port (killed and restarted by the Redis experiment; the machine's 127.0.0.1:6379 is never touched),
its functions' DynamoDB calls through the throttling front (``AWS_ENDPOINT_URL_DYNAMODB``), and the assistant on the
``openai`` engine pointed at a fake model. Exit status 0 when every experiment held, 1 otherwise.

``python -m tests.chaos [--only NAME ...] [--list]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from infra.local.stack import free_port
from tests.chaos.experiments import ALL, Lab, run, table
from tests.chaos.tools import DynamoThrottle, FakeProvider, OwnRedis
from tests.conftest import CATALOGS
from tests.e2e.conftest import Stack, sign_in
from tests.e2e.stack_process import local_stack
from tests.e2e.test_bookings import World
from tests.llm_fakes import FakeOpenAI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos", description=__doc__)
    parser.add_argument("--only", action="append", choices=sorted(ALL), help="run this experiment (repeatable)")
    parser.add_argument("--list", action="store_true", help="name the experiments and stop")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(ALL))
        return 0
    catalogs = Path(os.environ.get("GPUBROKER_CATALOGS") or CATALOGS)
    redis, provider, llm = OwnRedis(), FakeProvider(), FakeOpenAI().start()
    moto_port = free_port()
    dynamo = DynamoThrottle(moto_port)
    started = time.monotonic()
    try:
        redis.start()
        env = {
            "GPUBROKER_REDIS_URL": redis.url,
            "AWS_ENDPOINT_URL_DYNAMODB": dynamo.url,
            "ASSISTANT_ENGINE": "openai",
            "ASSISTANT_ENDPOINT": llm.url,
            "GPUBROKER_SANDBOX_CAPACITY": "*=512",
        }
        with (
            tempfile.TemporaryDirectory(prefix="gpubroker-chaos-") as tmp,
            local_stack(Path(tmp), "--moto-port", str(moto_port), "--catalogs", str(catalogs), env=env) as up,
        ):
            print(f"local stack ready in {up.ready_s:.1f}s (Redis {redis.url}, DynamoDB via {dynamo.url})", flush=True)
            auth = sign_in(up.url, up.state_file)
            stack = Stack(url=up.url, state_file=up.state_file, ready_s=up.ready_s, ws_url=up.ws_url, auth=auth)
            lab = Lab(World.of(stack), catalogs, redis=redis, dynamo=dynamo, provider=provider, llm=llm)
            print(f"booker ready: {lab.booker.email or 'a verified user with a saved card'}", flush=True)
            outcomes = []
            for name in args.only or list(ALL):
                (outcome,) = run(lab, [name])
                outcomes.append(outcome)
                mark = "SKIP" if outcome.skipped else "PASS" if outcome.ok else "FAIL"
                print(f"  {mark} {name} ({time.monotonic() - started:.0f}s)", flush=True)
                if not outcome.ok:
                    print(f"       {'; '.join(outcome.problems)}  (stack log: {up.log})", flush=True)
                    print(up.log.read_text()[-3000:], flush=True)
    finally:
        dynamo.close()
        provider.close()
        llm.close()
        redis.close()
    print()
    print(table(outcomes))
    print(
        f"\n{sum(o.ok and not o.skipped for o in outcomes)} of {len(outcomes)} held in "
        f"{time.monotonic() - started:.0f}s"
    )
    return 0 if all(o.ok for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
