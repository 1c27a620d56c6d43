"""Stripe webhook events and the customer -> user links, in the auth table (``pk``, ``sk``; ``expires_at`` TTL).

Items: ``STRIPE_EVENT#<event id>/EVENT`` (one per event ever accepted: type, ``created``, ``outcome``, what it
changed, and for an event only acknowledged now its body; kept 90 days, past Stripe's 3 days of retries) and
``STRIPE_CUSTOMER#<customer id>/CUSTOMER`` (``user_id``, ``email``) with its reverse,
``STRIPE_USER#<user id>/CUSTOMER`` (``customer_id``: the one customer ``StripePayments.customer_for`` created for a
user). The plan lives on the user's profile (``USER#<email>/PROFILE``: ``plan``, and ``plan_event``, the
:func:`~gpubroker.domain.billing_events.order_key` of the event that set it, and ``stripe_customer``).

Deduplication is the event item's conditional put (``attribute_not_exists(pk)``). A plan change is one
``TransactWriteItems``: that put and the profile's update under ``plan_event < :order`` commit together or not at
all, so an event is applied exactly once and a failure writes nothing (Stripe retries it). Why the auth table and
not a table of our own: the plan is on the profile there, and a transaction spans items of one table as well as of
two, but keeping both in one table keeps the function's IAM to one table and the local stack unchanged; the key
prefixes cannot meet a user's (``USER#``), a family's or a token's.
"""

from __future__ import annotations

import json
from typing import Any, Final

from gpubroker.adapters.aws import client, conditional_check_failed
from gpubroker.domain.billing_events import EventRecord, PlanOutcome
from gpubroker.domain.errors import Unavailable

EVENT_TTL_S: Final = 90 * 24 * 3600


def _event_key(event_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"STRIPE_EVENT#{event_id}"}, "sk": {"S": "EVENT"}}


def _customer_key(customer_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"STRIPE_CUSTOMER#{customer_id}"}, "sk": {"S": "CUSTOMER"}}


def _user_key(user_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"STRIPE_USER#{user_id}"}, "sk": {"S": "CUSTOMER"}}


def _event_item(record: EventRecord, outcome: str) -> dict[str, Any]:
    item: dict[str, Any] = {
        **_event_key(record.event_id),
        "type": {"S": record.type},
        "created": {"N": str(record.created)},
        "outcome": {"S": outcome},
        "received_at": {"N": str(record.received_at)},
        "expires_at": {"N": str(record.received_at + EVENT_TTL_S)},
    }
    if record.fields:
        item["fields"] = {"M": {k: {"S": v} for k, v in record.fields.items()}}
    if record.payload is not None:
        item["payload"] = {"S": record.payload}
    return item


