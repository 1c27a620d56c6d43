import { useEffect, useState, type FormEvent } from "react";
import { Alert, Button, Group, Modal, NumberInput, Stack, Text } from "@mantine/core";
import { Link, useNavigate, useSearchParams } from "react-router-dom";
import type { Booking, Offer } from "../api/types";
import { useAuth } from "../auth/useAuth";
import { errorWords } from "../auth/words";
import { fmtUsd } from "../format";
import { MAX_HOURS, requestedHours, wantsBookingForm, withoutBookingForm } from "./bookParam";

/** Book Now: hours and GPU count prefilled, a new Idempotency-Key per attempt (a retry of the same
 * request reuses it; a changed request gets a new one), POST /bookings, then the booking's page. The form opens
 * on arrival when the URL has `?book=1` (a chat card's Book Now) and the user is signed in. */
export function BookNow({ offer }: { offer: Offer }) {
  const { session, user } = useAuth();
  const navigate = useNavigate();
  const [opened, setOpened] = useState(false);
  const [hours, setHours] = useState<number>(1);
  const [gpus, setGpus] = useState<number>(offer.gpu_count);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [attemptKey, setAttemptKey] = useState<string | null>(null);
  const [params, setParams] = useSearchParams();
  const asked = wantsBookingForm(params);
  const askedHours = requestedHours(params);
  const signedIn = user !== null;

  useEffect(() => {
    if (asked && signedIn && offer.available) {
      if (askedHours !== null) setHours(askedHours);
      setGpus(offer.gpu_count);
      setOpened(true);
      setAttemptKey(null);
      setError(null);
    }
  }, [asked, askedHours, signedIn, offer.offer_id, offer.gpu_count, offer.available]);

  const close = () => {
    setOpened(false);
    if (wantsBookingForm(params)) setParams(withoutBookingForm(params), { replace: true });
  };

  if (!user) {
    return <Button component={Link} to="/account" variant="light">Sign in to book</Button>;
  }
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const key = attemptKey ?? crypto.randomUUID();
    setAttemptKey(key);
    setBusy(true);
    setError(null);
    try {
      const accepted = await session.callPost<{ booking_id: string; booking: Booking }>(
        "/bookings", { offer_id: offer.offer_id, hours, gpu_count: gpus }, { "idempotency-key": key });
      setAttemptKey(null);
      navigate(`/bookings/${encodeURIComponent(accepted.booking_id)}`);
    } catch (err) {
      setError(errorWords(err));
    } finally {
      setBusy(false);
    }
  };
  const estimate = offer.price_per_gpu_hour * gpus * hours;
  return (
    <>
      <Button onClick={() => { setOpened(true); setAttemptKey(null); setError(null); }} disabled={!offer.available}>
        Book now
      </Button>
      <Modal opened={opened} onClose={close} title={`Book ${offer.gpu_model} on ${offer.provider}`}
        closeButtonProps={{ "aria-label": "Close the booking form" }}>
        <form onSubmit={(e) => void submit(e)}>
          <Stack>
            <NumberInput label="Hours" min={1} max={MAX_HOURS} value={hours} onChange={(v) => { setHours(Number(v) || 1); setAttemptKey(null); }} required />
            <NumberInput label="GPUs" min={1} max={64} value={gpus} onChange={(v) => { setGpus(Number(v) || 1); setAttemptKey(null); }} required />
            <Text size="sm">Estimated total: <strong>{fmtUsd(estimate)}</strong> (the price is locked when you book)</Text>
            {!user.email_verified && <Alert variant="outline" color="grape.9">Booking needs a verified email: open the link we mailed you.</Alert>}
            {error && <Alert variant="outline" color="red.9" role="alert" title="The booking was not placed">{error}</Alert>}
            <Group justify="flex-end">
              <Button variant="default" onClick={close}>Cancel</Button>
              <Button type="submit" loading={busy}>{error ? "Try again" : "Book"}</Button>
            </Group>
          </Stack>
        </form>
      </Modal>
    </>
  );
}
