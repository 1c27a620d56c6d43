// The Planner: the five workload templates as wizards (one question a step, the API's types, defaults, units,
// bounds and help; a 422 shows under its question) and a free-text box the API reads (what it understood, what it
// still needs). Both end in the GPUs that fit, with time and cost.
import { useEffect, useState } from "react";
import {
  Alert, Autocomplete, Badge, Button, Group, List, NativeSelect, NumberInput, Paper, Progress, Stack,
  Switch, Text, TextInput, Textarea, Title,
} from "@mantine/core";
import { useSearchParams } from "react-router-dom";
import { apiPost } from "../api/client";
import { useApi } from "../api/useApi";
import { ErrorState, PageLoading } from "../components/States";
import { type Answer, type Question, answersFor, fieldErrors } from "../planner/fields";
import { PlanTable, type WorkloadMapping } from "../planner/PlanTable";

interface TemplateSummary { name: string; title: string; description: string }
interface Template extends TemplateSummary { questions: Question[] }
interface TemplateAnswer { mapping: WorkloadMapping; assumptions: string[]; over_budget: string[]; optimise_for: string }
interface ParseAnswer {
  spec: Record<string, { value?: unknown } | null>;
  workload: Record<string, unknown> | null;
  missing: string[];
  question: string | null;
  assumptions: string[];
}

function QuestionField({ q, value, error, onChange }: {
  q: Question; value: Answer | ""; error?: string; onChange: (v: Answer | "") => void;
}) {
  const common = { label: q.prompt, description: q.help, error, required: q.validation?.required };
  switch (q.type) {
    case "choice":
      return <NativeSelect {...common} value={String(value)}
        data={[...(q.validation?.required ? [] : [{ value: "", label: "—" }]), ...(q.choices ?? []).map((c) => ({ value: String(c.value), label: c.label }))]}
        onChange={(e) => onChange(e.currentTarget.value)} />;
    case "number":
    case "integer":
      return <NumberInput {...common} value={value === "" ? "" : Number(value)} allowDecimal={q.type === "number"}
        min={q.validation?.min ?? undefined} max={q.validation?.max ?? undefined} suffix={q.unit ? ` ${q.unit}` : undefined}
        thousandSeparator="," onChange={(v) => onChange(v === "" ? "" : Number(v))} />;
    case "boolean":
      return <Switch label={q.prompt} description={q.help} error={error} checked={value === true}
        onChange={(e) => onChange(e.currentTarget.checked)} />;
    case "model":
      return <Autocomplete {...common} value={String(value)} data={[...new Set((q.choices ?? []).map((c) => String(c.value)))]}
        limit={20} onChange={(v) => onChange(v)} />;
    default:
      return <TextInput {...common} value={String(value)} onChange={(e) => onChange(e.currentTarget.value)} />;
  }
}

function Wizard({ name }: { name: string }) {
  const template = useApi<Template>(`/ai/templates/${encodeURIComponent(name)}`);
  const [values, setValues] = useState<Record<string, Answer | "">>({});
  const [step, setStep] = useState(0);
  const [result, setResult] = useState<TemplateAnswer | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    const qs = template.data?.questions ?? [];
    setValues(Object.fromEntries(qs.map((q) => [q.id, q.default ?? ""])));
    setStep(0);
    setResult(null);
    setError(null);
  }, [template.data]);

  if (template.error) return <ErrorState error={template.error} onRetry={template.reload} />;
  if (!template.data) return <PageLoading label="Loading the questions" />;
  const questions = template.data.questions;
  const errors = fieldErrors(error);
  const q = questions[step];

  const estimate = async () => {
    setBusy(true);
    setError(null);
    try {
      setResult(await apiPost<TemplateAnswer>(`/ai/templates/${encodeURIComponent(name)}/answers`,
        { answers: answersFor(questions, values) }));
    } catch (err) {
      setResult(null);
      setError(err);
      const bad = questions.findIndex((x) => fieldErrors(err)[x.id]);
      if (bad >= 0) setStep(bad); // the wizard goes to the first question the API refused
    } finally {
      setBusy(false);
    }
  };

  return (
    <Stack gap="md">
      <Paper withBorder p="md" component="form" aria-label={`${template.data.title} questions`}
        onSubmit={(e: React.FormEvent) => { e.preventDefault(); if (step < questions.length - 1) setStep(step + 1); else void estimate(); }}>
        <Stack gap="sm">
          <Text size="sm" c="dimmed">{template.data.description}</Text>
          <Progress value={((step + 1) / questions.length) * 100} aria-label={`Question ${step + 1} of ${questions.length}`} />
          <Text size="sm" fw={600}>Question {step + 1} of {questions.length}</Text>
          {q && <QuestionField key={q.id} q={q} value={values[q.id] ?? ""} error={errors[q.id]}
            onChange={(v) => setValues((s) => ({ ...s, [q.id]: v }))} />}
          {errors[""] && <Alert color="red" role="alert">{errors[""]}</Alert>}
          <Group>
            <Button variant="default" onClick={() => setStep(step - 1)} disabled={step === 0}>Back</Button>
            {step < questions.length - 1 && <Button type="submit">Next</Button>}
            <Button variant={step < questions.length - 1 ? "light" : "filled"} onClick={estimate} loading={busy}>
              {step < questions.length - 1 ? "Estimate (the rest at defaults)" : "Estimate"}
            </Button>
          </Group>
        </Stack>
      </Paper>
      {error !== null && Object.keys(errors).length === 0 && <ErrorState error={error} onRetry={estimate} />}
      {result && (
        <Stack gap="xs">
          <Title order={2} size="h3">GPUs that fit ({result.optimise_for === "speed" ? "fastest" : "cheapest"} first)</Title>
          <PlanTable mapping={result.mapping} overBudget={result.over_budget} />
          {result.assumptions.length > 0 && (
            <List size="xs" c="dimmed">{result.assumptions.map((a) => <List.Item key={a}>{a}</List.Item>)}</List>
          )}
        </Stack>
      )}
    </Stack>
  );
}

