import { useEffect, useMemo, useRef, useState } from "react";
import {
  Alert, Button, Code, Collapse, CopyButton, Drawer, Group, NativeSelect, Paper, SimpleGrid, Stack, Table, Text,
  TextInput, Title,
} from "@mantine/core";
import { useMediaQuery } from "@mantine/hooks";
import { useSearchParams } from "react-router-dom";
import { ApiError } from "../api/client";
import type { AuditEntry, AuditPage, AuditVerifyReport } from "../api/types";
import {
  EMPTY_AUDIT_QUERY, OUTCOMES, TEXT_FILTERS, activeAuditFilters, auditPath, collectPage, fromLocalInput,
  parseAuditQuery, toAuditSearchParams, toLocalInput, type AuditQuery,
} from "../audit/query";
import { isAdmin } from "../auth/roles";
import { useAuth } from "../auth/useAuth";
import { Empty, ErrorState, PageLoading } from "../components/States";

const PAGE = 50; // entries per "load"
const MAX_CALLS = 5; // GET /audit calls one load may make following a short filtered page (5 x 5,000 entries read)
const MAX_VERIFY_CALLS = 10; // GET /audit/verify calls one run may chain before asking to continue
const GENESIS = "0".repeat(64);

function when(ts: string): string {
  const d = new Date(ts);
  return Number.isNaN(d.getTime()) ? ts : d.toLocaleString();
}

// darker than Mantine's green.9 / red.9: 4.5:1 on a striped (gray.0) row too (axe color-contrast)
const OK_COLOR = "#1b5e20";
const BAD_COLOR = "#a61e1e";

/** An alert's title in a colour that keeps 4.5:1 on the alert's light background (Mantine's default does not). */
function AlertTitle({ color, children }: { color: string; children: React.ReactNode }) {
  return <Text span fw={700} size="sm" c={color}>{children}</Text>;
}

function outcomeColor(outcome: string): string | undefined {
  if (outcome === "ok") return OK_COLOR;
  if (outcome.startsWith("error")) return BAD_COLOR;
  return undefined;
}

/** A refusal said as one: its status and code beside the API's message; a 429 counts down (ErrorState). */
function RequestError({ error, onRetry, what }: { error: unknown; onRetry?: () => void; what: string }) {
  if (error instanceof ApiError && error.status >= 400 && error.status < 500 && error.status !== 429) {
    return (
      <Alert color="red" role="alert" title={<AlertTitle color={BAD_COLOR}>{`${what} was refused: ${error.status} ${error.code}`}</AlertTitle>}>
        <Text size="sm">{error.message}</Text>
        {error.status === 403 && <Text size="sm">Only administrators may read the audit log.</Text>}
        {error.status === 401 && <Text size="sm">Your session ended: sign in again.</Text>}
        {onRetry && <Button mt="sm" size="xs" variant="light" onClick={onRetry}>Retry</Button>}
      </Alert>
    );
  }
  return <ErrorState error={error} onRetry={onRetry} />;
}

function Filters({ query, onApply, me }: { query: AuditQuery; onApply: (q: AuditQuery) => void; me: string | null }) {
  const [draft, setDraft] = useState(query);
  useEffect(() => setDraft(query), [query]);
  const set = (name: keyof AuditQuery) => (value: string) => setDraft((d) => ({ ...d, [name]: value }));
  return (
    <Paper withBorder p="md" component="form" aria-label="Audit filters"
      onSubmit={(e: React.FormEvent) => { e.preventDefault(); onApply(draft); }}>
      <Stack gap="sm">
        <SimpleGrid cols={{ base: 1, sm: 2, lg: 4 }}>
          {TEXT_FILTERS.map(([name, label, placeholder]) => (
            <TextInput key={name} label={label} placeholder={placeholder} value={draft[name]}
              onChange={(e) => set(name)(e.currentTarget.value)} />
          ))}
          <NativeSelect label="Outcome" value={OUTCOMES.some(([v]) => v === draft.outcome) ? draft.outcome : "custom"}
            data={[...OUTCOMES.map(([value, label]) => ({ value, label })),
              ...(OUTCOMES.some(([v]) => v === draft.outcome) ? [] : [{ value: "custom", label: draft.outcome }])]}
            onChange={(e) => { const v = e.currentTarget.value; if (v !== "custom") set("outcome")(v); }} />
          <TextInput type="datetime-local" label="From (your time)" value={toLocalInput(draft.since)}
            onChange={(e) => set("since")(fromLocalInput(e.currentTarget.value))} />
          <TextInput type="datetime-local" label="Until (your time)" value={toLocalInput(draft.until)}
            onChange={(e) => set("until")(fromLocalInput(e.currentTarget.value))} />
        </SimpleGrid>
        <Group>
          <Button type="submit">Apply filters</Button>
          {me && (
            <Button variant="light" onClick={() => onApply({ ...EMPTY_AUDIT_QUERY, actor: me })}>
              Only my actions
            </Button>
          )}
          <Button variant="subtle" color="gray" onClick={() => onApply(EMPTY_AUDIT_QUERY)}
            disabled={activeAuditFilters(query) === 0}>
            Clear
          </Button>
        </Group>
      </Stack>
    </Paper>
  );
}

