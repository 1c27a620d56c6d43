import { useEffect, useState } from "react";
import { Alert, Anchor, Badge, Button, Card, Group, Stack, Text, Title } from "@mantine/core";
import { Link, useLocation } from "react-router-dom";
import { awaitPlan, checkoutReturn } from "../auth/links";
import { useAuth } from "../auth/useAuth";
import { PageLoading } from "../components/States";

type PlanState = "waiting" | "changed" | "pending" | "signed_out" | "stopped";

/** Where Stripe Checkout sends the payer back (<AppUrl>/billing/done?session_id=...&plan=... or &booking_id=...).
 * The query only picks the words and links: what was paid is what the API says (the plan in the refreshed access
 * token once Stripe's webhook has arrived; the booking's status on its page). */
export default function BillingDone() {
  const { session, user } = useAuth();
  const location = useLocation();
  const back = checkoutReturn(location.search);
  const [plan, setPlan] = useState<PlanState>("waiting");
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    const ctl = new AbortController();
    setPlan("waiting");
    const done = (outcome: PlanState) => {
      if (!ctl.signal.aborted) setPlan(outcome);
    };
    if (back.plan) {
      // a plan's Checkout: refresh until the access token carries the plan (Stripe's webhook may come a moment later)
      void awaitPlan({ plan: back.plan, refresh: () => session.refresh(), currentPlan: () => session.user()?.plan ?? null,
        signal: ctl.signal }).then(done);
    } else {
      // a booking's payment changes no claim: one refresh, so the page shows the session as it stands
      void session.refresh().then((ok) => done(ok ? "changed" : "signed_out"));
    }
    return () => ctl.abort();
  }, [session, back.plan, attempt]);

  const planName = back.plan ? back.plan[0].toUpperCase() + back.plan.slice(1) : null;
  return (
    <Stack>
      <Title order={1}>Checkout finished</Title>
      <Card withBorder maw={560} component="section" aria-labelledby="done-title">
        <Stack>
          <Title order={2} id="done-title" size="h3">
            {back.bookingId ? "Booking payment" : planName ? `Upgrade to ${planName}` : "Payment"}
          </Title>
          <Text size="sm">You are back from Stripe Checkout.</Text>
          {back.bookingId && (
            <Alert variant="outline" color="blue.9" title="Your booking is being confirmed">
              The booking turns confirmed once the payment has been processed; its page follows it live.
              <Group mt="sm">
                <Button component={Link} to={`/bookings/${back.bookingId}`}>Open the booking</Button>
              </Group>
            </Alert>
          )}
          {plan === "waiting" ? (
            <PageLoading label={planName ? "Waiting for Stripe to confirm your plan" : "Refreshing your session"} />
          ) : plan === "signed_out" || !user ? (
            <Alert variant="outline" color="blue.9" role="status" title="Sign in to see it">
              This tab is not signed in (the session ended, or Checkout was opened in another tab): sign in to see your
              plan and bookings.
            </Alert>
          ) : plan === "pending" ? (
            <Alert variant="outline" color="yellow.9" role="status" title="Not confirmed yet">
              Stripe has not confirmed the payment to us yet; it usually takes a few seconds.
              <Group mt="sm"><Button variant="default" onClick={() => setAttempt((n) => n + 1)}>Check again</Button></Group>
            </Alert>
          ) : plan === "changed" ? (
            <Text role="status">
              Your plan: <Badge variant="outline" color="indigo.9" data-testid="plan">{user.plan}</Badge>
            </Text>
          ) : null}
          <Group>
            <Anchor component={Link} to="/account">Your account</Anchor>
            <Anchor component={Link} to="/bookings">Your bookings</Anchor>
          </Group>
        </Stack>
      </Card>
    </Stack>
  );
}
