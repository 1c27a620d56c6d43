import { useState, type FormEvent } from "react";
import { Alert, Anchor, Button, Card, Group, Stack, Text, TextInput, Title } from "@mantine/core";
import { Link, useLocation } from "react-router-dom";
import { ApiError, apiPost } from "../api/client";
import { ErrorState } from "../components/States";

/** "Forgot password?" (the sign-in form's link, and the already-registered mail's <AppUrl>/forgot-password):
 * POST /auth/password/forgot mails a one-hour reset link if the address has an account. The API answers the same
 * 202 whatever the address, and so does this page: it never says whether an account exists. */
export default function ForgotPassword() {
  const location = useLocation();
  const [email, setEmail] = useState(() => (location.state as { email?: unknown } | null)?.email?.toString() ?? "");
  const [sentTo, setSentTo] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const send = async () => {
    setBusy(true);
    setError(null);
    try {
      await apiPost("/auth/password/forgot", { email: email.trim() });
      setSentTo(email.trim());
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void send();
  };
  const invalid = error instanceof ApiError && error.status === 422;

  return (
    <Stack>
      <Title order={1}>Reset your password</Title>
      <Card withBorder maw={480} component="section" aria-labelledby="forgot-title">
        {sentTo !== null ? (
          <Stack>
            <Title order={2} id="forgot-title" size="h3">Check your inbox</Title>
            <Alert variant="outline" color="teal.9" role="status" title="Request received">
              If an account uses <strong>{sentTo}</strong>, we have mailed it a link to choose a new password. The
              link works once, for one hour; a newer link replaces older ones.
            </Alert>
            <Text size="sm">Nothing arrived after a few minutes? Look in your spam folder, or send another link.</Text>
            <Group>
              <Button variant="default" onClick={() => setSentTo(null)}>Send another link</Button>
              <Anchor component={Link} to="/account">Back to sign in</Anchor>
            </Group>
          </Stack>
        ) : (
          <form onSubmit={submit}>
            <Stack>
              <Title order={2} id="forgot-title" size="h3">Forgot your password?</Title>
              <Text size="sm">Enter the email address of your account: we will mail you a link to choose a new password.</Text>
              <TextInput label="Email" type="email" value={email} onChange={(e) => setEmail(e.currentTarget.value)}
                autoComplete="email" required autoFocus error={invalid ? "Enter a valid email address." : undefined} />
              {error !== null && !invalid && <ErrorState error={error} onRetry={() => void send()} />}
              <Group>
                <Button type="submit" loading={busy}>Send reset link</Button>
                <Anchor component={Link} to="/account">Back to sign in</Anchor>
              </Group>
            </Stack>
          </form>
        )}
      </Card>
    </Stack>
  );
}