function Hash({ value, label }: { value: string; label: string }) {
  return (
    <Group gap="xs" wrap="nowrap" align="start">
      <Code style={{ wordBreak: "break-all", whiteSpace: "normal", flex: "1 1 auto", minWidth: 0 }}>{value}</Code>
      <CopyButton value={value}>
        {({ copied, copy }) => (
          <Button size="compact-xs" variant="subtle" onClick={copy} aria-label={`Copy the ${label}`} style={{ flex: "none" }}>
            {copied ? "Copied" : "Copy"}
          </Button>
        )}
      </CopyButton>
    </Group>
  );
}

/** Every field of one entry, with the links that narrow the list to what it names. */
function EntryDetail({ entry, onFilter }: { entry: AuditEntry; onFilter: (patch: Partial<AuditQuery>) => void }) {
  const rows: [string, React.ReactNode][] = [
    ["When", <><Text size="sm">{when(entry.ts)}</Text><Code>{entry.ts}</Code></>],
    ["Actor", <Group gap="xs"><Text size="sm" style={{ wordBreak: "break-all" }}>{entry.actor}</Text>
      <Button size="compact-xs" variant="light" onClick={() => onFilter({ actor: entry.actor })}>This actor's entries</Button></Group>],
    ["Action", <Group gap="xs"><Code>{entry.action}</Code>
      <Button size="compact-xs" variant="light" onClick={() => onFilter({ action: entry.action })}>This action's entries</Button></Group>],
    ["Resource", <Group gap="xs"><Text size="sm" style={{ wordBreak: "break-all" }}>{entry.resource}</Text>
      <Button size="compact-xs" variant="light" onClick={() => onFilter({ resource: entry.resource })}>This resource's entries</Button></Group>],
    ["Outcome", <Text size="sm" fw={600} c={outcomeColor(entry.outcome)}>{entry.outcome}</Text>],
    ["Request id (correlation id)", <Stack gap={4}><Hash value={entry.request_id} label="request id" />
      <Button size="compact-xs" variant="light" style={{ alignSelf: "start" }}
        onClick={() => onFilter({ request_id: entry.request_id })}>This request's entries</Button></Stack>],
    ["Shard", <Text size="sm">{entry.shard}</Text>],
    ["Sequence number", <Text size="sm">{entry.seq}</Text>],
    ["Hash", <Hash value={entry.hash} label="hash" />],
    ["Previous hash", <Stack gap={4}><Hash value={entry.prev_hash} label="previous hash" />
      {entry.prev_hash === GENESIS && <Text size="xs" c="dimmed">genesis: the shard's first entry</Text>}</Stack>],
  ];
  return (
    <Stack gap="sm" data-testid="audit-entry-detail">
      <Table withRowBorders layout="fixed">
        <Table.Tbody>
          {rows.map(([name, value]) => (
            <Table.Tr key={name}>
              <Table.Th w="34%" scope="row" style={{ verticalAlign: "top" }}>{name}</Table.Th>
              <Table.Td>{value}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      <Text size="xs" c="dimmed">
        hash = sha256(previous hash ‖ the entry's other fields): changing any field, or removing an entry before it,
        breaks the chain, which "Verify the chain" finds.
      </Text>
    </Stack>
  );
}

function verifiedCount(report: AuditVerifyReport): number {
  return report.shards.reduce((n, s) => n + (s.verified_through === null ? 0 : s.verified_through - s.verified_from + 1), 0);
}

/** GET /audit/verify: each shard's newest signed checkpoint and the entries after it (or every entry, from genesis),
 * chained over calls until complete (each call stops before the API's time limit and hands a cursor on). */
function VerifyChain() {
  const { session } = useAuth();
  const [mode, setMode] = useState<"checkpoint" | "genesis">("checkpoint");
  const [state, setState] = useState<{ running: boolean; report: AuditVerifyReport | null; read: number; error: unknown }>(
    { running: false, report: null, read: 0, error: null });
  const ctrl = useRef<AbortController | null>(null);
  useEffect(() => () => ctrl.current?.abort(), []);

  const run = async (cursor: string | null, readBefore: number) => {
    ctrl.current?.abort();
    const c = new AbortController();
    ctrl.current = c;
    setState((s) => ({ ...s, running: true, error: null, ...(cursor ? {} : { report: null, read: 0 }) }));
    let next = cursor;
    let read = readBefore;
    try {
      for (let i = 0; i < MAX_VERIFY_CALLS; i++) {
        const qs = new URLSearchParams(next ? { cursor: next } : mode === "genesis" ? { from: "genesis" } : {});
        const search = qs.toString();
        const report = await session.call<AuditVerifyReport>(`/audit/verify${search ? `?${search}` : ""}`, { signal: c.signal });
        read += report.entries_read;
        setState({ running: !report.complete, report, read, error: null });
        next = report.next_cursor;
        if (report.complete || !next) return;
      }
      setState((s) => ({ ...s, running: false }));
    } catch (error) {
      if (!c.signal.aborted) setState((s) => ({ ...s, running: false, error }));
    }
  };

  const { running, report, read, error } = state;
  const broken = report?.shards.find((s) => !s.ok);
  return (
    <Paper withBorder p="md" component="section" aria-labelledby="verify-title">
      <Stack gap="sm">
        <Title order={2} size="h3" id="verify-title">Verify the chain</Title>
        <Text size="sm" c="dimmed">
          Checks each shard's newest KMS-signed checkpoint (signature, its link to the one before, the archived copy)
          and that the entries chain to it; from genesis, every entry since the first.
        </Text>
        <Group align="end">
          <NativeSelect label="Verify" value={mode} disabled={running}
            onChange={(e) => setMode(e.currentTarget.value as "checkpoint" | "genesis")}
            data={[{ value: "checkpoint", label: "since the newest checkpoints (fast)" },
              { value: "genesis", label: "every entry, from genesis" }]} />
          <Button onClick={() => run(null, 0)} loading={running}>Verify the chain</Button>
        </Group>
        {running && <PageLoading label={`Verifying the chain${read ? `: ${read.toLocaleString()} entries read` : ""}`} />}
        {error !== null && <RequestError error={error} what="The verification" onRetry={() => run(null, 0)} />}
        {report && !running && (
          <Stack gap="sm" data-testid="verify-report">
            {!report.complete ? (
              <Alert color="yellow" title={<AlertTitle color="#5c3c00">Not finished yet</AlertTitle>}>
                <Text size="sm">{`Read ${read.toLocaleString()} entries so far; nothing broken found yet.`}</Text>
                <Button mt="sm" size="xs" variant="light" onClick={() => run(report.next_cursor, read)}>Continue</Button>
              </Alert>
            ) : report.ok ? (
              <Alert color="green" title={<AlertTitle color={OK_COLOR}>The chain is intact</AlertTitle>} role="status">
                <Text size="sm">
                  {`${verifiedCount(report).toLocaleString()} entries verified (${read.toLocaleString()} read) in `}
                  {`${report.shards.length} shards, ${report.mode === "genesis" ? "from genesis" : "since each shard's newest checkpoint"}.`}
                </Text>
              </Alert>
            ) : (
              <Alert color="red" title={<AlertTitle color={BAD_COLOR}>The chain is broken</AlertTitle>} role="alert">
                <Text size="sm">
                  {`First broken link: shard ${report.first_broken_shard ?? "?"}`}
                  {report.first_broken_seq !== null ? `, sequence number ${report.first_broken_seq}` : ""}
                  {broken?.reason ? `: ${broken.reason}` : ""}
                </Text>
              </Alert>
            )}
            <Table.ScrollContainer minWidth={640} type="native" tabIndex={0} aria-label="Verification per shard">
              <Table striped>
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>Shard</Table.Th><Table.Th>Status</Table.Th><Table.Th>Entries</Table.Th>
                    <Table.Th>Checkpointed</Table.Th><Table.Th>Verified</Table.Th><Table.Th>Archived</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {report.shards.map((s) => (
                    <Table.Tr key={s.shard}>
                      <Table.Td>{s.shard}</Table.Td>
                      <Table.Td>
                        <Text size="sm" fw={600} c={s.ok ? OK_COLOR : BAD_COLOR}>{s.ok ? "intact" : "broken"}</Text>
                        {s.reason && <Text size="xs">{s.reason}{s.first_broken_seq !== null ? ` (seq ${s.first_broken_seq})` : ""}</Text>}
                      </Table.Td>
                      <Table.Td>{s.size.toLocaleString()}</Table.Td>
                      <Table.Td>{s.checkpoint_size === null ? "none yet" : s.checkpoint_size.toLocaleString()}</Table.Td>
                      <Table.Td>{s.verified_through === null ? "nothing new" : `${s.verified_from}–${s.verified_through}`}</Table.Td>
                      <Table.Td>{s.published === null ? "—" : s.published ? "yes" : "not yet"}</Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </Table.ScrollContainer>
          </Stack>
        )}
      </Stack>
    </Paper>
  );
}

interface Listed { key: string; items: AuditEntry[]; next: string | null; scanned: number }

/** The audit log for admins: GET /audit filtered by the URL's query, "load more" by cursor, an entry's every field
 * in a drawer, and the chain's verification; the nav hides the page from everyone else. */
export default function Audit() {
  const { user, session } = useAuth();
  const admin = isAdmin(user?.roles);
  const [params, setParams] = useSearchParams();
  const query = useMemo(() => parseAuditQuery(params), [params]);
  const key = toAuditSearchParams(query).toString();
  const [list, setList] = useState<Listed | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [moreError, setMoreError] = useState<unknown>(null);
  const [loadingMore, setLoadingMore] = useState(false);
  const [tick, setTick] = useState(0);
  const [selected, setSelected] = useState<AuditEntry | null>(null);
  const narrow = useMediaQuery("(max-width: 48em)") ?? false; // Mantine's sm breakpoint
  const [showFilters, setShowFilters] = useState(false);
  const moreCtrl = useRef<AbortController | null>(null);

  const load = (cursor: string | null, signal: AbortSignal) =>
    collectPage((limit, c) => session.call<AuditPage>(auditPath(query, limit, c), { signal }), cursor, PAGE, MAX_CALLS);

  useEffect(() => {
    if (!admin) return;
    const ctrl = new AbortController();
    moreCtrl.current?.abort();
    setError(null);
    setMoreError(null);
    setList(null);
    setLoadingMore(false);
    load(null, ctrl.signal).then(
      (got) => setList({ key, items: got.items, next: got.next, scanned: got.scanned }),
      (err) => { if (!ctrl.signal.aborted) setError(err); },
    );
    return () => ctrl.abort();
    // `key` is the query (`load` closes over it), `user?.sub` the session it is read with
  }, [key, tick, admin, user?.sub]);

  const loadMore = async () => {
    if (!list?.next) return;
    const ctrl = new AbortController();
    moreCtrl.current = ctrl;
    setLoadingMore(true);
    setMoreError(null);
    try {
      const got = await load(list.next, ctrl.signal);
      setList((l) => l && l.key === key
        ? { key, items: [...l.items, ...got.items], next: got.next, scanned: l.scanned + got.scanned } : l);
    } catch (err) {
      if (!ctrl.signal.aborted) setMoreError(err);
    } finally {
      if (!ctrl.signal.aborted) setLoadingMore(false);
    }
  };

  if (!admin) {
    return <Stack><Title order={1}>Audit</Title><Text>The audit log is for administrators.</Text></Stack>;
  }
  const apply = (q: AuditQuery) => { setSelected(null); setParams(toAuditSearchParams(q)); };
  const shown = list?.key === key ? list : null; // never the previous query's entries under the new one's form
  const filtered = activeAuditFilters(query) > 0;
  const me = user?.sub ? `user:${user.sub}` : null;

  return (
    <Stack gap="md">
      <Title order={1}>Audit</Title>
      <VerifyChain />
      <Title order={2} size="h3">Entries</Title>
      {narrow && (
        <Button variant="light" onClick={() => setShowFilters((v) => !v)} aria-expanded={showFilters} aria-controls="audit-filters">
          {showFilters ? "Hide filters" : `Filters${filtered ? ` (${activeAuditFilters(query)})` : ""}`}
        </Button>
      )}
      <Collapse expanded={!narrow || showFilters} id="audit-filters">
        <Filters query={query} me={me} onApply={(q) => { apply(q); if (narrow) setShowFilters(false); }} />
      </Collapse>
      {error !== null && !shown ? (
        <RequestError error={error} what="Reading the audit log" onRetry={() => setTick((t) => t + 1)} />
      ) : !shown ? (
        <PageLoading label="Loading the audit log" />
      ) : shown.items.length === 0 && !shown.next ? (
        <Empty>{filtered ? "No entries match these filters." : "The audit log is empty."}</Empty>
      ) : (
        <>
          <Text size="sm" c="dimmed" aria-live="polite" data-testid="audit-count">
            {`${shown.items.length.toLocaleString()} ${shown.items.length === 1 ? "entry" : "entries"}`}
            {filtered ? ` match (${shown.scanned.toLocaleString()} searched${shown.next ? " so far" : ""})` : ""}
            {shown.next ? "" : ", the end of the log"}
          </Text>
          {shown.items.length === 0 ? (
            <Empty>No entries match in the part of the log searched so far.</Empty>
          ) : narrow ? (
            /* a phone: one card per entry, every column in view (a 5-column table would scroll sideways) */
            <Stack component="ul" gap="xs" p={0} m={0} aria-label="Audit log entries" style={{ listStyle: "none" }}>
              {shown.items.map((e) => (
                <Paper component="li" withBorder p="xs" key={`${e.shard}:${e.seq}`}>
                  <Group justify="space-between" wrap="nowrap" gap="xs">
                    <Button variant="subtle" size="compact-sm" px={4} aria-haspopup="dialog" onClick={() => setSelected(e)}>
                      {when(e.ts)}
                    </Button>
                    <Text size="sm" fw={600} c={outcomeColor(e.outcome)}>{e.outcome}</Text>
                  </Group>
                  <Code>{e.action}</Code>
                  <Text size="sm" style={{ wordBreak: "break-all" }}>{e.actor}</Text>
                  <Text size="xs" style={{ wordBreak: "break-all" }}>{e.resource}</Text>
                </Paper>
              ))}
            </Stack>
          ) : (
            /* native scrolling, focusable: it scrolls from the keyboard too (axe: scrollable-region-focusable) */
            <Table.ScrollContainer minWidth={760} type="native" tabIndex={0} aria-label="Audit log entries">
              <Table striped highlightOnHover>
                <Table.Thead>
                  <Table.Tr><Table.Th>When</Table.Th><Table.Th>Action</Table.Th><Table.Th>Actor</Table.Th><Table.Th>Resource</Table.Th><Table.Th>Outcome</Table.Th></Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {shown.items.map((e) => (
                    <Table.Tr key={`${e.shard}:${e.seq}`}>
                      <Table.Td>
                        <Button variant="subtle" size="compact-sm" aria-haspopup="dialog" title="Show every field of this entry"
                          onClick={() => setSelected(e)}>
                          {when(e.ts)}
                        </Button>
                      </Table.Td>
                      <Table.Td><Code>{e.action}</Code></Table.Td>
                      <Table.Td style={{ wordBreak: "break-all" }}>{e.actor}</Table.Td>
                      <Table.Td style={{ wordBreak: "break-all" }}>{e.resource}</Table.Td>
                      <Table.Td><Text size="sm" fw={600} c={outcomeColor(e.outcome)}>{e.outcome}</Text></Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </Table.ScrollContainer>
          )}
          {moreError !== null && <RequestError error={moreError} what="Reading more entries" onRetry={loadMore} />}
          {shown.next && moreError === null && (
            <Button variant="default" onClick={loadMore} loading={loadingMore} style={{ alignSelf: "start" }}>
              {shown.items.length === 0 ? "Search further" : "Load more"}
            </Button>
          )}
        </>
      )}
      <Drawer opened={selected !== null} onClose={() => setSelected(null)} position="right"
        closeButtonProps={{ "aria-label": "Close the entry" }}
        size={narrow ? "100%" : "lg"} title={selected ? `Audit entry ${selected.shard}:${selected.seq}` : "Audit entry"}>
        {selected && (
          <EntryDetail entry={selected} onFilter={(patch) => apply({ ...EMPTY_AUDIT_QUERY, ...patch })} />
        )}
      </Drawer>
    </Stack>
  );
}
