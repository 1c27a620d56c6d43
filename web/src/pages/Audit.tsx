import { useState } from "react";
import { Button, Code, Stack, Table, Text, Title } from "@mantine/core";
import type { AuditPage } from "../api/types";
import { isAdmin } from "../auth/roles";
import { useAuth } from "../auth/useAuth";
import { useAuthedApi } from "../auth/useAuthedApi";
import { ErrorState, PageLoading } from "../components/States";


function AuditRows({ cursor, onMore }: { cursor: string | null; onMore: (next: string) => void }) {
  const page = useAuthedApi<AuditPage>(`/audit?limit=50${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
  const [more, setMore] = useState(false);
  if (page.error) return <Table.Tr><Table.Td colSpan={5}><ErrorState error={page.error} onRetry={page.reload} /></Table.Td></Table.Tr>;
  if (!page.data) return <Table.Tr><Table.Td colSpan={5}><PageLoading label="Loading the audit log" /></Table.Td></Table.Tr>;
  const next = page.data.next_cursor;
  return (
    <>
      {page.data.items.map((e) => (
        <Table.Tr key={`${e.shard}:${e.seq}`}>
          <Table.Td>{new Date(e.ts).toLocaleString()}</Table.Td>
          <Table.Td><Code>{e.action}</Code></Table.Td>
          <Table.Td>{e.actor}</Table.Td>
          <Table.Td>{e.resource}</Table.Td>
          <Table.Td>{e.outcome}</Table.Td>
        </Table.Tr>
      ))}
      {next && !more && (
        <Table.Tr><Table.Td colSpan={5}><Button variant="default" onClick={() => { setMore(true); onMore(next); }}>More</Button></Table.Td></Table.Tr>
      )}
    </>
  );
}

/** The audit log for admins (GET /audit in its order, by cursor); the nav hides it from everyone else. */
export default function Audit() {
  const { user } = useAuth();
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  if (!isAdmin(user?.roles)) {
    return <Stack><Title order={1}>Audit</Title><Text>The audit log is for administrators.</Text></Stack>;
  }
  return (
    <Stack>
      <Title order={1}>Audit</Title>
      {/* native scrolling, focusable: rows without links still scroll from the keyboard (axe: scrollable-region-focusable) */}
      <Table.ScrollContainer minWidth={720} type="native" tabIndex={0} aria-label="Audit log entries">
        <Table striped>
          <Table.Thead>
            <Table.Tr><Table.Th>When</Table.Th><Table.Th>Action</Table.Th><Table.Th>Actor</Table.Th><Table.Th>Resource</Table.Th><Table.Th>Outcome</Table.Th></Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {cursors.map((c) => <AuditRows key={c ?? ""} cursor={c} onMore={(n) => setCursors((cs) => [...cs, n])} />)}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
    </Stack>
  );
}
