import { useState } from "react";
import { Alert, Anchor, Badge, Button, Card, Group, SimpleGrid, Stack, Text, Title } from "@mantine/core";
import { Link, useParams } from "react-router-dom";
import type { Booking } from "../api/types";
import { useAuth } from "../auth/useAuth";
import { useAuthedApi } from "../auth/useAuthedApi";
import { errorWords } from "../auth/words";
import { STATUS_COLOR, STATUS_WORDS } from "../bookings/status";
import { useLiveBooking } from "../bookings/useLiveBooking";
import { ErrorState, PageLoading } from "../components/States";
import { fmtMoney } from "../format";
import { SignInFirst } from "./Bookings";

function Field({ label, value }: { label: string; value: React.ReactNode }) {
  return (
    <div>
      <Text size="xs" c="dimmed">{label}</Text>
      <Text fw={600}>{value}</Text>
    </div>
  );
}

const CANCELLABLE = new Set(["awaiting_payment", "confirmed"]);

function Detail({ initial }: { initial: Booking }) {
  const { session } = useAuth();
  const { booking, live } = useLiveBooking(initial);
  const [cancelled, setCancelled] = useState<Booking | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const b = cancelled ?? booking ?? initial;
  const cancel = async () => {
    setBusy(true);
    setError(null);
    try {
      setCancelled(await session.callPost<Booking>(`/bookings/${encodeURIComponent(b.booking_id)}/cancel`, {}));
    } catch (err) {
      setError(errorWords(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Stack gap="lg">
      <Anchor component={Link} to="/bookings" size="sm">← All bookings</Anchor>
      <Group justify="space-between" align="start">
        <div>
          <Title order={1}>{b.gpu_count}× {b.gpu_model}</Title>
          <Text c="dimmed">{b.provider} · {b.hours} h · booking {b.booking_id}</Text>
        </div>
        <Group gap="xs">
          <Badge size="lg" color={STATUS_COLOR[b.status]} variant="outline" data-testid="booking-status" aria-live="polite">
            {STATUS_WORDS[b.status]}
          </Badge>
          <Text size="xs" c="dimmed">{live ? "live" : "checking every few seconds"}</Text>
        </Group>
      </Group>
      {b.status === "awaiting_payment" && b.checkout_url && (
        <Alert variant="outline" color="grape.9" title="Payment needed">
          <Group justify="space-between">
            <Text size="sm">Your first booking asks for a card: pay on Stripe Checkout, then come back here.</Text>
            <Button component="a" href={b.checkout_url}>Pay with Stripe</Button>
          </Group>
        </Alert>
      )}
      {b.reason && <Alert variant="outline" color={b.status === "cancelled" ? "gray.7" : "red.9"} title="Why">{b.reason}</Alert>}
      <Card withBorder>
        <SimpleGrid cols={{ base: 2, sm: 4 }}>
          <Field label="Amount" value={fmtMoney(b.amount)} />
          <Field label="Per hour" value={fmtMoney(b.price_per_hour)} />
          <Field label="Refunded" value={<span data-testid="booking-refund">{fmtMoney(b.refunded)}</span>} />
          <Field label="Booked" value={new Date(b.created_at).toLocaleString()} />
          <Field label="Confirmed" value={b.confirmed_at ? new Date(b.confirmed_at).toLocaleString() : "—"} />
          <Field label="Cancelled" value={b.cancelled_at ? new Date(b.cancelled_at).toLocaleString() : "—"} />
          <Field label="Offer" value={<Anchor component={Link} to={`/offers/${encodeURIComponent(b.offer_id)}`}>{b.offer_id}</Anchor>} />
        </SimpleGrid>
      </Card>
      {error && <Alert variant="outline" color="red.9" role="alert" title="Not cancelled">{error}</Alert>}
      {CANCELLABLE.has(b.status) && (
        <Group><Button color="red" variant="outline" loading={busy} onClick={() => void cancel()}>Cancel booking</Button></Group>
      )}
    </Stack>
  );
}

export default function BookingDetail() {
  const { bookingId = "" } = useParams();
  const { user } = useAuth();
  const booking = useAuthedApi<Booking>(`/bookings/${encodeURIComponent(bookingId)}`);
  if (!user) return <Stack><Title order={1}>Booking</Title><SignInFirst what="this booking" /></Stack>;
  if (booking.error) return <Stack><Title order={1}>Booking</Title><ErrorState error={booking.error} onRetry={booking.reload} /></Stack>;
  if (!booking.data) return <PageLoading label="Loading the booking" />;
  return <Detail initial={booking.data} />;
}
