import { useCallback, useEffect, useMemo, useState } from "react";
import {
  Anchor, Badge, Button, Checkbox, Collapse, Group, MultiSelect, NativeSelect, NumberInput, Paper, SimpleGrid, Stack, Switch,
  Table, TagsInput, Text, TextInput, Title,
} from "@mantine/core";
import { useMediaQuery } from "@mantine/hooks";
import { Link, useSearchParams } from "react-router-dom";
import { apiGet } from "../api/client";
import type { Offer, OfferPage, Provider } from "../api/types";
import { useApi } from "../api/useApi";
import { Empty, ErrorState, PageLoading } from "../components/States";
import { fmtNum, fmtUsd } from "../format";
import type { Direction } from "../live/highlights";
import type { PriceUpdate } from "../live/prices";
import { useLivePrices } from "../live/useLivePrices";
import { setPageContext } from "../chat/context";
import {
  COMPLIANCE, type OffersQuery, RANGE_FILTERS, SORTS, VENDORS, activeFilterCount, liveFilters, parseQuery,
  toSearchParams, type Bound, type ListFilter,
} from "../offers/query";

const REGION_GROUPS = ["eu", "us", "na", "sa", "asia", "me", "africa", "oceania", "apac", "emea", "americas"];
const PAGE = 25;

function LiveIndicator({ status, retryInMs }: { status: string; retryInMs?: number }) {
  const [color, text] =
    status === "open" ? ["green", "Live prices"]
    : status === "reconnecting" ? ["yellow", retryInMs ? `Reconnecting (in ${Math.ceil(retryInMs / 1000)} s)` : "Reconnecting"]
    : status === "connecting" ? ["gray", "Connecting"]
    : ["red", "Live prices off"];
  return (
    <Badge color={color} variant="dot" size="lg" role="status" aria-live="polite" data-live={status}>
      {text}
    </Badge>
  );
}

function Filters({ query, onApply, providers }: { query: OffersQuery; onApply: (q: OffersQuery) => void; providers: string[] }) {
  const [draft, setDraft] = useState(query);
  const [more, setMore] = useState(Object.keys(query.bounds).length > 0 || !query.available);
  useEffect(() => setDraft(query), [query]);
  const setList = (name: ListFilter) => (values: string[]) => setDraft((d) => ({ ...d, lists: { ...d.lists, [name]: values } }));
  const setBound = (bound: Bound) => (value: string | number) =>
    setDraft((d) => {
      const bounds = { ...d.bounds };
      if (value === "" || value === null || Number.isNaN(Number(value))) delete bounds[bound];
      else bounds[bound] = Number(value);
      return { ...d, bounds };
    });
  return (
    <Paper withBorder p="md" component="form" aria-label="Offer filters"
      onSubmit={(e: React.FormEvent) => { e.preventDefault(); onApply(draft); }}>
      <Stack gap="sm">
        <Group align="end" wrap="wrap">
          <TextInput style={{ flex: "1 1 260px" }} label="Search" placeholder="e.g. h100 8x eu, 4090 24gb"
            value={draft.q} onChange={(e) => { const q = e.currentTarget.value; setDraft((d) => ({ ...d, q })); }} />
          <NativeSelect label="Sort by" value={draft.sort}
            data={SORTS.map(([value, label]) => ({ value, label }))}
            onChange={(e) => onApply({ ...draft, sort: e.currentTarget.value as OffersQuery["sort"] })} />
        </Group>
        <SimpleGrid cols={{ base: 1, sm: 2, lg: 3 }}>
          <TagsInput label="GPU" placeholder="H100, A100 80GB, 4090" value={draft.lists.gpu ?? []} onChange={setList("gpu")} />
          <MultiSelect label="Provider" placeholder="any" data={providers} value={draft.lists.provider ?? []} onChange={setList("provider")} searchable />
          <TagsInput label="Region" placeholder="eu, us, a region name" data={REGION_GROUPS} value={draft.lists.region ?? []} onChange={setList("region")} />
          <MultiSelect label="Compliance (all must hold)" placeholder="any" data={[...COMPLIANCE]} value={draft.lists.compliance ?? []} onChange={setList("compliance")} />
          <MultiSelect label="GPU vendor" placeholder="any" data={[...VENDORS]} value={draft.lists.gpu_vendor ?? []} onChange={setList("gpu_vendor")} />
          <Stack gap={6} justify="end">
            <Switch label="Spot price offered" checked={draft.spot} onChange={(e) => { const spot = e.currentTarget.checked; setDraft((d) => ({ ...d, spot })); }} />
            <Switch label="Only offers that vanished" checked={!draft.available} onChange={(e) => { const gone = e.currentTarget.checked; setDraft((d) => ({ ...d, available: !gone })); }} />
          </Stack>
        </SimpleGrid>
        <Collapse expanded={more}>
          <SimpleGrid cols={{ base: 1, sm: 2, lg: 4 }}>
            {RANGE_FILTERS.map(([name, label, integer]) => (
              <Group key={name} gap={6} grow wrap="nowrap" align="end">
                <NumberInput label={`${label} min`} min={0} allowDecimal={!integer} allowNegative={false} hideControls
                  value={draft.bounds[`min_${name}`] ?? ""} onChange={setBound(`min_${name}`)} />
                <NumberInput label="max" aria-label={`${label} max`} min={0} allowDecimal={!integer} allowNegative={false} hideControls
                  value={draft.bounds[`max_${name}`] ?? ""} onChange={setBound(`max_${name}`)} />
              </Group>
            ))}
          </SimpleGrid>
        </Collapse>
        <Group>
          <Button type="submit">Apply filters</Button>
          <Button variant="subtle" onClick={() => setMore((m) => !m)} aria-expanded={more}>
            {more ? "Fewer filters" : "More filters"}
          </Button>
          <Button variant="subtle" color="gray" onClick={() => onApply({ ...draft, lists: {}, bounds: {}, spot: false, available: true, q: "" })}
            disabled={activeFilterCount(query) === 0 && !query.q}>
            Clear
          </Button>
        </Group>
      </Stack>
    </Paper>
  );
}

