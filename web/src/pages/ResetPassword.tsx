import { useState, type FormEvent } from "react";
import { Alert, Anchor, Button, Card, Group, PasswordInput, Stack, Text, Title } from "@mantine/core";
import { Link, useLocation, useNavigate } from "react-router-dom";
import { apiPost } from "../api/client";
import { linkToken, resetFailure } from "../auth/links";
import { useAuth } from "../auth/useAuth";
import { errorWords } from "../auth/words";
import { ErrorState } from "../components/States";

const MIN = 12;
const MAX = 128;

/** The way out of a link that does not work: a new one. */
function NewLink({ children }: { children: React.ReactNode }) {
  const { user } = useAuth();
  return (
    <Stack>
      <Alert variant="outline" color="red.9" role="alert" title="This link does not work">{children}</Alert>
      <Group>
        <Button component={Link} to="/forgot-password">Request a new link</Button>
        <Anchor component={Link} to="/account">{user ? "Your account" : "Sign in"}</Anchor>
      </Group>
    </Stack>
  );
}

/** The mailed reset link (<AppUrl>/reset-password#token=...): a new password for the account. The token is read
 * from the fragment once and only ever sent in POST /auth/password/reset's body; after the reset the fragment is
 * dropped from the address (the token is spent anyway). */
export default function ResetPassword() {
  const { session } = useAuth();
  const location = useLocation();
  const navigate = useNavigate();
  const [token] = useState(() => linkToken(location.hash));
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const [mismatch, setMismatch] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState(false);

  const reset = async () => {
    if (!token) return;
    setBusy(true);
    setError(null);
    try {
      await apiPost("/auth/password/reset", { token, password });
      session.discard(); // every session of the account was signed out, this tab's too
      setDone(true);
      navigate({ pathname: location.pathname, hash: "" }, { replace: true });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (password !== confirm) return setMismatch(true);
    setMismatch(false);
    void reset();
  };
  const failure = error === null ? null : resetFailure(error);

  let body: React.ReactNode;
  if (done) {
    body = (
      <Stack>
        <Alert variant="outline" color="teal.9" role="status" title="Password changed">
          Every session of your account was signed out: sign in with the new password.
        </Alert>
        <Group><Button component={Link} to="/account">Sign in</Button></Group>
      </Stack>
    );
  } else if (!token) {
    body = (
      <NewLink>
        This address has no reset token (or only part of it): open the link from the mail exactly as it is, or ask
        for a new one.
      </NewLink>
    );
  } else if (failure === "link") {
    body = (
      <NewLink>
        {errorWords(error)} A reset link works once, for one hour, and only the newest one works.
      </NewLink>
    );
  } else {
    body = (
      <form onSubmit={submit}>
        <Stack>
          <Text size="sm">Choose a new password for your account. Every signed-in session will be signed out.</Text>
          <PasswordInput label="New password" value={password} onChange={(e) => setPassword(e.currentTarget.value)}
            autoComplete="new-password" required minLength={MIN} maxLength={MAX} autoFocus
            description={`${MIN} to ${MAX} characters.`}
            error={failure === "password" ? `The password must be ${MIN} to ${MAX} characters.` : undefined} />
          <PasswordInput label="Repeat the new password" value={confirm} onChange={(e) => setConfirm(e.currentTarget.value)}
            autoComplete="new-password" required minLength={MIN} maxLength={MAX}
            error={mismatch ? "The two passwords differ." : undefined} />
          {(failure === "rate" || failure === "other") && <ErrorState error={error} onRetry={() => void reset()} />}
          <Group><Button type="submit" loading={busy}>Set new password</Button></Group>
        </Stack>
      </form>
    );
  }
  return (
    <Stack>
      <Title order={1}>Choose a new password</Title>
      <Card withBorder maw={480} component="section" aria-label="Password reset">{body}</Card>
    </Stack>
  );
}
