import { Alert, Anchor, Button, Card, Group, Stack, Text, Title } from "@mantine/core";
import { Link, useLocation } from "react-router-dom";
import { checkoutReturn } from "../auth/links";

/** Where Stripe Checkout sends a payer who went back without paying (<AppUrl>/billing/cancelled?booking_id=... or
 * ?plan=...): nothing was charged; a booking still waits for its payment until its window closes. */
export default function BillingCancelled() {
  const location = useLocation();
  const back = checkoutReturn(location.search);
  return (
    <Stack>
      <Title order={1}>Checkout cancelled</Title>
      <Card withBorder maw={560} component="section" aria-labelledby="cancelled-title">
        <Stack>
          <Title order={2} id="cancelled-title" size="h3">Nothing was charged</Title>
          <Text size="sm">You left Stripe Checkout before paying.</Text>
          {back.bookingId ? (
            <Alert variant="outline" color="blue.9" title="Your booking waits for payment">
              It stays reserved until its payment window closes, then it is released. Open it to pay, or to cancel it.
              <Group mt="sm"><Button component={Link} to={`/bookings/${back.bookingId}`}>Open the booking</Button></Group>
            </Alert>
          ) : back.plan ? (
            <Text size="sm">Your plan did not change: you can upgrade again from your account at any time.</Text>
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
