import { useMemo } from "react";
import { Anchor, Badge, Card, Group, SimpleGrid, Stack, Table, Text, Title } from "@mantine/core";
import type { ChartConfiguration } from "chart.js";
import { Link, useParams } from "react-router-dom";
import type { Offer } from "../api/types";
import { useApi } from "../api/useApi";
import { BookNow } from "../bookings/BookNow";
import ChartCanvas from "../components/Chart";
import { Empty, ErrorState, PageLoading } from "../components/States";
import { fmtNum, fmtUsd } from "../format";

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

interface Efficiency { score: number; tflops: number; tflops_per_usd: number; tflops_per_watt: number; precision: string }

/** The offer's compute KPIs from POST /math/efficiency-score (by offer: its live price and its GPU's catalog figures). */
function Kpis({ offerId }: { offerId: string }) {
  const efficiency = useApi<Efficiency>("/math/efficiency-score", { offer_id: offerId });
  if (efficiency.error) return <ErrorState error={efficiency.error} onRetry={efficiency.reload} />;
  if (!efficiency.data) return <PageLoading label="Loading the KPIs" />;
  const e = efficiency.data;
  return (
    <SimpleGrid cols={{ base: 2, sm: 4 }}>
      <Spec label="Efficiency score (0-100)" value={e.score.toFixed(0)} />
      <Spec label={`${e.precision.toUpperCase()} TFLOPS per GPU`} value={e.tflops.toFixed(0)} />
      <Spec label="Cost per PFLOP-hour" value={fmtUsd(1000 / e.tflops_per_usd)} />
      <Spec label="TFLOPS per watt" value={e.tflops_per_watt.toFixed(2)} />
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
  return <ChartCanvas config={config} label={`Price per GPU-hour over ${points.length} recorded changes`} />;
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
        <Title order={2} size="h4" mb="xs">Compute KPIs</Title>
        <Kpis offerId={o.offer_id} />
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
