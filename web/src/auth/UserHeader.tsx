import { Anchor, Button, Group, Text } from "@mantine/core";
import { Link } from "react-router-dom";
import { useAuth } from "./useAuth";

/** The header's corner: who is signed in and a sign-out, or a link to sign in. */
export function UserHeader() {
  const { session, user } = useAuth();
  if (!user) return <Anchor component={Link} to="/account" size="sm">Sign in</Anchor>;
  return (
    <Group gap="xs" wrap="nowrap">
      <Text size="sm" truncate="end" maw={{ base: 120, sm: 260 }} data-testid="signed-in-user" title={user.email ?? user.sub}>
        {user.email ?? user.sub}
      </Text>
      <Button size="compact-sm" variant="default" onClick={() => void session.logout()}>Sign out</Button>
    </Group>
  );
}
