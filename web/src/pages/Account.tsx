import { useState, type FormEvent } from "react";
import {
  Alert, Anchor, Badge, Button, Card, Code, Group, Image, List, PasswordInput, SegmentedControl, SimpleGrid, Stack,
  Table, Text, TextInput, Title,
} from "@mantine/core";
import { Link } from "react-router-dom";
import { useAuth } from "../auth/useAuth";
import { useAuthedApi } from "../auth/useAuthedApi";
import { errorWords } from "../auth/words";
import type { UsageReport } from "../api/types";
import { ErrorState, PageLoading } from "../components/States";
import { fmtMoney } from "../format";

/** A form's submit state: busy while the call runs, its error in words after. */
function useSubmit() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const run = async (action: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (err) {
      setError(errorWords(err));
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, run };
}

function FormError({ error }: { error: string | null }) {
  return error ? <Alert variant="outline" color="red.9" role="alert" title="That did not work">{error}</Alert> : null;
}

function SignIn() {
  const { session } = useAuth();
  const [mode, setMode] = useState<"signin" | "signup">("signin");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [challenge, setChallenge] = useState<string | null>(null);
  const [code, setCode] = useState("");
  const [notice, setNotice] = useState<string | null>(null);
  const { busy, error, run } = useSubmit();

  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      if (challenge) {
        await session.verifyMfa(challenge, code.trim());
        return;
      }
      if (mode === "signup") {
        await session.register(email, password);
        setNotice("Account created: we mailed you a link to verify your email (needed before booking or paying).");
      }
      const step = await session.login(email, password);
      if (step) setChallenge(step.challenge);
    });
  };

  return (
    <Card withBorder maw={440} component="section" aria-labelledby="signin-title">
      <form onSubmit={submit} noValidate={false}>
        <Stack>
          <Title order={2} id="signin-title" size="h3">
            {challenge ? "Two-step verification" : mode === "signin" ? "Sign in" : "Create an account"}
          </Title>
          {!challenge && (
            <SegmentedControl
              value={mode}
              onChange={(v) => setMode(v as "signin" | "signup")}
              data={[{ value: "signin", label: "Sign in" }, { value: "signup", label: "Create account" }]}
              aria-label="Sign in or create an account"
            />
          )}
          {notice && <Alert variant="outline" color="teal.9">{notice}</Alert>}
          {challenge ? (
            <TextInput
              label="Code from your authenticator app (or a recovery code)"
              value={code}
              onChange={(e) => setCode(e.currentTarget.value)}
              autoComplete="one-time-code"
              inputMode="numeric"
              required
              autoFocus
            />
          ) : (
            <>
              <TextInput label="Email" type="email" value={email} onChange={(e) => setEmail(e.currentTarget.value)}
                autoComplete="email" required />
              <PasswordInput label="Password" value={password} onChange={(e) => setPassword(e.currentTarget.value)}
                autoComplete={mode === "signin" ? "current-password" : "new-password"} required
                description={mode === "signup" ? "At least 12 characters." : undefined} />
              {mode === "signin" && (
                <Anchor component={Link} to="/forgot-password" state={{ email: email.trim() }} size="sm">
                  Forgot password?
                </Anchor>
              )}
            </>
          )}
          <FormError error={error} />
          <Group>
            <Button type="submit" loading={busy}>
              {challenge ? "Verify" : mode === "signin" ? "Sign in" : "Create account"}
            </Button>
            {challenge && (
              <Button variant="subtle" onClick={() => { setChallenge(null); setCode(""); }}>Start over</Button>
            )}
          </Group>
        </Stack>
      </form>
    </Card>
  );
}

interface Enrollment {
  challenge: string;
  secret: string;
  otpauth_uri: string;
  qr_png: string;
}

