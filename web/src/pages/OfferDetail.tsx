import { Suspense, lazy, useMemo, useState } from "react";
import { Anchor, Badge, Card, Group, NativeSelect, Paper, SimpleGrid, Stack, Table, Text, Title } from "@mantine/core";
import type { ChartConfiguration } from "chart.js";
import { Link, useParams } from "react-router-dom";
import type { Offer } from "../api/types";
import { useApi } from "../api/useApi";
import { BookNow } from "../bookings/BookNow";
import { Empty, ErrorState, PageLoading } from "../components/States";
import { fmtNum, fmtUsd } from "../format";
import {
  type CostPerGflop, type CostPerToken, DEFAULT_MODEL_B, type Efficiency, MODEL_SIZES_B, costPerTokenBasis, fmtPerMillion,
  fmtTinyUsd,
} from "../offers/kpis";

// the price chart (Chart.js) is fetched when the history is on screen: a deep link to an offer paints without it
const ChartCanvas = lazy(() => import("../components/Chart"));

interface PricePoint { ts: string; price_per_gpu_hour: number | null; available: boolean | null }
interface Similar { offer_id: string; provider: string; gpu_model: string; gpu_count: number; region: string; price_per_gpu_hour: number; similarity: number }

function Spec({ label, value }: { label: string; value: React.ReactNode }) {
  return (
    <div>
      <Text size="xs" c="dimmed">{label}</Text>
      <Text fw={600}>{value}</Text>
    </div>
  );
}

/** The offer's KPIs: cost per token (by offer: its GPU at its price, a model size the visitor picks), cost per GFLOP
 * (its GPU's FP16 peak at its price) and the efficiency score (by offer). Each card loads, fails and retries on its
 * own; a cost per token that does not exist for this offer (the model fits no weight format on one of its GPUs)
 * says why instead of a figure. */
function Kpis({ offer }: { offer: Offer }) {
  const [sizeB, setSizeB] = useState<number>(DEFAULT_MODEL_B);
  const perToken = useApi<CostPerToken>("/math/cost-per-token", { offer_id: offer.offer_id, model_params_b: sizeB });
  const perGflop = useApi<CostPerGflop>("/math/cost-per-gflop", { gpu_model: offer.gpu_model, price_per_gpu_hour: offer.price_per_gpu_hour });
  const efficiency = useApi<Efficiency>("/math/efficiency-score", { offer_id: offer.offer_id });
  const t = perToken.data, g = perGflop.data, e = efficiency.data;
  return (
    <SimpleGrid cols={{ base: 1, sm: 3 }} spacing="md">
      <Paper withBorder p="sm" component="section" aria-labelledby="kpi-token" data-testid="kpi-cost-per-token">
        <Text id="kpi-token" size="xs" c="dimmed">Cost per 1M tokens (per GPU)</Text>
        <NativeSelect size="xs" mt={4} label="Model size" value={String(sizeB)}
          data={MODEL_SIZES_B.map((b) => ({ value: String(b), label: `${b}B parameters` }))}
          onChange={(ev) => setSizeB(Number(ev.currentTarget.value))} />
        {perToken.error ? <ErrorState error={perToken.error} onRetry={perToken.reload} /> : !t ? (
          <PageLoading label="Loading the cost per token" />
        ) : t.method === "not_applicable" ? (
          <>
            <Text fw={600} mt="xs" data-kpi="not-applicable">Not applicable</Text>
            <Text size="xs" c="dimmed">{costPerTokenBasis(t, sizeB)}</Text>
            {t.reason === "insufficient_memory" && (
              <Anchor component={Link} to="/planner?template=llm-inference" size="xs">Plan it across several GPUs</Anchor>
            )}
          </>
        ) : (
          <>
            <Text fw={700} size="xl" mt="xs" data-kpi="value">{fmtPerMillion(t.usd_per_million_tokens)}</Text>
            <Text size="xs" c="dimmed">{costPerTokenBasis(t, sizeB)}</Text>
          </>
        )}
      </Paper>
      <Paper withBorder p="sm" component="section" aria-labelledby="kpi-gflop" data-testid="kpi-cost-per-gflop">
        <Text id="kpi-gflop" size="xs" c="dimmed">Cost per GFLOP</Text>
        {perGflop.error ? <ErrorState error={perGflop.error} onRetry={perGflop.reload} /> : !g ? (
          <PageLoading label="Loading the cost per GFLOP" />
        ) : (
          <>
            <Text fw={700} size="xl" mt="xs" data-kpi="value">{fmtTinyUsd(g.usd_per_gflop)}</Text>
            <Text size="xs" c="dimmed">
              {fmtUsd(g.usd_per_pflop_hour)} per PFLOP-hour at the {g.precision.toUpperCase()} dense peak
              ({fmtNum(Math.round(g.tflops))} TFLOPS per GPU, fully used)
            </Text>
          </>
        )}
      </Paper>
      <Paper withBorder p="sm" component="section" aria-labelledby="kpi-eff" data-testid="kpi-efficiency">
        <Text id="kpi-eff" size="xs" c="dimmed">Efficiency score (0-100)</Text>
        {efficiency.error ? <ErrorState error={efficiency.error} onRetry={efficiency.reload} /> : !e ? (
          <PageLoading label="Loading the efficiency figures" />
        ) : (
          <>
            <Text fw={700} size="xl" mt="xs" data-kpi="value">{e.score.toFixed(0)}</Text>
            <Text size="xs" c="dimmed">
              {e.tflops_per_usd.toFixed(0)} {e.precision.toUpperCase()} TFLOPS per $/h and {e.tflops_per_watt.toFixed(2)} TFLOPS
              per watt, against the market's best
            </Text>
          </>
        )}
      </Paper>
    </SimpleGrid>
  );
}

