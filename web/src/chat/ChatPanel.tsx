// The assistant's panel: the conversation (markdown rendered safely), recommendation cards with Book Now, the
// follow-ups, the five planning templates as quick actions, and the box to ask. Each message carries the page's
// context (the Offers page's filters and visible offers) and the conversation id.
import "./chat.css";
import { useEffect, useMemo, useRef, useState } from "react";
import {
  ActionIcon, Anchor, Avatar, Badge, Button, CloseButton, FocusTrap, Group, Paper, Stack, Text, Textarea,
} from "@mantine/core";
import { Link, useNavigate } from "react-router-dom";
import { apiPost } from "../api/client";
import { useApi } from "../api/useApi";
import { ErrorState } from "../components/States";
import { fmtUsd } from "../format";
import { getPageContext } from "./context";
import { routerPath } from "./links";
import { renderMarkdown } from "./markdown";
import type { ChatAnswer, ChatCard, ChatMessage } from "./types";

const CONVERSATION_KEY = "gpubroker.chat.conversation";
const FULL_SCREEN = "(max-width: 640px)"; // chat.css's breakpoint

interface TemplateSummary { name: string; title: string; description: string }

function monogram(provider: string): string {
  const parts = provider.split(/[^A-Za-z0-9]+/).filter(Boolean);
  return (parts.length > 1 ? parts[0][0] + parts[1][0] : provider.slice(0, 2)).toUpperCase();
}

function Markdown({ text }: { text: string }) {
  const html = useMemo(() => renderMarkdown(text), [text]);
  // renderMarkdown's output is sanitised by DOMPurify with a short allow-list (see markdown.ts)
  return <div className="chat-md" dangerouslySetInnerHTML={{ __html: html }} />;
}

function Card({ card }: { card: ChatCard }) {
  return (
    <Paper withBorder p="xs" data-testid="chat-card" data-offer-id={card.offer_id}>
      <Group gap="xs" wrap="nowrap" align="start">
        <Badge variant="light" size="lg" circle aria-label={`rank ${card.rank}`}>{card.rank}</Badge>
        <Avatar size="sm" color="indigo" radius="sm" aria-hidden>{monogram(card.provider)}</Avatar>
        <Stack gap={2} style={{ flex: 1, minWidth: 0 }}>
          <Text fw={600} size="sm">{card.count}× {card.gpu}</Text>
          <Text size="xs" c="dimmed">{card.provider}{card.region ? ` · ${card.region}` : ""}</Text>
          <Group gap="xs">
            <Text size="sm">{fmtUsd(card.price_per_hour)}/h</Text>
            {card.score !== null && <Text size="xs" c="dimmed">score {card.score.toFixed(2)}</Text>}
          </Group>
          <Text size="xs">{card.explanation}</Text>
          <Group gap="xs" mt={4}>
            <Button size="compact-xs" component={Link} to={`/offers/${encodeURIComponent(card.offer_id)}?book=1`}
              aria-label={`Book now: ${card.count}× ${card.gpu} at ${card.provider}`}>
              Book Now
            </Button>
            <Anchor size="xs" component={Link} to={`/offers/${encodeURIComponent(card.offer_id)}`}>Details</Anchor>
          </Group>
        </Stack>
      </Group>
    </Paper>
  );
}

