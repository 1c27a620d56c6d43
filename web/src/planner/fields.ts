// The Planner's pure pieces: a 422's broken rules per question, and an answer's value as the API wants it.
import { ApiError } from "../api/client";

export interface Question {
  id: string;
  type: "choice" | "number" | "integer" | "text" | "boolean" | "model";
  prompt: string;
  help: string;
  unit?: string | null;
  default?: string | number | boolean | null;
  choices?: { value: string | number; label: string }[];
  validation?: { min?: number | null; max?: number | null; pattern?: string | null; required?: boolean };
}

export type Answer = string | number | boolean;

/** question id -> message, from a 422's details ([{loc: ["answers", id], msg}]); "" holds what names no question. */
export function fieldErrors(error: unknown): Record<string, string> {
  if (!(error instanceof ApiError) || error.status !== 422) return {};
  const out: Record<string, string> = {};
  const details = Array.isArray(error.details) ? error.details : [];
  for (const d of details as { loc?: unknown[]; msg?: string }[]) {
    const loc = Array.isArray(d.loc) ? d.loc : [];
    const id = loc[0] === "answers" && typeof loc[1] === "string" ? loc[1] : "";
    out[id] = out[id] ? `${out[id]}; ${d.msg ?? ""}` : d.msg ?? error.message;
  }
  if (Object.keys(out).length === 0) out[""] = error.message;
  return out;
}

/** The answers to send: each given one, a choice's value in its own type (a choice list may hold integers). */
export function answersFor(questions: Question[], given: Record<string, Answer | "">): Record<string, Answer> {
  const out: Record<string, Answer> = {};
  for (const q of questions) {
    const v = given[q.id];
    if (v === undefined || v === "") continue;
    if (q.type === "choice") {
      const choice = q.choices?.find((c) => String(c.value) === String(v));
      out[q.id] = choice ? choice.value : v;
    } else out[q.id] = v;
  }
  return out;
}