function History({ offerId }: { offerId: string }) {
  const history = useApi<{ points: PricePoint[] }>(`/offers/${encodeURIComponent(offerId)}/history?limit=500`);
  const points = (history.data?.points ?? []).filter((p) => p.price_per_gpu_hour !== null);
  const config = useMemo<ChartConfiguration>(() => ({
    type: "line",
    data: {
      labels: points.map((p) => p.ts.slice(0, 16).replace("T", " ")),
      datasets: [{ label: "USD per GPU-hour", data: points.map((p) => p.price_per_gpu_hour), borderColor: "#4c6ef5", stepped: true }],
    },
    options: { plugins: { legend: { display: false } } },
  }), [points]);
  if (history.error) return <ErrorState error={history.error} onRetry={history.reload} />;
  if (!history.data) return <PageLoading label="Loading the price history" />;
  if (points.length < 2) return <Empty>{points.length ? `One price so far: ${fmtUsd(points[0].price_per_gpu_hour)} per GPU-hour.` : "No price history yet."}</Empty>;
  return (
    <Suspense fallback={<PageLoading label="Loading the chart" />}>
      <ChartCanvas config={config} label={`Price per GPU-hour over ${points.length} recorded changes`} />
    </Suspense>
  );
}

function SimilarOffers({ offerId }: { offerId: string }) {
  const similar = useApi<{ items: Similar[] | null }>(`/offers/${encodeURIComponent(offerId)}/similar?limit=5`);
  if (similar.error) return <ErrorState error={similar.error} onRetry={similar.reload} />;
  if (!similar.data) return <PageLoading label="Loading similar offers" />;
  const items = similar.data.items ?? [];
  if (!items.length) return <Empty>No similar offers.</Empty>;
  return (
    <Table.ScrollContainer minWidth={480}>
      <Table aria-label="Similar offers">
        <Table.Thead><Table.Tr><Table.Th>Offer</Table.Th><Table.Th>Region</Table.Th><Table.Th className="num">Per GPU-hour</Table.Th><Table.Th className="num">Similarity</Table.Th></Table.Tr></Table.Thead>
        <Table.Tbody>
          {items.map((s) => (
            <Table.Tr key={s.offer_id}>
              <Table.Td><Anchor component={Link} to={`/offers/${encodeURIComponent(s.offer_id)}`}>{s.gpu_count}× {s.gpu_model} · {s.provider}</Anchor></Table.Td>
              <Table.Td>{s.region}</Table.Td>
              <Table.Td className="num">{fmtUsd(s.price_per_gpu_hour)}</Table.Td>
              <Table.Td className="num">{(s.similarity * 100).toFixed(0)} %</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

export default function OfferDetail() {
  const { offerId = "" } = useParams();
  const offer = useApi<Offer>(`/offers/${encodeURIComponent(offerId)}`);
  if (offer.error) return <Stack><Title order={1}>Offer</Title><ErrorState error={offer.error} onRetry={offer.reload} /></Stack>;
  if (!offer.data) return <PageLoading label="Loading the offer" />;
  const o = offer.data;
  return (
    <Stack gap="lg">
      <Anchor component={Link} to="/offers" size="sm">← All offers</Anchor>
      <Group justify="space-between" align="start">
        <div>
          <Title order={1}>{o.gpu_count}× {o.gpu_model}</Title>
          <Text c="dimmed">{o.provider} · {o.instance_type} · {o.region}</Text>
        </div>
        <Group>
          {!o.available && <Badge color="gray">no longer offered</Badge>}
          <BookNow offer={o} />
        </Group>
      </Group>
      <Card withBorder>
        <SimpleGrid cols={{ base: 2, sm: 4 }}>
          <Spec label="Per GPU-hour" value={fmtUsd(o.price_per_gpu_hour)} />
          <Spec label="Per hour" value={fmtUsd(o.price_per_hour)} />
          <Spec label="Spot per hour" value={fmtUsd(o.spot_price_per_hour)} />
          <Spec label="GPU memory" value={`${o.gpu_memory_gb} GB × ${o.gpu_count}`} />
          <Spec label="vCPUs" value={fmtNum(o.vcpus)} />
          <Spec label="RAM" value={fmtNum(o.ram_gb, " GB")} />
          <Spec label="Vendor" value={o.gpu_vendor} />
          <Spec label="Compliance" value={o.compliance.length ? o.compliance.join(", ") : "—"} />
        </SimpleGrid>
      </Card>
      <Card withBorder>
        <Title order={2} size="h4" mb="xs">KPIs</Title>
        <Kpis offer={o} />
      </Card>
      <Card withBorder>
        <Title order={2} size="h4" mb="xs">Price history</Title>
        <History offerId={o.offer_id} />
      </Card>
      <Card withBorder>
        <Title order={2} size="h4" mb="xs">Similar offers</Title>
        <SimilarOffers offerId={o.offer_id} />
      </Card>
    </Stack>
  );
}
