import { Anchor, Stack, Text, Title } from "@mantine/core";
import { Link } from "react-router-dom";

export default function Soon({ title, missing = false }: { title: string; missing?: boolean }) {
  return (
    <Stack>
      <Title order={1}>{title}</Title>
      <Text c="dimmed">{missing ? "There is no page here." : "This page is on its way."}</Text>
      <Anchor component={Link} to="/offers">Browse the offers</Anchor>
    </Stack>
  );
}
