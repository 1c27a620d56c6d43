"""The ``sandbox`` capacity provider against a real redis-server (``REDIS_URL``): capacity limits, idempotency
by key under concurrency, idempotent release, latency, deterministic injected failures, and instances listed
across processes."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from redis import Redis

from gpubroker.adapters.provisioning.sandbox import FailureRule, SandboxCapacity
from gpubroker.domain.errors import (
    NoCapacity,
    ProviderAuthFailed,
    ProviderUnavailable,
    ProvisioningError,
    QuotaExceeded,
)
from gpubroker.domain.offers import Offer, offer_id_for
from gpubroker.domain.provisioning import InstanceStatus
from tests.integration.redis_server import REDIS_URL, require_redis, scoped_client

require_redis()
ROOT = "gpub:test-sandbox:"
ROOT_DIR = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def client() -> Iterator[Redis]:
    yield from scoped_client(ROOT + "*")


@pytest.fixture
def prefix() -> str:
    return f"{ROOT}{uuid.uuid4().hex[:8]}:"


def offer(gpu_model: str = "A100-80GB", gpu_count: int = 1) -> Offer:
    instance_type = f"{gpu_count}x-{gpu_model}"
    return Offer(
        offer_id=offer_id_for("sandbox", instance_type, "local"),
        provider="sandbox",
        instance_type=instance_type,
        gpu_model=gpu_model,
        gpu_vendor="nvidia",
        gpu_memory_gb=80,
        gpu_count=gpu_count,
        region="local",
        price_per_hour=2.0 * gpu_count,
        price_per_gpu_hour=2.0,
        as_of=datetime(2026, 12, 1, tzinfo=UTC),
    )


def sandbox(client: Redis, prefix: str, **kw: object) -> SandboxCapacity:
    return SandboxCapacity(client, prefix=prefix, **kw)  # type: ignore[arg-type]


def test_reserve_describe_release(client: Redis, prefix: str) -> None:
    box = sandbox(client, prefix)
    got = box.reserve(offer(), gpu_count=1, idempotency_key="booking:1:reserve")
    assert got.status is InstanceStatus.RUNNING and got.idempotency_key == "booking:1:reserve"
    assert got.connection.host == "127.0.0.1" and "127.0.0.1" not in repr(got)
    assert box.describe(got.instance_id) == got
    assert [r.instance_id for r in box.list_instances()] == [got.instance_id]
    box.release(got.instance_id)
    assert box.describe(got.instance_id).status is InstanceStatus.TERMINATED
    assert box.list_instances() == []


def test_capacity_per_gpu_model_is_never_overbooked_by_concurrent_reserves(client: Redis, prefix: str) -> None:
    box = sandbox(client, prefix, capacity={"A100-80GB": 3, "*": 1})

    def one(i: int) -> str:
        try:
            return box.reserve(offer(), gpu_count=1, idempotency_key=f"k{i}").instance_id
        except NoCapacity:
            return "full"

    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(one, range(24)))
    assert sum(r != "full" for r in results) == 3
    assert box.used("A100-80GB") == 3
    # another model has its own limit ("*": 1); a 2-GPU reserve does not fit in it
    with pytest.raises(NoCapacity) as caught:
        box.reserve(offer("H100", 2), gpu_count=2, idempotency_key="h")
    assert caught.value.transient is False
    box.reserve(offer("H100"), gpu_count=1, idempotency_key="h1")
    # releasing gives the capacity back exactly once, however often it is released
    first = next(r for r in results if r != "full")
    for _ in range(3):
        box.release(first)
    assert box.used("A100-80GB") == 2
    box.reserve(offer(), gpu_count=1, idempotency_key="after-release")
    with pytest.raises(NoCapacity):
        box.reserve(offer(), gpu_count=1, idempotency_key="one-too-many")


def test_fifty_concurrent_reserves_with_one_key_make_one_instance(client: Redis, prefix: str) -> None:
    box = sandbox(client, prefix, capacity={"*": 100})
    with ThreadPoolExecutor(max_workers=16) as pool:
        ids = set(pool.map(lambda _: box.reserve(offer(), gpu_count=1, idempotency_key="dup").instance_id, range(50)))
    assert len(ids) == 1
    assert len(box.list_instances()) == 1 and box.used("A100-80GB") == 1


def test_release_of_an_unknown_instance_is_success(client: Redis, prefix: str) -> None:
    box = sandbox(client, prefix)
    box.release("sbx-never-existed")
    assert box.describe("sbx-never-existed").status is InstanceStatus.TERMINATED


def test_latency_is_paid_on_every_call(client: Redis, prefix: str) -> None:
    slept: list[float] = []
    box = sandbox(client, prefix, latency_s=0.25, sleep=slept.append)
    got = box.reserve(offer(), gpu_count=1, idempotency_key="lat")
    box.describe(got.instance_id)
    box.release(got.instance_id)
    assert slept == [0.25, 0.25, 0.25]


@pytest.mark.parametrize(
    ("error", "cls", "transient"),
    [
        ("no_capacity", NoCapacity, False),
        ("quota", QuotaExceeded, False),
        ("auth", ProviderAuthFailed, False),
        ("unavailable", ProviderUnavailable, True),
        ("timeout", ProviderUnavailable, True),
    ],
)
def test_injected_failures_by_rule(
    client: Redis, prefix: str, error: str, cls: type[ProvisioningError], transient: bool
) -> None:
    target = offer("H100")
    box = sandbox(client, prefix, failures=FailureRule.parse_all(f"reserve:{error}@{target.offer_id}"))
    with pytest.raises(ProvisioningError) as caught:
        box.reserve(target, gpu_count=1, idempotency_key="f")
    assert type(caught.value) is cls and caught.value.transient is transient
    assert box.list_instances() == [] and box.used("H100") == 0  # nothing taken
    box.reserve(offer(), gpu_count=1, idempotency_key="other offer")  # the rule matches that offer only


def test_a_counted_failure_stops_after_its_count_across_instances(client: Redis, prefix: str) -> None:
    rules = FailureRule.parse_all("release:unavailable:1")
    first = sandbox(client, prefix, failures=rules)
    got = first.reserve(offer(), gpu_count=1, idempotency_key="r")
    with pytest.raises(ProviderUnavailable):
        first.release(got.instance_id)
    sandbox(client, prefix, failures=rules).release(got.instance_id)  # another process: the count is shared
    assert first.list_instances() == []


def test_bad_rules_are_refused() -> None:
    for bad in ("reserve", "reserve:melt", "boot:auth", "reserve:auth:x"):
        with pytest.raises(ValueError):
            FailureRule.parse_all(bad)


def test_redis_down_is_transient(prefix: str) -> None:
    box = SandboxCapacity(Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5), prefix=prefix)
    with pytest.raises(ProviderUnavailable) as caught:
        box.reserve(offer(), gpu_count=1, idempotency_key="x")
    assert caught.value.transient is True


CHILD = """
import json, sys
from datetime import UTC, datetime
from gpubroker.adapters.provisioning.sandbox import SandboxCapacity
from gpubroker.domain.offers import Offer, offer_id_for
o = Offer(offer_id=offer_id_for("sandbox", "1x-L4", "local"), provider="sandbox", instance_type="1x-L4",
          gpu_model="L4", gpu_vendor="nvidia", gpu_memory_gb=24, gpu_count=1, region="local", price_per_hour=0.5,
          price_per_gpu_hour=0.5, as_of=datetime(2026, 12, 1, tzinfo=UTC))
