import { useMemo, useState } from "react";
import { Anchor, Badge, Card, Group, NativeSelect, SimpleGrid, Stack, Text, Title } from "@mantine/core";
import type { ChartConfiguration } from "chart.js";
import { Link } from "react-router-dom";
import type { MarketSummary, Preset } from "../api/types";
import { useApi } from "../api/useApi";
import ChartCanvas from "../components/Chart";
import { Empty, ErrorState, PageLoading } from "../components/States";
import { fmtInt, fmtPct, fmtUsd, fmtUsd2 } from "../format";

export const PRESET_TITLES: Record<string, string> = {
  "best-value": "Best Value",
  "highest-performance": "Highest Performance",
  "most-reliable": "Most Reliable",
  "budget-friendly": "Budget Friendly",
  "enterprise-grade": "Enterprise Grade",
  "for-you": "For You",
};

/** Savings potential: what picking the best offer of a GPU saves against that GPU's average, weighted by offers. */
export function savingsPotential(summary: MarketSummary): number | null {
  const total = summary.by_gpu.reduce((n, g) => n + g.offers, 0);
  if (!total) return null;
  return summary.by_gpu.reduce((n, g) => n + g.savings_potential_pct * g.offers, 0) / total;
}

function Kpi({ label, value, hint }: { label: string; value: string; hint?: string }) {
  return (
    <Card withBorder padding="md">
      <Text size="sm" c="dimmed">{label}</Text>
      <Text fz={28} fw={700}>{value}</Text>
      {hint && <Text size="xs" c="dimmed">{hint}</Text>}
    </Card>
  );
}

function Charts({ summary }: { summary: MarketSummary }) {
  const gpus = Object.keys(summary.trend_7d);
  const [gpu, setGpu] = useState(() => (gpus.includes("H100-SXM") ? "H100-SXM" : gpus[0] ?? ""));
  const trend = summary.trend_7d[gpu];
  const histogram = useMemo<ChartConfiguration>(() => ({
    type: "bar",
    data: {
      labels: summary.price_histogram.map((b) => (b.max === null ? `≥ $${b.min}` : `$${b.min}–${b.max}`)),
      datasets: [{ label: "Offers", data: summary.price_histogram.map((b) => b.offers), backgroundColor: "#4c6ef5" }],
    },
    options: { plugins: { legend: { display: false } }, scales: { x: { title: { display: true, text: "USD per GPU-hour" } } } },
  }), [summary]);
  const share = useMemo<ChartConfiguration>(() => ({
    type: "doughnut",
    data: {
      labels: summary.provider_share.map((p) => p.provider),
      datasets: [{
        label: "Share of GPUs (%)",
        data: summary.provider_share.map((p) => p.gpu_share_pct),
        backgroundColor: ["#4c6ef5", "#12b886", "#fab005", "#fa5252", "#7950f2", "#15aabf", "#fd7e14", "#82c91e", "#868e96"],
      }],
    },
    options: { plugins: { legend: { position: "right" } } },
  }), [summary]);
  const line = useMemo<ChartConfiguration | null>(() => trend ? ({
    type: "line",
    data: {
      labels: trend.days.map((d) => d.date.slice(5)),
      datasets: [{ label: `${gpu} median USD per GPU-hour`, data: trend.days.map((d) => d.median_price_per_gpu_hour), borderColor: "#4c6ef5", tension: 0.2 }],
    },
    options: { plugins: { legend: { display: false } } },
  }) : null, [trend, gpu]);
  return (
    <SimpleGrid cols={{ base: 1, md: 3 }}>
      <Card withBorder>
        <Title order={2} size="h4" mb="xs">Price distribution</Title>
        <ChartCanvas config={histogram} label={`Histogram of ${summary.live_offers} live offers by price per GPU-hour`} />
      </Card>
      <Card withBorder>
        <Title order={2} size="h4" mb="xs">Provider market share</Title>
        <ChartCanvas config={share} label={`Share of GPUs in live offers: ${summary.provider_share.map((p) => `${p.provider} ${p.gpu_share_pct.toFixed(1)} %`).join(", ")}`} />
      </Card>
      <Card withBorder>
        <Group justify="space-between" mb="xs" wrap="nowrap">
          <Title order={2} size="h4">7-day price trend</Title>
          {gpus.length > 0 && (
            <NativeSelect aria-label="GPU of the trend" size="xs" value={gpu} onChange={(e) => setGpu(e.currentTarget.value)} data={gpus} />
          )}
        </Group>
        {trend && line ? (
          <>
            <ChartCanvas config={line} label={`${gpu}: median price per GPU-hour from ${trend.from} to ${trend.to}, ${trend.direction} ${fmtPct(trend.change_pct)}`} height={200} />
            <Text size="sm" mt="xs">
              {trend.from} → {trend.to}:{" "}
              <Text span fw={600} c={trend.change_pct > 0 ? "red.9" : trend.change_pct < 0 ? "teal.9" : undefined}>
                {trend.change_pct > 0 ? "+" : ""}{fmtPct(trend.change_pct)}
              </Text>
            </Text>
          </>
        ) : (
          <Empty>No price history yet.</Empty>
        )}
      </Card>
    </SimpleGrid>
  );
}