function Mfa() {
  const { session } = useAuth();
  const [password, setPassword] = useState("");
  const [enrollment, setEnrollment] = useState<Enrollment | null>(null);
  const [code, setCode] = useState("");
  const [recovery, setRecovery] = useState<string[] | null>(null);
  const { busy, error, run } = useSubmit();

  const start = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      setEnrollment(await session.callPost<Enrollment>("/auth/mfa/enroll", { password }));
      setPassword("");
    });
  };
  const confirm = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      const done = await session.callPost<{ recovery_codes: string[] }>("/auth/mfa/verify",
        { challenge: enrollment!.challenge, code: code.trim() });
      setRecovery(done.recovery_codes);
      setEnrollment(null);
    });
  };

  return (
    <Card withBorder component="section" aria-labelledby="mfa-title">
      <Stack>
        <Title order={2} id="mfa-title" size="h3">Two-step verification</Title>
        {recovery ? (
          <>
            <Alert variant="outline" color="teal.9" title="Two-step verification is on">
              Keep these recovery codes somewhere safe: each signs you in once without your phone.
            </Alert>
            <SimpleGrid cols={2} data-testid="recovery-codes">
              {recovery.map((c) => <Code key={c}>{c}</Code>)}
            </SimpleGrid>
          </>
        ) : enrollment ? (
          <form onSubmit={confirm}>
            <Stack>
              <Text size="sm">Scan the code with an authenticator app, then type the 6 digits it shows.</Text>
              <Image src={enrollment.qr_png} alt="QR code of your two-step verification secret" w={200} h={200} />
              <Text size="sm">Or type the secret: <Code data-testid="mfa-secret">{enrollment.secret}</Code></Text>
              <TextInput label="6-digit code" value={code} onChange={(e) => setCode(e.currentTarget.value)}
                autoComplete="one-time-code" inputMode="numeric" required />
              <FormError error={error} />
              <Group><Button type="submit" loading={busy}>Turn on</Button></Group>
            </Stack>
          </form>
        ) : (
          <form onSubmit={start}>
            <Stack>
              <Text size="sm">Ask for a code from your phone at every sign-in. Confirm your password to start.</Text>
              <PasswordInput label="Current password" value={password} onChange={(e) => setPassword(e.currentTarget.value)}
                autoComplete="current-password" required />
              <FormError error={error} />
              <Group><Button type="submit" loading={busy}>Set up two-step verification</Button></Group>
            </Stack>
          </form>
        )}
      </Stack>
    </Card>
  );
}

function Billing() {
  const { session, user } = useAuth();
  const usage = useAuthedApi<UsageReport>("/billing/usage");
  const { busy, error, run } = useSubmit();
  const upgrade = (plan: "pro" | "enterprise") =>
    void run(async () => {
      const { url } = await session.callPost<{ url: string }>("/billing/checkout", { plan });
      window.location.assign(url);
    });
  return (
    <Card withBorder component="section" aria-labelledby="billing-title">
      <Stack>
        <Title order={2} id="billing-title" size="h3">Plan and billing</Title>
        <Text>Plan: <Badge variant="light" data-testid="plan">{user?.plan}</Badge></Text>
        {user?.plan === "free" && (
          <Group>
            <Button onClick={() => upgrade("pro")} loading={busy} disabled={!user.email_verified}>Upgrade to Pro</Button>
            {!user.email_verified && <Text size="sm" c="dimmed">Verify your email to upgrade.</Text>}
          </Group>
        )}
        <FormError error={error} />
        {usage.loading ? <PageLoading label="Loading usage" /> : usage.error ? (
          <ErrorState error={usage.error} onRetry={usage.reload} />
        ) : usage.data && (
          <>
            <Text size="sm" c="dimmed">
              This period: {new Date(usage.data.period_start).toLocaleDateString()} –{" "}
              {new Date(usage.data.period_end).toLocaleDateString()}
            </Text>
            {usage.data.totals.length === 0 ? <Text size="sm">No bookings this period.</Text> : (
              <Table>
                <Table.Thead>
                  <Table.Tr><Table.Th>GPU hours</Table.Th><Table.Th>Charged</Table.Th><Table.Th>Refunded</Table.Th><Table.Th>Net</Table.Th></Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {usage.data.totals.map((t) => (
                    <Table.Tr key={t.currency}>
                      <Table.Td>{t.gpu_hours}</Table.Td><Table.Td>{fmtMoney(t.amount)}</Table.Td>
                      <Table.Td>{fmtMoney(t.refunded)}</Table.Td><Table.Td>{fmtMoney(t.net)}</Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            )}
          </>
        )}
      </Stack>
    </Card>
  );
}

export default function Account() {
  const { session, user } = useAuth();
  if (!user) {
    return (
      <Stack>
        <Title order={1}>Account</Title>
        <SignIn />
      </Stack>
    );
  }
  return (
    <Stack>
      <Title order={1}>Account</Title>
      <Card withBorder component="section" aria-labelledby="profile-title">
        <Stack gap="xs">
          <Title order={2} id="profile-title" size="h3">Profile</Title>
          <Text>Signed in as <strong>{user.email ?? user.sub}</strong></Text>
          <List size="sm">
            <List.Item>Email {user.email_verified ? "verified" : "not verified yet (see the link we mailed you)"}</List.Item>
            {user.roles.length > 0 && <List.Item>Roles: {user.roles.join(", ")}</List.Item>}
          </List>
          <Group><Button variant="default" onClick={() => void session.logout()}>Sign out</Button>
            <Button variant="subtle" onClick={() => void session.refresh()}>Refresh my session</Button></Group>
        </Stack>
      </Card>
      <SimpleGrid cols={{ base: 1, md: 2 }}>
        <Mfa />
        <Billing />
      </SimpleGrid>
    </Stack>
  );
}