function readValue(read: { value?: unknown } | null): string {
  const v = read && typeof read === "object" && "value" in read ? read.value : read;
  return typeof v === "object" && v !== null ? JSON.stringify(v) : String(v);
}

function FreeText() {
  const [text, setText] = useState("");
  const [parsed, setParsed] = useState<ParseAnswer | null>(null);
  const [mapping, setMapping] = useState<WorkloadMapping | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const read = async () => {
    setBusy(true);
    setError(null);
    setMapping(null);
    try {
      const answer = await apiPost<ParseAnswer>("/ai/parse-workload", { text });
      setParsed(answer);
      if (answer.workload) setMapping(await apiPost<WorkloadMapping>("/math/map-workload-to-gpu", answer.workload));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const understood = parsed ? Object.entries(parsed.spec).filter(([, v]) => v !== null && v !== undefined) : [];

  return (
    <Stack gap="md">
      <Paper withBorder p="md" component="form" aria-label="Describe your workload"
        onSubmit={(e: React.FormEvent) => { e.preventDefault(); if (text.trim()) void read(); }}>
        <Stack gap="sm">
          <Textarea label="Describe your workload" autosize minRows={2} maxLength={2000} value={text}
            placeholder="e.g. fine-tune Llama 3 8B with LoRA on 1M rows, 3 epochs, within 2 days"
            onChange={(e) => setText(e.currentTarget.value)} />
          <Group><Button type="submit" loading={busy} disabled={!text.trim()}>Estimate</Button></Group>
        </Stack>
      </Paper>
      {error !== null && <ErrorState error={error} onRetry={read} />}
      {parsed && (
        <Paper withBorder p="md" aria-label="What was understood" component="section">
          <Title order={2} size="h4" mb="xs">What I understood</Title>
          {understood.length === 0 ? <Text size="sm" c="dimmed">Nothing yet.</Text> : (
            <Group gap={6}>
              {understood.map(([k, v]) => <Badge key={k} variant="light" tt="none">{k.replace(/_/g, " ")}: {readValue(v)}</Badge>)}
            </Group>
          )}
          {parsed.question && (
            <Alert mt="sm" color="blue" title="One more thing" data-testid="missing-question">
              {parsed.question}
              {parsed.missing.length > 0 && <Text size="xs" c="dimmed">missing: {parsed.missing.join(", ").replace(/_/g, " ")}</Text>}
            </Alert>
          )}
        </Paper>
      )}
      {mapping && (
        <Stack gap="xs">
          <Title order={2} size="h3">GPUs that fit</Title>
          <PlanTable mapping={mapping} />
        </Stack>
      )}
    </Stack>
  );
}

export default function Planner() {
  const [params, setParams] = useSearchParams();
  const templates = useApi<{ templates: TemplateSummary[] }>("/ai/templates");
  const list = templates.data?.templates ?? [];
  const chosen = params.get("template");
  const mode = chosen && list.some((t) => t.name === chosen) ? chosen : "free";

  return (
    <Stack gap="md">
      <Title order={1}>Planner</Title>
      {templates.error ? <ErrorState error={templates.error} onRetry={templates.reload} /> : !templates.data ? (
        <PageLoading label="Loading the templates" />
      ) : (
        <>
          <Group gap={6} role="group" aria-label="How to describe the workload">
            {[{ value: "free", label: "Free text" }, ...list.map((t) => ({ value: t.name, label: t.title }))].map((o) => (
              <Button key={o.value} size="xs" variant={mode === o.value ? "filled" : "light"} aria-pressed={mode === o.value}
                onClick={() => setParams(o.value === "free" ? {} : { template: o.value })}>
                {o.label}
              </Button>
            ))}
          </Group>
          {mode === "free" ? <FreeText /> : <Wizard key={mode} name={mode} />}
        </>
      )}
    </Stack>
  );
}
