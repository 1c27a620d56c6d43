import { useState } from "react";
import { Anchor, Badge, Button, Card, Group, Stack, Table, Text, Title } from "@mantine/core";
import { Link } from "react-router-dom";
import type { BookingPage } from "../api/types";
import { useAuth } from "../auth/useAuth";
import { useAuthedApi } from "../auth/useAuthedApi";
import { STATUS_COLOR, STATUS_WORDS } from "../bookings/status";
import { Empty, ErrorState, PageLoading } from "../components/States";
import { fmtMoney } from "../format";

export function SignInFirst({ what }: { what: string }) {
  return (
    <Card withBorder>
      <Text>
        <Anchor component={Link} to="/account">Sign in</Anchor> to see {what}.
      </Text>
    </Card>
  );
}

/** One page of GET /bookings; its "More" loads the next cursor's page below it. */
function BookingRows({ cursor, onMore }: { cursor: string | null; onMore: (next: string) => void }) {
  const page = useAuthedApi<BookingPage>(`/bookings?limit=20${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
  const [more, setMore] = useState(false);
  if (page.error) return <Table.Tr><Table.Td colSpan={5}><ErrorState error={page.error} onRetry={page.reload} /></Table.Td></Table.Tr>;
  if (!page.data) return <Table.Tr><Table.Td colSpan={5}><PageLoading label="Loading bookings" /></Table.Td></Table.Tr>;
  if (!cursor && page.data.items.length === 0) return <Table.Tr><Table.Td colSpan={5}><Empty>No bookings yet: book an offer.</Empty></Table.Td></Table.Tr>;
  const next = page.data.next_cursor;
  return (
    <>
      {page.data.items.map((b) => (
        <Table.Tr key={b.booking_id}>
          <Table.Td><Anchor component={Link} to={`/bookings/${encodeURIComponent(b.booking_id)}`}>{b.gpu_count}× {b.gpu_model}</Anchor></Table.Td>
          <Table.Td>{b.provider}</Table.Td>
          <Table.Td><Badge color={STATUS_COLOR[b.status]} variant="outline">{STATUS_WORDS[b.status]}</Badge></Table.Td>
          <Table.Td>{fmtMoney(b.amount)}</Table.Td>
          <Table.Td>{new Date(b.created_at).toLocaleString()}</Table.Td>
        </Table.Tr>
      ))}
      {next && !more && (
        <Table.Tr><Table.Td colSpan={5}><Button variant="default" onClick={() => { setMore(true); onMore(next); }}>More</Button></Table.Td></Table.Tr>
      )}
    </>
  );
}

export default function Bookings() {
  const { user } = useAuth();
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  return (
    <Stack>
      <Title order={1}>Bookings</Title>
      {!user ? <SignInFirst what="your bookings" /> : (
        <Table.ScrollContainer minWidth={560}>
          <Table striped>
            <Table.Thead>
              <Table.Tr><Table.Th>GPU</Table.Th><Table.Th>Provider</Table.Th><Table.Th>Status</Table.Th><Table.Th>Amount</Table.Th><Table.Th>Booked</Table.Th></Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {cursors.map((c) => <BookingRows key={c ?? ""} cursor={c} onMore={(n) => setCursors((cs) => [...cs, n])} />)}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      <Group><Anchor component={Link} to="/offers">Browse the offers</Anchor></Group>
    </Stack>
  );
}
