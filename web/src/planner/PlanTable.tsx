// GPUs that fit a workload: count, time (with its uncertainty band), price and cost, cheapest first.
import { Badge, Table, Text } from "@mantine/core";
import { fmtUsd } from "../format";
import { costWithBand, hoursWithBand } from "./band";

export interface GpuPlan {
  gpu_model: string;
  feasible: boolean;
  gpus_needed: number | null;
  est_hours: number | null;
  est_hours_low?: number | null;
  est_hours_high?: number | null;
  est_cost_usd?: number | null;
  price_per_gpu_hour?: number | null;
  bottleneck: string;
}

export interface Uncertainty { time_low: number; time_high: number; cases: number; basis: string }

export interface WorkloadMapping {
  plans: GpuPlan[];
  more_feasible: number;
  priced: boolean;
  requirement?: { uncertainty?: Uncertainty };
}

export function PlanTable({ mapping, overBudget = [] }: { mapping: WorkloadMapping; overBudget?: string[] }) {
  if (mapping.plans.length === 0) return <Text c="dimmed">No GPU in the catalog fits this workload as stated.</Text>;
  const band = mapping.requirement?.uncertainty;
  return (
    <>
      <Table.ScrollContainer minWidth={560} type="native" tabIndex={0} aria-label="GPUs that fit (scrolls sideways)">
        <Table striped aria-label="GPUs that fit">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>GPU</Table.Th>
              <Table.Th className="num">GPUs</Table.Th>
              <Table.Th className="num">Time (band)</Table.Th>
              <Table.Th className="num">Per GPU-hour</Table.Th>
              <Table.Th className="num">Est. cost (band)</Table.Th>
              <Table.Th>Bottleneck</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {mapping.plans.map((p) => (
              <Table.Tr key={p.gpu_model} data-gpu={p.gpu_model}>
                <Table.Td fw={600}>
                  {p.gpu_model}
                  {overBudget.includes(p.gpu_model) && <Badge ml={6} size="xs" color="orange.9" variant="outline">over budget</Badge>}
                </Table.Td>
                <Table.Td className="num">{p.gpus_needed ?? "—"}</Table.Td>
                <Table.Td className="num" data-col="time">{hoursWithBand(p)}</Table.Td>
                <Table.Td className="num">{fmtUsd(p.price_per_gpu_hour ?? null)}</Table.Td>
                <Table.Td className="num" data-col="cost">{costWithBand(p)}</Table.Td>
                <Table.Td>{p.bottleneck.replace(/_/g, " ")}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
      {mapping.more_feasible > 0 && <Text size="xs" c="dimmed">and {mapping.more_feasible} more GPU models that fit</Text>}
      {band && (
        <Text size="xs" c="dimmed" data-testid="uncertainty-band">
          Band: the real time is likely {band.time_low.toFixed(2)}× to {band.time_high.toFixed(2)}× the estimate, and
          the cost with it. Basis: {band.basis}.
        </Text>
      )}
    </>
  );
}
