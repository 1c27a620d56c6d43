"""DynamoDB repositories: offers, price history and the GPU catalog. Keys are documented in domain/offers.py."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

from gpubroker.adapters.aws import client, dynamodb_table
from gpubroker.domain.gpus import GpuCatalog, GpuSpec
from gpubroker.domain.offers import Offer


def to_item(data: Mapping[str, Any]) -> dict[str, Any]:
    """JSON-like -> DynamoDB item: floats become Decimal (via str, exact), None attributes are dropped."""
    return {k: _to_ddb(v) for k, v in data.items() if v is not None}


def _to_ddb(v: Any) -> Any:
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, float):
        return Decimal(repr(v))
    if isinstance(v, Mapping):
        return {k: _to_ddb(x) for k, x in v.items() if x is not None}
    if isinstance(v, list | tuple):
        return [_to_ddb(x) for x in v]
    return v


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _from_ddb(v) for k, v in item.items()}


def _from_ddb(v: Any) -> Any:
    if isinstance(v, Decimal):
        return int(v) if v == v.to_integral_value() and "." not in str(v) and "E" not in str(v) else float(v)
    if isinstance(v, Mapping):
        return {k: _from_ddb(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_from_ddb(x) for x in v]
    return v


BATCH = 25  # BatchWriteItem's limit
WRITERS = 4  # concurrent BatchWriteItem calls per write_many
_RETRIES = 8


def write_many(table_name: str, items: Iterable[Mapping[str, Any]], *, key: Sequence[str]) -> int:
    """Put ``items`` (plain dicts, as :func:`to_item` makes them) in batches of 25 on a few threads.

    One key appears once (the last item wins, as DynamoDB refuses a batch that names a key twice); unprocessed
    items are retried with exponential backoff and jitter, and still-unprocessed ones raise. Returns the count
    written. The low-level client is used (thread-safe, unlike a resource), serialising each item once.
    """
    from boto3.dynamodb.types import TypeSerializer

    ser = TypeSerializer()
    unique = {tuple(str(i[k]) for k in key): i for i in items}
    wire = [{"PutRequest": {"Item": {k: ser.serialize(v) for k, v in i.items()}}} for i in unique.values()]
    chunks = [wire[n : n + BATCH] for n in range(0, len(wire), BATCH)]
    if not chunks:
        return 0
    ddb = client("dynamodb")

    def put(chunk: list[dict[str, Any]]) -> None:
        pending = {table_name: chunk}
        for attempt in range(_RETRIES):
            pending = ddb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            if not pending:
                return
            time.sleep(random.uniform(0, min(1.0, 0.05 * 2**attempt)))
        raise RuntimeError(f"{len(pending[table_name])} items of {table_name} stayed unprocessed")

    if len(chunks) == 1:
        put(chunks[0])
    else:
        with ThreadPoolExecutor(max_workers=min(WRITERS, len(chunks))) as pool:
            list(pool.map(put, chunks))
    return len(wire)


_OFFER_FIELDS = set(Offer.model_fields)


def _offer(item: Mapping[str, Any]) -> Offer:
    data = {k: v for k, v in from_item(item).items() if k in _OFFER_FIELDS}
    return Offer.model_validate(data)


class DynamoOfferRepository:
    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    @property
    def _table(self) -> Any:
        return dynamodb_table(self.table_name)

    def offers_of(self, provider: str) -> list[Offer]:
        from boto3.dynamodb.conditions import Key  # boto3 is imported on first use, not at handler import

        out: list[Offer] = []
        kwargs: dict[str, Any] = {
            "IndexName": "by_provider",
            "KeyConditionExpression": Key("provider").eq(provider),
        }
        while True:
            page = self._table.query(**kwargs)
            out.extend(_offer(i) for i in page["Items"])
            if "LastEvaluatedKey" not in page:
                return out
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def put_many(self, offers: Sequence[Offer]) -> None:
        items = (to_item(o.model_dump(mode="json")) | {"content_hash": o.content_hash()} for o in offers)
        write_many(self.table_name, items, key=["offer_id"])

    def get(self, offer_id: str) -> Offer | None:
        item = self._table.get_item(Key={"offer_id": offer_id}).get("Item")
        return _offer(item) if item else None


class DynamoPriceHistoryRepository:
    """Append points; read one offer's points (Query on ``offer_id``, ``ts`` range) or a GPU model's last days
    (the ``by_gpu`` index: newest point first, then the window before it)."""

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    def offer_points(
        self, offer_id: str, *, since: str | None, until: str | None, limit: int, after: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        from boto3.dynamodb.conditions import Key

        cond: Any = Key("offer_id").eq(offer_id)
        if since and until:
            cond = cond & Key("ts").between(since, until)
        elif since:
            cond = cond & Key("ts").gte(since)
        elif until:
            cond = cond & Key("ts").lte(until)
        kwargs: dict[str, Any] = {"KeyConditionExpression": cond, "Limit": limit}
        if after:
            kwargs["ExclusiveStartKey"] = {"offer_id": offer_id, "ts": after}
        page = dynamodb_table(self.table_name).query(**kwargs)
        last = page.get("LastEvaluatedKey")
        return [from_item(i) for i in page["Items"]], (str(last["ts"]) if last else None)

    def gpu_points(self, gpu_model: str, *, days: int, prefix: str | None = None) -> list[dict[str, Any]]:
        """Points of ``gpu_model`` in the ``days`` before its newest one (only series whose id starts with
        ``prefix``, when given): one Query of the model's ``by_gpu`` partition, the window cut here. Thread-safe
        (the low-level client, not a resource): the market summary reads several models at once."""
        from datetime import datetime, timedelta

        from boto3.dynamodb.types import TypeDeserializer

        des = TypeDeserializer()
        rows: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": "by_gpu",
            "KeyConditionExpression": "gpu_model = :m",
            "ExpressionAttributeValues": {":m": {"S": gpu_model}},
        }
        while True:
            page = client("dynamodb").query(**kwargs)
            items = ({k: des.deserialize(v) for k, v in i.items()} for i in page["Items"])
            rows.extend(from_item(i) for i in items if str(i["offer_id"]).startswith(prefix or ""))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        if not rows:
            return []
        since = (datetime.fromisoformat(max(str(r["ts"]) for r in rows)) - timedelta(days=days)).isoformat()
        return [r for r in rows if str(r["ts"]) >= since]

    def append(self, points: Sequence[Mapping[str, Any]]) -> None:
        write_many(self.table_name, (to_item(p) for p in points), key=["offer_id", "ts"])


_GPU_PK = "GPU"
_META_PK = "META"


class DynamoGpuCatalogRepository:
    """One partition ``pk = "GPU"`` (sort key ``model``): listing is a Query, never a Scan."""

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    @property
    def _table(self) -> Any:
        return dynamodb_table(self.table_name)

    def version(self) -> str | None:
        item = self._table.get_item(Key={"pk": _META_PK, "model": "version"}).get("Item")
        return str(item["version"]) if item else None

    def replace_all(self, catalog: GpuCatalog) -> None:
        stored = {g.model for g in self.list_all()}
        with self._table.batch_writer() as batch:
            for spec in catalog.gpus:
                batch.put_item(Item={"pk": _GPU_PK, "model": spec.model, "spec": spec.model_dump_json()})
            for model in stored - {g.model for g in catalog.gpus}:
                batch.delete_item(Key={"pk": _GPU_PK, "model": model})
        self._table.put_item(Item={"pk": _META_PK, "model": "version", "version": catalog.version})

    def list_all(self) -> list[GpuSpec]:
        from boto3.dynamodb.conditions import Key

        out: list[GpuSpec] = []
        kwargs: dict[str, Any] = {"KeyConditionExpression": Key("pk").eq(_GPU_PK)}
        while True:
            page = self._table.query(**kwargs)
            out.extend(GpuSpec.model_validate(json.loads(i["spec"])) for i in page["Items"])
            if "LastEvaluatedKey" not in page:
                return out
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def get(self, model: str) -> GpuSpec | None:
        item = self._table.get_item(Key={"pk": _GPU_PK, "model": model}).get("Item")
        return GpuSpec.model_validate(json.loads(item["spec"])) if item else None