box = SandboxCapacity.from_env()
print(json.dumps([box.reserve(o, gpu_count=1, idempotency_key=k).instance_id for k in sys.argv[1:]]))
"""


def test_instances_are_listed_across_processes(client: Redis, prefix: str) -> None:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{ROOT_DIR / 'layers' / 'core'}:{ROOT_DIR}",
           "GPUBROKER_SANDBOX_REDIS_URL": REDIS_URL, "GPUBROKER_SANDBOX_PREFIX": prefix,
           "GPUBROKER_SANDBOX_CAPACITY": "L4=2,*=0"}  # fmt: skip
    run = subprocess.run(
        [sys.executable, "-c", CHILD, "a", "b", "a"], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    made = json.loads(run.stdout)
    assert made[0] == made[2] != made[1]
    here = SandboxCapacity.from_env(env)
    assert {r.instance_id for r in here.list_instances()} == set(made)
    with pytest.raises(NoCapacity):  # the child took both L4s
        here.reserve(offer("L4"), gpu_count=1, idempotency_key="c")
    for instance_id in set(made):
        here.release(instance_id)
    assert here.list_instances() == []


def test_every_adapter_is_a_capacity_provider(client: Redis, prefix: str) -> None:
    from gpubroker.adapters.provisioning.lambda_cloud import LambdaCapacity
    from gpubroker.adapters.provisioning.runpod import RunPodCapacity
    from gpubroker.adapters.provisioning.shadeform import ShadeformCapacity
    from gpubroker.adapters.provisioning.vast import VastCapacity
    from gpubroker.ports import CapacityProvider

    providers: list[CapacityProvider] = [  # mypy checks the structural fit
        sandbox(client, prefix),
        LambdaCapacity(api_key="k"),
        RunPodCapacity(api_key="k"),
        ShadeformCapacity(api_key="k"),
        VastCapacity(api_key="k"),
    ]
    assert [p.provider for p in providers] == ["sandbox", "lambda", "runpod", "shadeform", "vast"]


def test_build_capacity_provider(prefix: str) -> None:
    from gpubroker.adapters.provisioning import build_capacity_provider
    from gpubroker.adapters.provisioning.lambda_cloud import LambdaCapacity
    from gpubroker.adapters.secrets import StaticCredentials
    from gpubroker.domain.errors import ProviderRejected

    env = {"GPUBROKER_SANDBOX_REDIS_URL": REDIS_URL, "GPUBROKER_SANDBOX_PREFIX": prefix}
    assert isinstance(build_capacity_provider("sandbox", environ=env), SandboxCapacity)
    built = build_capacity_provider("lambda", credentials=StaticCredentials(api_key="k", ssh_key_name="gpubroker"))
    assert isinstance(built, LambdaCapacity) and built._ssh_keys == ["gpubroker"]
    with pytest.raises(ProviderAuthFailed):
        build_capacity_provider("vast", credentials=StaticCredentials())
    with pytest.raises(ProviderRejected):
        build_capacity_provider("aws", credentials=StaticCredentials(api_key="k"))
