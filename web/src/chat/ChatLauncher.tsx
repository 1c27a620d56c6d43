// The floating AI button on every page, its unread badge, and the chat panel, loaded on the first open (the
// markdown renderer and sanitiser stay out of the initial route's JS). Once loaded the panel stays mounted while
// closed: the conversation survives, and a reply arriving while closed raises the badge.
import { Suspense, lazy, useCallback, useRef, useState } from "react";
import { ActionIcon, Affix, Indicator, Text } from "@mantine/core";
import { badgeLabel, nextUnread } from "./unread";

const ChatPanel = lazy(() => import("./ChatPanel"));

export function ChatLauncher() {
  const [open, setOpen] = useState(false);
  const [loaded, setLoaded] = useState(false);
  const [unread, setUnread] = useState(0);
  const openRef = useRef(open);
  openRef.current = open;
  const button = useRef<HTMLButtonElement>(null);

  const show = () => {
    setLoaded(true);
    setOpen(true);
    setUnread((n) => nextUnread(n, { type: "open" }));
  };
  const close = useCallback(() => {
    setOpen(false);
    button.current?.focus();
  }, []);
  const onReply = useCallback(() => setUnread((n) => nextUnread(n, { type: "reply", panelOpen: openRef.current })), []);
  const label = badgeLabel(unread);

  return (
    <>
      {loaded && (
        <Suspense fallback={null}>
          <ChatPanel open={open} onClose={close} onReply={onReply} />
        </Suspense>
      )}
      {(
        <Affix position={{ bottom: 20, right: 20 }}>
          <Indicator label={label} disabled={label === null} size={20} color="red" offset={6} data-testid="chat-unread">
            <ActionIcon ref={button} size={56} radius="xl" variant="filled" onClick={open ? close : show} aria-haspopup="dialog" aria-expanded={open}
              aria-label={open ? "Close the AI assistant" : label ? `Open the AI assistant (${label} unread)` : "Open the AI assistant"} title="AI assistant">
              <Text component="span" fw={700} c="white">AI</Text>
            </ActionIcon>
          </Indicator>
        </Affix>
      )}
    </>
  );
}
