import { useEffect, useState } from "react";
import { Alert, Button, Center, Group, Loader, Text } from "@mantine/core";
import { ApiError } from "../api/client";

export function PageLoading({ label = "Loading" }: { label?: string }) {
  return (
    <Center py="xl" role="status" aria-live="polite">
      <Group gap="sm">
        <Loader size="sm" aria-hidden />
        <Text c="dimmed">{label}…</Text>
      </Group>
    </Center>
  );
}

export function Empty({ children }: { children: React.ReactNode }) {
  return (
    <Center py="xl">
      <Text c="dimmed">{children}</Text>
    </Center>
  );
}

/** An error with what to do: a 429 counts down to when a retry may succeed, then offers it. */
export function ErrorState({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const limited = error instanceof ApiError && error.status === 429;
  const [wait, setWait] = useState(limited ? (error as ApiError).retryAfter ?? 1 : 0);
  useEffect(() => {
    if (wait <= 0) return;
    const t = setTimeout(() => setWait((w) => w - 1), 1000);
    return () => clearTimeout(t);
  }, [wait]);
  const message = error instanceof Error ? error.message : String(error);
  return (
    <Alert color={limited ? "yellow" : "red"} title={limited ? "Too many requests" : "Something went wrong"} role="alert">
      <Text size="sm">
        {limited
          ? wait > 0
            ? `The API asks us to slow down: retry in ${wait} s.`
            : "You can retry now."
          : message}
      </Text>
      {onRetry && (
        <Button mt="sm" size="xs" variant="light" onClick={onRetry} disabled={wait > 0}>
          Retry
        </Button>
      )}
    </Alert>
  );
}
