"""``make stripe-setup``: the plans as Stripe products and monthly prices, and the ``gpu_hours`` billing meter,
created idempotently (each looked up first: a price by its lookup key, a product by ``metadata.gpubroker_plan``, the
meter by its event name; a second run creates nothing). Prints what it found and what it created.

Target: ``STRIPE_API_BASE`` (empty: the real API; unset: the running local stack's server from .local/stack.json,
else http://127.0.0.1:8420) and ``STRIPE_API_KEY`` (default the local ``sk_test_gpubroker_local``).
The local stack runs :func:`setup` itself at start (infra/local/stack.py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

ROOT: Final = Path(__file__).resolve().parents[1]
LOCAL_API_KEY: Final = "sk_test_gpubroker_local"


@dataclass(frozen=True)
class PlanPrice:
    plan: str
    name: str
    monthly_minor: int  # cents
    currency: str = "usd"

    @property
    def lookup_key(self) -> str:
        return f"gpubroker_{self.plan}_monthly"


PLANS: Final = (
    PlanPrice("free", "GPUBroker Free", 0),
    PlanPrice("pro", "GPUBroker Pro", 2900),
    PlanPrice("enterprise", "GPUBroker Enterprise", 49900),
)
"""The plans of ``gpubroker.domain.plans.Plan`` and their monthly prices (docs/decisions.md: $0, $29, $499)."""

METER: Final = {
    "display_name": "GPU hours booked",
    "event_name": "gpu_hours",
    "default_aggregation": {"formula": "sum"},
    "customer_mapping": {"event_payload_key": "stripe_customer_id", "type": "by_id"},
    "value_settings": {"event_payload_key": "value"},
}


def client(api_key: str, api_base: str) -> Any:
    import stripe

    options: dict[str, Any] = {"base_addresses": {"api": api_base}} if api_base else {}
    return stripe.StripeClient(api_key, max_network_retries=2, **options).v1


def _product_for(v1: Any, plan: PlanPrice, say: Callable[[str], None], out: dict[str, Any]) -> str:
    for product in v1.products.list(params={"limit": 100}).auto_paging_iter():
        metadata = getattr(product, "metadata", None)
        if metadata is not None and getattr(metadata, "gpubroker_plan", None) == plan.plan:
            say(f"product {plan.plan}: exists ({product.id})")
            return str(product.id)
    product = v1.products.create(params={"name": plan.name, "metadata": {"gpubroker_plan": plan.plan}},
                                 options={"idempotency_key": f"setup:product:{plan.plan}"})  # fmt: skip
    say(f"product {plan.plan}: created ({product.id})")
    out["created"] += 1
    return str(product.id)


def setup(v1: Any, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Create what is missing; ``{"prices": {lookup_key: id}, "meter": id, "created": n}``."""
    out: dict[str, Any] = {"prices": {}, "meter": None, "created": 0}
    for plan in PLANS:
        found = v1.prices.list(params={"lookup_keys": [plan.lookup_key], "active": True}).data
        if found:
            say(f"price {plan.lookup_key}: exists ({found[0].id}, {found[0].unit_amount} {found[0].currency}/month)")
            out["prices"][plan.lookup_key] = str(found[0].id)
            continue
        product = _product_for(v1, plan, say, out)
        price = v1.prices.create(params={
            "product": product, "currency": plan.currency, "unit_amount": plan.monthly_minor,
            "recurring": {"interval": "month"}, "lookup_key": plan.lookup_key, "transfer_lookup_key": True,
            "metadata": {"gpubroker_plan": plan.plan},
        }, options={"idempotency_key": f"setup:price:{plan.lookup_key}:{plan.monthly_minor}"})  # fmt: skip
        say(f"price {plan.lookup_key}: created ({price.id}, {plan.monthly_minor} {plan.currency}/month)")
        out["prices"][plan.lookup_key] = str(price.id)
        out["created"] += 1
    meter = next((m for m in v1.billing.meters.list(params={"limit": 100}).auto_paging_iter()
                  if m.event_name == METER["event_name"]), None)  # fmt: skip
    if meter is not None:
        say(f"meter {METER['event_name']}: exists ({meter.id})")
    else:
        meter = v1.billing.meters.create(params=METER, options={"idempotency_key": "setup:meter:gpu_hours"})
        say(f"meter {METER['event_name']}: created ({meter.id})")
        out["created"] += 1
    out["meter"] = str(meter.id)
    return out


def default_api_base(state_file: Path) -> str:
    if "STRIPE_API_BASE" in os.environ:
        return os.environ["STRIPE_API_BASE"]
    try:
        return str(json.loads(state_file.read_text())["stripe"])
    except (OSError, ValueError, KeyError):
        return "http://127.0.0.1:8420"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.stripe_setup", description=__doc__.split("\n\n")[0])
    parser.add_argument("--state-file", default=str(ROOT / ".local/stack.json"))
    args = parser.parse_args(argv)
    api_base = default_api_base(Path(args.state_file))
    api_key = os.environ.get("STRIPE_API_KEY") or LOCAL_API_KEY
    if not api_base and api_key == LOCAL_API_KEY:
        print("error: STRIPE_API_BASE is empty (the real Stripe API): set STRIPE_API_KEY too", file=sys.stderr)
        return 2
    import stripe

    print(f"Stripe at {api_base or 'https://api.stripe.com'}")
    try:
        result = setup(client(api_key, api_base))
    except stripe.StripeError as exc:
        print(f"error: Stripe refused: {exc}", file=sys.stderr)
        return 1
    print(f"done: {result['created']} created")
    return 0


if __name__ == "__main__":
    sys.exit(main())