function PresetCard({ preset }: { preset: Preset }) {
  const top = preset.top_offer;
  return (
    <Card withBorder padding="md">
      <Stack gap={4}>
        <Title order={3} size="h5">{PRESET_TITLES[preset.name] ?? preset.name}</Title>
        <Text size="sm" c="dimmed">{preset.description}</Text>
        {top ? (
          <>
            <Anchor component={Link} to={`/offers/${encodeURIComponent(top.offer_id)}`} fw={600}>
              {top.gpu_count}× {top.gpu_model} · {top.provider}
            </Anchor>
            <Text size="sm">{fmtUsd(top.price_per_gpu_hour)} per GPU-hour</Text>
            <Group gap="xs">
              <Badge color={top.savings_pct > 0 ? "teal.9" : "gray.7"} variant="outline">saves {fmtPct(top.savings_pct, 0)}</Badge>
              <Badge color="indigo.9" variant="outline">confidence {fmtPct(top.confidence * 100, 0)}</Badge>
            </Group>
          </>
        ) : (
          <Text size="sm" c="dimmed">No offer qualifies right now.</Text>
        )}
      </Stack>
    </Card>
  );
}

export default function Dashboard() {
  const market = useApi<MarketSummary>("/market/summary");
  const presets = useApi<{ items: Preset[] }>("/presets");
  const summary = market.data;
  const gpus = summary ? Object.values(summary.gpus_in_live_offers).reduce((a, b) => a + b, 0) : 0;
  const savings = summary ? savingsPotential(summary) : null;
  return (
    <Stack gap="lg">
      <Title order={1}>Dashboard</Title>
      {market.error ? (
        <ErrorState error={market.error} onRetry={market.reload} />
      ) : !summary ? (
        <PageLoading label="Loading the market" />
      ) : (
        <>
          <SimpleGrid cols={{ base: 2, md: 4 }}>
            <Kpi label="Active providers" value={fmtInt(summary.active_providers.length)} />
            <Kpi label="Available GPUs" value={fmtInt(gpus)} hint={`in ${fmtInt(summary.live_offers)} live offers`} />
            <Kpi label="Avg price per GPU-hour" value={fmtUsd2(summary.avg_price_per_gpu_hour)} />
            <Kpi label="Savings potential" value={savings === null ? "—" : fmtPct(savings, 0)} hint="best offer vs a GPU's average" />
          </SimpleGrid>
          {summary.live_offers === 0 ? <Empty>No live offers yet.</Empty> : <Charts summary={summary} />}
        </>
      )}
      <Title order={2} size="h3">Presets</Title>
      {presets.error ? (
        <ErrorState error={presets.error} onRetry={presets.reload} />
      ) : !presets.data ? (
        <PageLoading label="Loading the presets" />
      ) : (
        <SimpleGrid cols={{ base: 1, sm: 2, lg: 3 }}>
          {presets.data.items.map((p) => <PresetCard key={p.name} preset={p} />)}
        </SimpleGrid>
      )}
    </Stack>
  );
}
