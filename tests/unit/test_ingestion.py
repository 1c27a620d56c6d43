"""The ingestion service with in-memory ports: diff, vanished offers, history, snapshot, run report."""

from __future__ import annotations

from gpubroker.domain.errors import SourceError
from gpubroker.domain.offers import RawOffer, RejectedRow
from gpubroker.services.ingestion import sync_gpu_catalog
from gpumath.columns import OfferColumns
from tests.fakes import FailingSource, ListSource, MemoryGpuCatalog, World


def raw(instance: str, price: float, *, gpu: str = "A6000", count: float = 1.0, region: str = "CA") -> RawOffer:
    return RawOffer(
        provider="runpod",
        instance_type=instance,
        region=region,
        gpu_name=gpu,
        gpu_count=count,
        price_per_hour=price,
    )


def test_first_run_writes_everything_and_reports_rejections() -> None:
    w = World()
    rows: list[RawOffer | RejectedRow] = [
        raw("1x_A6000", 0.49),
        raw("2x_A6000", 0.98, count=2),
        RejectedRow("malformed_row"),
        raw("weird", 1.0, gpu="Voodoo9"),
        raw("tpu", 1.0, gpu="TPUv9"),
        raw("dup", 1.0),
        raw("dup", 1.0),
        raw("free", 0.0),
    ]
    report = w.run(ListSource("runpod", rows))
    assert report.accepted == 3
    assert report.rejected == {
        "malformed_row": 1,
        "unknown_gpu": 1,
        "not_a_gpu": 1,
        "duplicate": 1,
        "implausible_price": 1,
    }
    assert report.unknown_gpus == ["Voodoo9"]  # a TPU is not an unknown GPU
    assert report.written == 3 and len(w.offers.items) == 3
    assert len(w.history.points) == 3
    assert w.catalog.stored_version is not None  # GPU catalog synced on the way
    cols = OfferColumns.from_bytes(w.snapshots.blobs[report.snapshot_version or ""])
    assert cols.n == 3


def test_second_run_writes_only_changes_and_marks_vanished_unavailable() -> None:
    w = World()
    w.run(ListSource("runpod", [raw("a", 0.49), raw("b", 0.79), raw("c", 1.0)]))
    writes_before = w.offers.writes
    w.clock.advance(3600)
    report = w.run(ListSource("runpod", [raw("a", 0.49), raw("b", 0.69)]))
    assert report.unchanged == 1 and report.written == 1 and report.marked_unavailable == 1
    assert w.offers.writes - writes_before == 2  # b's new price, c gone
    gone = next(o for o in w.offers.items.values() if o.instance_type == "c")
    assert gone.available is False
    assert [p["price_per_hour"] for p in w.history.points if p["offer_id"] == report_id(w, "b")] == [
        0.79,
        0.69,
    ]
    cols = OfferColumns.from_bytes(w.snapshots.blobs[report.snapshot_version or ""])
    assert cols.n == 3 and int(cols.bools["available"].sum()) == 2
    # a third identical run writes nothing at all
    w.clock.advance(3600)
    again = w.run(ListSource("runpod", [raw("a", 0.49), raw("b", 0.69)]))
    assert again.written == 0 and again.marked_unavailable == 0 and again.history_points == 0


def report_id(w: World, instance: str) -> str:
    return next(o.offer_id for o in w.offers.items.values() if o.instance_type == instance)


def test_other_providers_stay_in_the_snapshot() -> None:
    w = World()
    w.run(ListSource("runpod", [raw("a", 0.49)]))
    vast = RawOffer(
        provider="vast",
        instance_type="1x-RTX_4090",
        region="France, FR, EU",
        gpu_name="RTX4090",
        gpu_count=1,
        price_per_hour=0.4,
    )
    report = w.run(ListSource("vast", [vast]))
    cols = OfferColumns.from_bytes(w.snapshots.blobs[report.snapshot_version or ""])
    assert sorted(cols.vocab["provider"]) == ["runpod", "vast"] and cols.n == 2


def test_a_failing_source_removes_nothing_and_flags_stale() -> None:
    w = World()
    first = w.run(ListSource("runpod", [raw("a", 0.49), raw("b", 0.79)]))
    before = (dict(w.offers.items), list(w.history.points))
    w.clock.advance(3600)
    report = w.run(FailingSource("runpod", SourceError("boom")))
    assert (report.status, report.stale_offers) == ("failed", 2) and "boom" in (report.error or "")
    assert (dict(w.offers.items), list(w.history.points)) == before  # nothing written to the tables
    cols = OfferColumns.from_bytes(w.snapshots.blobs[report.snapshot_version or ""])
    assert cols.n == 2 and bool(cols.bools["stale"].all()) and bool(cols.bools["available"].all())
    old = OfferColumns.from_bytes(w.snapshots.blobs[first.snapshot_version or ""])
    assert list(cols.as_of) == list(old.as_of)  # the last good as_of, not the failed run's time
    assert w.snapshots.latest is not None and w.snapshots.latest["providers"]["runpod"]["stale"] is True
    # the next good run clears the flag
    w.clock.advance(3600)
    ok = w.run(ListSource("runpod", [raw("a", 0.49), raw("b", 0.79)]))
    fresh = OfferColumns.from_bytes(w.snapshots.blobs[ok.snapshot_version or ""])
    assert ok.status == "ok" and not fresh.bools["stale"].any()


def test_failure_before_any_good_run_publishes_nothing() -> None:
    w = World()
    report = w.run(FailingSource("vast", SourceError("down")))
    assert report.status == "failed" and report.snapshot_version is None and not w.snapshots.blobs


def test_a_run_refused_by_an_open_breaker_is_skipped_and_keeps_the_offers_stale() -> None:
    from gpubroker.domain.breaker import BreakerOpen

    w = World()
    w.run(ListSource("runpod", [raw("a", 0.49)]))
    w.clock.advance(3600)
    report = w.run(FailingSource("runpod", BreakerOpen("provider runpod is unavailable (circuit breaker open)")))
    assert (report.status, report.skipped, report.stale_offers) == ("skipped", "breaker_open", 1)
    failed = w.run(FailingSource("runpod", SourceError("runpod: giving up after 5 attempts")))
    assert (failed.status, failed.skipped) == ("failed", None)


def test_catalog_sync_only_when_version_differs() -> None:
    repo = MemoryGpuCatalog()
    assert sync_gpu_catalog(repo=repo) is True
    assert sync_gpu_catalog(repo=repo) is False


def test_provider_credentials_pick_their_part_of_the_shared_secret() -> None:
    from gpubroker.adapters.secrets import ProviderCredentials, StaticCredentials

    shared = StaticCredentials({"runpod": '{"api_key": "rk"}', "verda": '{"client_id": "c", "client_secret": "s"}'})
    assert ProviderCredentials(shared, "runpod").values() == {"api_key": "rk"}
    assert ProviderCredentials(shared, "verda").values() == {"client_id": "c", "client_secret": "s"}
    assert ProviderCredentials(shared, "vast").values() == {}
