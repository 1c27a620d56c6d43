"""Property "graceful degradation fallback": a provider failure never removes its offers and never fails a
search; while a provider is failing its last good offers stay searchable, flagged stale with their as_of."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gpubroker.domain.errors import SourceError
from gpubroker.domain.offers import RawOffer
from gpubroker.domain.search import OfferQuery
from gpubroker.services.search import SnapshotCache, search_offers
from tests.fakes import FailingSource, ListSource, World

PROVIDERS = ("runpod", "lambda", "verda")
GPUS = ("A6000", "H100-SXM", "L40S")

step = st.tuples(
    st.sampled_from(PROVIDERS),
    st.one_of(
        st.none(),  # the provider fails
        st.lists(st.tuples(st.integers(0, 5), st.sampled_from(GPUS), st.sampled_from([0.5, 1.0, 2.5])), max_size=6),
    ),
)


def rows(provider: str, spec: list[tuple[int, str, float]]) -> list[RawOffer]:
    return [
        RawOffer(
            provider=provider,
            instance_type=f"i{n}-{gpu}",
            region="eu",
            gpu_name=gpu,
            gpu_count=1.0,
            price_per_hour=price,
        )
        for n, gpu, price in spec
    ]


@settings(max_examples=150, deadline=None)
@given(st.lists(step, min_size=1, max_size=12))
def test_failures_keep_last_good_offers_and_searches_never_fail(steps: list[tuple[str, list | None]]) -> None:  # type: ignore[type-arg]
    w = World()
    last_good: dict[str, set[str]] = {}
    failing: set[str] = set()
    for provider, spec in steps:
        w.clock.advance(60)
        if spec is None:
            report = w.run(FailingSource(provider, SourceError("provider down")))
            assert report.status == "failed"
            failing.add(provider)
        else:
            report = w.run(ListSource(provider, list(rows(provider, spec))))
            assert report.status == "ok"
            last_good[provider] = {
                o.offer_id for o in w.offers.items.values() if o.provider == provider and o.available
            }
            failing.discard(provider)
        if not w.snapshots.latest:
            continue
        page = search_offers(OfferQuery(limit=100, available=True), snapshots=SnapshotCache(w.snapshots, ttl_s=0))
        found: dict[str, set[str]] = {}
        for item in page.items:
            found.setdefault(item.provider, set()).add(item.offer_id)
            assert item.stale == (item.provider in failing)
        for p, ids in last_good.items():
            assert found.get(p, set()) == ids  # nothing of a failing provider disappears
        assert page.stale == any(i.stale for i in page.items)