function rowClass(direction: Direction | undefined): string | undefined {
  return direction ? `price-${direction}` : undefined;
}

const COMPARE_MAX = 4;

function OfferRows({ offers, highlighted, compare, onCompare }: {
  offers: Offer[]; highlighted: ReadonlyMap<string, Direction>; compare: string[]; onCompare: (id: string) => void;
}) {
  return (
    <Table.ScrollContainer minWidth={760}>
      <Table striped highlightOnHover aria-label="Offers">
        <Table.Thead>
          <Table.Tr>
            <Table.Th><span className="visually-hidden">Compare</span></Table.Th>
            <Table.Th>GPU</Table.Th>
            <Table.Th className="num">Per GPU-hour</Table.Th>
            <Table.Th className="num">Per hour</Table.Th>
            <Table.Th className="num">Spot per hour</Table.Th>
            <Table.Th>Provider</Table.Th>
            <Table.Th>Region</Table.Th>
            <Table.Th className="num">vCPUs / RAM</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {offers.map((o) => {
            const direction = highlighted.get(o.offer_id);
            return (
              <Table.Tr key={o.offer_id} data-offer-id={o.offer_id} data-highlight={direction ?? undefined} className={rowClass(direction)}>
                <Table.Td>
                  <Checkbox aria-label={`Compare ${o.gpu_count}× ${o.gpu_model} at ${o.provider} (${o.offer_id})`}
                    checked={compare.includes(o.offer_id)} onChange={() => onCompare(o.offer_id)}
                    disabled={!compare.includes(o.offer_id) && compare.length >= COMPARE_MAX} />
                </Table.Td>
                <Table.Td>
                  <Anchor component={Link} to={`/offers/${encodeURIComponent(o.offer_id)}`} fw={600}>
                    {o.gpu_count}× {o.gpu_model}
                  </Anchor>
                  <Text size="xs" c="dimmed">{o.gpu_memory_gb} GB each · {o.provider} · {o.instance_type}</Text>
                </Table.Td>
                <Table.Td className="num" data-price>
                  {fmtUsd(o.price_per_gpu_hour)}
                  {direction && <span className="visually-hidden"> (price went {direction})</span>}
                  {!o.available && <Badge ml={4} size="xs" color="gray.7" variant="outline">gone</Badge>}
                </Table.Td>
                <Table.Td className="num">{fmtUsd(o.price_per_hour)}</Table.Td>
                <Table.Td className="num">{fmtUsd(o.spot_price_per_hour)}</Table.Td>
                <Table.Td>{o.provider}</Table.Td>
                <Table.Td>{o.region}</Table.Td>
                <Table.Td className="num">{fmtNum(o.vcpus)} / {fmtNum(o.ram_gb, " GB")}</Table.Td>
              </Table.Tr>
            );
          })}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

export default function Offers() {
  const [params, setParams] = useSearchParams();
  const query = useMemo(() => parseQuery(params), [params]);
  const apiQuery = toSearchParams(query).toString();
  const providers = useApi<{ items: Provider[] }>("/providers");
  const [page, setPage] = useState<{ key: string; items: Offer[]; count: number; next: string | null } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loadingMore, setLoadingMore] = useState(false);
  const [tick, setTick] = useState(0);
  const [compare, setCompare] = useState<string[]>([]);
  const toggleCompare = (id: string) =>
    setCompare((c) => (c.includes(id) ? c.filter((x) => x !== id) : c.length < COMPARE_MAX ? [...c, id] : c));

  useEffect(() => {
    const ctrl = new AbortController();
    setError(null);
    setPage(null);
    const qs = new URLSearchParams(apiQuery);
    qs.set("limit", String(PAGE));
    apiGet<OfferPage>(`/offers?${qs}`, { signal: ctrl.signal }).then(
      (p) => setPage({ key: apiQuery, items: p.items, count: p.count, next: p.next_cursor }),
      (err) => { if (!ctrl.signal.aborted) setError(err); },
    );
    return () => ctrl.abort();
  }, [apiQuery, tick]);

  const loadMore = async () => {
    if (!page?.next) return;
    setLoadingMore(true);
    try {
      const qs = new URLSearchParams(apiQuery);
      qs.set("limit", String(PAGE));
      qs.set("cursor", page.next);
      const more = await apiGet<OfferPage>(`/offers?${qs}`);
      setPage((p) => p && p.key === apiQuery ? { ...p, items: [...p.items, ...more.items], next: more.next_cursor } : p);
    } catch (err) {
      setError(err);
    } finally {
      setLoadingMore(false);
    }
  };

  const onPrices = useCallback((updates: PriceUpdate[]) => {
    const byId = new Map(updates.map((u) => [u.offerId, u.price]));
    setPage((p) => {
      if (!p || !p.items.some((o) => byId.has(o.offer_id))) return p;
      return {
        ...p,
        items: p.items.map((o) => {
          if (!byId.has(o.offer_id)) return o;
          const price = byId.get(o.offer_id) ?? null;
          return price === null ? { ...o, available: false }
            : { ...o, price_per_gpu_hour: price, price_per_hour: Math.round(price * o.gpu_count * 1e4) / 1e4, available: true };
        }),
      };
    });
  }, []);
  const filters = useMemo(() => liveFilters(query), [query]);
  const live = useLivePrices(filters, onPrices);

  // the assistant's "analyse my current search": these filters and the offers on screen
  const visibleIds = page?.items.map((o) => o.offer_id).join(",") ?? "";
  useEffect(() => {
    setPageContext({ filters, visible_offer_ids: visibleIds ? visibleIds.split(",") : [] });
    return () => setPageContext(null);
  }, [filters, visibleIds]);

  const apply = (q: OffersQuery) => setParams(toSearchParams(q));
  const narrow = useMediaQuery("(max-width: 48em)") ?? false; // Mantine's sm breakpoint
  const [showFilters, setShowFilters] = useState(false);
  const providerNames = (providers.data?.items ?? []).filter((p) => (p.available_offers ?? 1) > 0).map((p) => p.name);

  return (
    <Stack gap="md">
      <Group justify="space-between">
        <Title order={1}>Offers</Title>
        <LiveIndicator status={live.status.status} retryInMs={live.status.retryInMs} />
      </Group>
      {narrow && (
        <Button variant="light" onClick={() => setShowFilters((v) => !v)} aria-expanded={showFilters} aria-controls="offer-filters">
          {showFilters ? "Hide filters" : `Filters${activeFilterCount(query) ? ` (${activeFilterCount(query)})` : ""}`}
        </Button>
      )}
      <Collapse expanded={!narrow || showFilters} id="offer-filters">
        <Filters query={query} onApply={(q) => { apply(q); if (narrow) setShowFilters(false); }}
          providers={[...new Set([...providerNames, ...(query.lists.provider ?? [])])]} />
      </Collapse>
      {error && !page ? (
        <ErrorState error={error} onRetry={() => setTick((t) => t + 1)} />
      ) : !page ? (
        <PageLoading label="Loading offers" />
      ) : page.items.length === 0 ? (
        <Empty>No offer matches these filters.</Empty>
      ) : (
        <>
          <Group justify="space-between">
            <Text size="sm" c="dimmed" aria-live="polite">
              Showing {page.items.length} of {page.count} offers
            </Text>
            {compare.length >= 2 ? (
              <Button size="xs" component={Link} to={`/compare?${compare.map((id) => `id=${encodeURIComponent(id)}`).join("&")}`}>
                Compare ({compare.length}/{COMPARE_MAX})
              </Button>
            ) : (
              <Text size="sm" c="gray.7">{compare.length ? "Tick one more to compare" : `Tick 2 to ${COMPARE_MAX} offers to compare`}</Text>
            )}
          </Group>
          <OfferRows offers={page.items} highlighted={live.highlighted} compare={compare} onCompare={toggleCompare} />
          {error ? <ErrorState error={error} onRetry={loadMore} /> : null}
          {page.next && (
            <Group justify="center">
              <Button variant="light" onClick={loadMore} loading={loadingMore}>Load more</Button>
            </Group>
          )}
        </>
      )}
    </Stack>
  );
}
