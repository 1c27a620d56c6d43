// Compare: 2 to 4 offers side by side (chosen on the Offers page, or ids in the URL), ranked by TOPSIS (POST
// /math/topsis on their values, the weights set here) and explained per criterion: where each offer sits between
// the worst and the best of those compared.
import { useEffect, useMemo, useState } from "react";
import { Anchor, Badge, Group, NumberInput, Progress, Stack, Table, Text, Title } from "@mantine/core";
import { Link, useSearchParams } from "react-router-dom";
import { apiGet } from "../api/client";
import type { Offer } from "../api/types";
import { useApi } from "../api/useApi";
import { Empty, ErrorState, PageLoading } from "../components/States";
import { fmtNum, fmtUsd } from "../format";
import { idsFromUrl, placeOnCriterion, topsisBody, usableCriteria, type Criterion } from "../compare/criteria";

function shown(c: Criterion, v: number | null): string {
  return c.unit === "usd" ? fmtUsd(v) : c.unit === "gb" ? fmtNum(v, " GB") : fmtNum(v);
}

export default function Compare() {
  const [params] = useSearchParams();
  const ids = useMemo(() => idsFromUrl(params), [params]);
  const [offers, setOffers] = useState<Offer[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [tick, setTick] = useState(0);
  const [weights, setWeights] = useState<Record<string, number>>({ price_per_gpu_hour: 2 });

  useEffect(() => {
    if (ids.length < 2) return;
    const ctrl = new AbortController();
    setOffers(null);
    setError(null);
    Promise.all(ids.map((id) => apiGet<Offer>(`/offers/${encodeURIComponent(id)}`, { signal: ctrl.signal }))).then(
      setOffers,
      (err) => { if (!ctrl.signal.aborted) setError(err); },
    );
    return () => ctrl.abort();
  }, [ids, tick]);

  const criteria = useMemo(() => (offers ? usableCriteria(offers) : []), [offers]);
  const body = offers && criteria.length ? topsisBody(offers, criteria, weights) : undefined;
  const topsis = useApi<{ scores: number[] | null; ranking: number[] | null }>(body ? "/math/topsis" : null, body);

  if (ids.length < 2) {
    return (
      <Stack gap="md">
        <Title order={1}>Compare</Title>
        <Empty>
          Choose 2 to 4 offers with their Compare box on the <Anchor component={Link} to="/offers">Offers page</Anchor>.
        </Empty>
      </Stack>
    );
  }
  const scores = topsis.data?.scores ?? null;
  const rankOf = (i: number) => (topsis.data?.ranking ? topsis.data.ranking.indexOf(i) + 1 : null);

  return (
    <Stack gap="md">
      <Title order={1}>Compare</Title>
      {error ? <ErrorState error={error} onRetry={() => setTick((t) => t + 1)} /> : !offers ? <PageLoading label="Loading the offers" /> : (
        <>
          <Table.ScrollContainer minWidth={200 + 170 * offers.length}>
            <Table aria-label="Offers compared" withColumnBorders>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Criterion (weight)</Table.Th>
                  {offers.map((o) => (
                    <Table.Th key={o.offer_id} data-offer-id={o.offer_id}>
                      <Anchor component={Link} to={`/offers/${encodeURIComponent(o.offer_id)}`}>{o.gpu_count}× {o.gpu_model}</Anchor>
                      <Text size="xs" c="dimmed">{o.provider} · {o.region}</Text>
                    </Table.Th>
                  ))}
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                <Table.Tr>
                  <Table.Th scope="row">TOPSIS score (rank)</Table.Th>
                  {offers.map((o, i) => (
                    <Table.Td key={o.offer_id} data-testid="compare-score">
                      {topsis.error ? "—" : scores ? (
                        <Group gap={6}>
                          <Text fw={700}>{scores[i].toFixed(3)}</Text>
                          <Badge size="sm" color={rankOf(i) === 1 ? "indigo.8" : "gray.7"} variant="filled">#{rankOf(i)}</Badge>
                        </Group>
                      ) : "…"}
                    </Table.Td>
                  ))}
                </Table.Tr>
                {criteria.map((c) => {
                  const values = offers.map((o) => c.value(o) as number);
                  const place = placeOnCriterion(values, c.type);
                  return (
                    <Table.Tr key={c.name}>
                      <Table.Th scope="row">
                        <Group gap={6} wrap="nowrap" justify="space-between">
                          <Text size="sm">{c.label} <Text span size="xs" c="dimmed">({c.type === "cost" ? "lower is better" : "higher is better"})</Text></Text>
                          <NumberInput size="xs" w={64} min={0} max={10} step={1} aria-label={`Weight of ${c.label}`}
                            value={weights[c.name] ?? 1}
                            onChange={(v) => setWeights((w) => ({ ...w, [c.name]: Number(v) > 0 ? Number(v) : 0.001 }))} />
                        </Group>
                      </Table.Th>
                      {offers.map((o, i) => (
                        <Table.Td key={o.offer_id}>
                          <Text size="sm" fw={place[i] === 1 ? 700 : 400}>{shown(c, values[i])}</Text>
                          <Progress value={place[i] * 100} size="sm" color={place[i] === 1 ? "green.9" : "indigo.8"}
                            aria-label={`${c.label}: ${Math.round(place[i] * 100)} % of the way from the worst to the best`} />
                        </Table.Td>
                      ))}
                    </Table.Tr>
                  );
                })}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
          {topsis.error ? <ErrorState error={topsis.error} onRetry={topsis.reload} /> : null}
          <Text size="xs" c="dimmed">
            The score is TOPSIS over the criteria above with their weights (closeness to the ideal offer, 0 to 1). Each
            bar shows where an offer sits between the worst (empty) and the best (full) of these offers on that criterion.
          </Text>
        </>
      )}
    </Stack>
  );
}