export default function ChatPanel({ open, onClose, onReply }: { open: boolean; onClose: () => void; onReply: () => void }) {
  const [messages, setMessages] = useState<ChatMessage[]>([]);
  const [draft, setDraft] = useState("");
  const [pending, setPending] = useState<string | null>(null);
  const [error, setError] = useState<{ message: string; error: unknown } | null>(null);
  const [conversation, setConversation] = useState<string | null>(() => sessionStorage.getItem(CONVERSATION_KEY));
  const templates = useApi<{ templates: TemplateSummary[] }>("/ai/templates");
  const log = useRef<HTMLDivElement>(null);
  const nextId = useRef(1);
  const navigate = useNavigate();

  // a link followed from the conversation: an answer's link to an app page goes through the router (a page load
  // would drop the conversation on screen); the booking form (?book=1) is a dialog of its own, so the panel makes
  // way for it; on a phone (full screen) every link's page needs the screen
  const followed = (e: React.MouseEvent) => {
    const a = (e.target as HTMLElement).closest("a");
    if (!a) return;
    const href = a.getAttribute("href") ?? "";
    const path = routerPath(href, import.meta.env.BASE_URL);
    const plain = e.button === 0 && !e.metaKey && !e.ctrlKey && !e.shiftKey && !e.altKey;
    if (path !== null && plain && !e.defaultPrevented) {
      e.preventDefault();
      navigate(path);
    }
    const booking = path !== null && new URLSearchParams(path.split("?")[1] ?? "").get("book") === "1";
    if (plain && (booking || window.matchMedia(FULL_SCREEN).matches)) onClose();
  };

  useEffect(() => {
    log.current?.scrollTo({ top: log.current.scrollHeight });
  }, [messages, pending, error]);

  const send = async (text: string, echo = true) => {
    const message = text.trim();
    if (!message || pending) return;
    if (echo) setMessages((m) => [...m, { id: nextId.current++, role: "user", text: message }]);
    setDraft("");
    setError(null);
    setPending(message);
    const context = getPageContext();
    try {
      const answer = await apiPost<ChatAnswer>("/ai/chat", {
        message,
        conversation_id: conversation,
        ...(context ? { context } : {}),
      });
      setConversation(answer.conversation_id);
      sessionStorage.setItem(CONVERSATION_KEY, answer.conversation_id);
      setMessages((m) => [...m, {
        id: nextId.current++, role: "assistant", text: answer.text, cards: answer.cards, followUp: answer.follow_up,
        engine: answer.engine,
      }]);
      onReply();
    } catch (err) {
      setError({ message, error: err });
    } finally {
      setPending(null);
    }
  };

  const last = messages[messages.length - 1];
  return (
    <FocusTrap active={open}>
      <Paper className="chat-panel" shadow="xl" withBorder hidden={!open} role="dialog" aria-modal="false"
        aria-labelledby="chat-title" onKeyDown={(e: React.KeyboardEvent) => { if (e.key === "Escape") onClose(); }}>
        <Group justify="space-between" px="sm" py={6} style={{ borderBottom: "1px solid var(--mantine-color-gray-3)" }}>
          <Text id="chat-title" fw={700} component="h2" size="md" m={0}>AI assistant</Text>
          <CloseButton onClick={onClose} aria-label="Close the assistant" />
        </Group>
        <div className="chat-log" ref={log} role="log" aria-live="polite" aria-label="Conversation"
          onClick={followed}>
          {messages.length === 0 && (
            <Stack gap="xs">
              <Text size="sm">Ask me to find, price, compare or explain GPU offers. Or plan a workload:</Text>
              <Group gap={6}>
                {(templates.data?.templates ?? []).map((t) => (
                  <Button key={t.name} size="compact-xs" variant="light" component={Link} to={`/planner?template=${t.name}`}
                    title={t.description}>
                    {t.title}
                  </Button>
                ))}
              </Group>
            </Stack>
          )}
          {messages.map((m) => (
            <div key={m.id} className="chat-msg" data-role={m.role} data-testid={`chat-${m.role}`}>
              {m.role === "user" ? <Text size="sm" style={{ whiteSpace: "pre-wrap" }}>{m.text}</Text> : <Markdown text={m.text} />}
              {m.cards && m.cards.length > 0 && (
                <Stack gap={6} mt={6}>{m.cards.map((c) => <Card key={c.offer_id} card={c} />)}</Stack>
              )}
            </div>
          ))}
          {pending && <Text size="sm" c="dimmed" role="status">Thinking…</Text>}
          {error && <ErrorState error={error.error} onRetry={() => send(error.message, false)} />}
          {!pending && last?.role === "assistant" && last.followUp && last.followUp.length > 0 && (
            <Group gap={6}>
              {last.followUp.map((f) => (
                <Button key={f} size="compact-xs" variant="outline" onClick={() => send(f)}>{f}</Button>
              ))}
            </Group>
          )}
        </div>
        <form onSubmit={(e) => { e.preventDefault(); void send(draft); }}
          style={{ borderTop: "1px solid var(--mantine-color-gray-3)", padding: 8 }}>
          <Group gap={6} wrap="nowrap" align="end">
            <Textarea style={{ flex: 1 }} autosize minRows={1} maxRows={5} maxLength={2000} data-autofocus
              aria-label="Message to the assistant" placeholder="e.g. a GPU to fine-tune Llama 3 8B on 1M rows"
              value={draft} onChange={(e) => setDraft(e.currentTarget.value)}
              onKeyDown={(e) => { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); void send(draft); } }} />
            <ActionIcon type="submit" size="lg" aria-label="Send" loading={pending !== null} disabled={!draft.trim()}>
              <Text component="span" size="xs" fw={700} c="white" aria-hidden>➤</Text>
            </ActionIcon>
          </Group>
        </form>
      </Paper>
    </FocusTrap>
  );
}