class DynamoBillingStore:
    """The webhook's store (see the module docstring)."""

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    def claim(self, record: EventRecord) -> bool:
        """Record an event once: False when its id was recorded before (a replay; nothing written)."""
        return self._put_once(record, record.outcome)

    def _put_once(self, record: EventRecord, outcome: str) -> bool:
        try:
            client("dynamodb").put_item(TableName=self.table_name, Item=_event_item(record, outcome),
                                        ConditionExpression="attribute_not_exists(pk)")  # fmt: skip
        except Exception as exc:
            if conditional_check_failed(exc):
                return False
            raise
        return True

    def apply_plan(
        self, record: EventRecord, *, email: str, plan: str, order: str, customer: str | None
    ) -> PlanOutcome:
        """Record the event and set the user's plan in one transaction, unless a newer event set it already (then the
        event is recorded as ``superseded``), the event was seen before (``duplicate``: nothing written) or the
        profile is gone (``user_unknown``, recorded)."""
        sets, values = ["#p = :p", "plan_event = :o"], {":p": {"S": plan}, ":o": {"S": order}}
        if customer:
            sets.append("stripe_customer = :c")
            values[":c"] = {"S": customer}
        update = {
            "TableName": self.table_name,
            "Key": {"pk": {"S": f"USER#{email}"}, "sk": {"S": "PROFILE"}},
            "UpdateExpression": "SET " + ", ".join(sets),
            "ConditionExpression": "attribute_exists(pk) AND (attribute_not_exists(plan_event) OR plan_event < :o)",
            "ExpressionAttributeNames": {"#p": "plan"},
            "ExpressionAttributeValues": values,
        }
        put = {"TableName": self.table_name, "Item": _event_item(record, "applied"),
               "ConditionExpression": "attribute_not_exists(pk)"}  # fmt: skip
        ddb = client("dynamodb")
        try:
            ddb.transact_write_items(TransactItems=[{"Put": put}, {"Update": update}])
        except ddb.exceptions.TransactionCanceledException as exc:
            reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            if reasons[:1] == ["ConditionalCheckFailed"]:
                return "duplicate"
            if len(reasons) < 2 or reasons[1] != "ConditionalCheckFailed":
                # a conflict with a concurrent delivery of the same event: nothing written, Stripe retries (503)
                raise Unavailable("a concurrent write on this event or user; retry") from None
            profile = ddb.get_item(TableName=self.table_name, Key=update["Key"], ProjectionExpression="pk",
                                   ConsistentRead=True)  # fmt: skip
            outcome: PlanOutcome = "superseded" if profile.get("Item") else "user_unknown"
            return outcome if self._put_once(record, outcome) else "duplicate"
        return "applied"

    def link_customer(self, customer_id: str, *, user_id: str, email: str) -> None:
        """Remember which user a Stripe customer is (checkout creates the customer with ``metadata.user_id``)."""
        item = {**_customer_key(customer_id), "user_id": {"S": user_id}, "email": {"S": email}}
        client("dynamodb").put_item(TableName=self.table_name, Item=item)

    def link_user(self, user_id: str, customer_id: str, *, email: str) -> str:
        """Remember a user's own Stripe customer, both ways; the first link wins (a second customer made by a race
        past Stripe's 24 h idempotency window is not recorded): the customer id now on record."""
        item = {**_user_key(user_id), "customer_id": {"S": customer_id}}
        try:
            client("dynamodb").put_item(TableName=self.table_name, Item=item,
                                        ConditionExpression="attribute_not_exists(pk)")  # fmt: skip
        except Exception as exc:
            if not conditional_check_failed(exc):
                raise
            return self.customer_of(user_id) or customer_id
        self.link_customer(customer_id, user_id=user_id, email=email)
        return customer_id

    def customer_of(self, user_id: str) -> str | None:
        """The Stripe customer linked to a user by :meth:`link_user`, or None."""
        got = client("dynamodb").get_item(TableName=self.table_name, Key=_user_key(user_id),
                                          ConsistentRead=True).get("Item")  # fmt: skip
        return got["customer_id"]["S"] if got else None

    def customer(self, customer_id: str) -> tuple[str, str] | None:
        """The (user id, email) of a Stripe customer we linked, or None."""
        got = client("dynamodb").get_item(TableName=self.table_name, Key=_customer_key(customer_id),
                                          ConsistentRead=True).get("Item")  # fmt: skip
        return (got["user_id"]["S"], got["email"]["S"]) if got else None

    def event(self, event_id: str) -> dict[str, Any] | None:
        """A recorded event as plain values (``fields`` a dict), or None: for the next step's readers and tests."""
        got = client("dynamodb").get_item(TableName=self.table_name, Key=_event_key(event_id),
                                          ConsistentRead=True).get("Item")  # fmt: skip
        if not got:
            return None
        out: dict[str, Any] = {k: next(iter(v.values())) for k, v in got.items() if k != "fields"}
        out["fields"] = {k: v["S"] for k, v in got.get("fields", {}).get("M", {}).items()}
        plain: dict[str, Any] = json.loads(json.dumps(out))
        return plain
