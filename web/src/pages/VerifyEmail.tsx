import { useEffect, useState } from "react";
import { Alert, Anchor, Stack, Title } from "@mantine/core";
import { Link } from "react-router-dom";
import { apiPost } from "../api/client";
import { useAuth } from "../auth/useAuth";
import { errorWords } from "../auth/words";
import { PageLoading } from "../components/States";

/** The mailed link (<AppUrl>/verify-email#token=...): the token stays in the fragment, never sent to a server
 * but the API's POST /auth/verify-email; then the session refreshes for an access token that says so. */
const SENT = new Map<string, Promise<void>>();

export default function VerifyEmail() {
  const { session } = useAuth();
  const [state, setState] = useState<{ done: boolean; error: string | null }>({ done: false, error: null });
  useEffect(() => {
    const token = new URLSearchParams(window.location.hash.slice(1)).get("token");
    if (!token) return setState({ done: false, error: "This link has no token: open the link from the mail." });
    let cancelled = false;
    // one POST per token, however often the effect runs (the link is single use)
    let sent = SENT.get(token);
    if (!sent) SENT.set(token, (sent = apiPost("/auth/verify-email", { token }).then(() => undefined)));
    sent
      .then(async () => {
        if (session.resumable) await session.refresh();
        if (!cancelled) setState({ done: true, error: null });
      })
      .catch((err: unknown) => {
        if (!cancelled) setState({ done: false, error: errorWords(err) });
      });
    return () => {
      cancelled = true;
    };
  }, [session]);
  return (
    <Stack>
      <Title order={1}>Verify your email</Title>
      {state.error ? <Alert variant="outline" color="red.9" role="alert">{state.error}</Alert>
        : state.done ? <Alert variant="outline" color="teal.9" title="Email verified">You can now book and pay.</Alert>
        : <PageLoading label="Verifying" />}
      <Anchor component={Link} to="/account">Your account</Anchor>
    </Stack>
  );
}
