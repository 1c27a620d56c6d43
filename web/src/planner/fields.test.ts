import { expect, it } from "vitest";
import { ApiError } from "../api/client";
import { answersFor, fieldErrors, type Question } from "./fields";

it("maps a 422's broken rules to their questions", () => {
  const err = new ApiError(422, "invalid_request", "the answers break 2 rule(s)", null, [
    { loc: ["answers", "rows"], type: "range", msg: "at least 1" },
    { loc: ["answers", "rows"], type: "required", msg: "required" },
    { loc: ["body"], type: "x", msg: "bad body" },
  ]);
  expect(fieldErrors(err)).toEqual({ rows: "at least 1; required", "": "bad body" });
  expect(fieldErrors(new ApiError(500, "internal_error", "boom"))).toEqual({});
  expect(fieldErrors(new ApiError(422, "invalid_request", "no details"))).toEqual({ "": "no details" });
});

it("sends a choice in its own type and leaves out blank answers", () => {
  const qs: Question[] = [
    { id: "gpus", type: "choice", prompt: "", help: "", choices: [{ value: 8, label: "8" }] },
    { id: "name", type: "text", prompt: "", help: "" },
    { id: "rows", type: "integer", prompt: "", help: "" },
  ];
  expect(answersFor(qs, { gpus: "8", name: "", rows: 1000 })).toEqual({ gpus: 8, rows: 1000 });
});
