import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  EMPTY_AUDIT_QUERY, activeAuditFilters, auditPath, collectPage, fromLocalInput, parseAuditQuery, toAuditSearchParams,
  toLocalInput, utcTime,
} from "./query";

it("reads every GET /audit filter from the URL and writes it back in canonical order", () => {
  const url = new URLSearchParams(
    "until=2026-12-05T12:00:00%2B02:00&outcome=refused&request_id=abc-1&resource=booking%2Fb1" +
      "&action=auth&actor=user%3Au-1&since=2026-12-05T08:00:00Z",
  );
  const query = parseAuditQuery(url);
  expect(query).toEqual({
    actor: "user:u-1", action: "auth", resource: "booking/b1", request_id: "abc-1", outcome: "refused",
    since: "2026-12-05T08:00:00.000Z", until: "2026-12-05T10:00:00.000Z", // an offset becomes UTC
  });
  expect(toAuditSearchParams(query).toString()).toBe(
    "actor=user%3Au-1&action=auth&resource=booking%2Fb1&request_id=abc-1&outcome=refused" +
      "&since=2026-12-05T08%3A00%3A00.000Z&until=2026-12-05T10%3A00%3A00.000Z",
  );
  expect(activeAuditFilters(query)).toBe(7);
  // a round trip is stable: the URL written is the URL read
  expect(parseAuditQuery(toAuditSearchParams(query))).toEqual(query);
});

it("leaves empty values out and drops what the API would refuse", () => {
  expect(toAuditSearchParams(EMPTY_AUDIT_QUERY).toString()).toBe("");
  const query = parseAuditQuery(new URLSearchParams(
    `actor=%20%20&action=${"a".repeat(129)}&since=2026-12-05T08:00&until=yesterday&resource=%20booking%2Fb1%20&page=2`,
  ));
  // blank, too long, a time without a zone (the server would guess), not a time, an unknown name: dropped; trimmed
  expect(query).toEqual({ ...EMPTY_AUDIT_QUERY, resource: "booking/b1" });
  expect(activeAuditFilters(query)).toBe(1);
});

it("builds GET /audit's path with the page size and the cursor after the filters", () => {
  const query = { ...EMPTY_AUDIT_QUERY, actor: "user:u 1", outcome: "ok" };
  expect(auditPath(query, 50)).toBe("/audit?actor=user%3Au+1&outcome=ok&limit=50");
  expect(auditPath(query, 50, "eyJzIjoxfQ")).toBe("/audit?actor=user%3Au+1&outcome=ok&limit=50&cursor=eyJzIjoxfQ");
  expect(auditPath(EMPTY_AUDIT_QUERY, 50, null)).toBe("/audit?limit=50");
});

it("takes only zoned times and normalises them to UTC", () => {
  expect(utcTime("2026-12-05T10:00Z")).toBe("2026-12-05T10:00:00.000Z");
  expect(utcTime("2026-12-05T10:00:00.123456-05:30")).toBe("2026-12-05T15:30:00.123Z");
  expect(utcTime("2026-12-05T10:00:00")).toBe("");
  expect(utcTime("2026-13-45T10:00:00Z")).toBe("");
  expect(utcTime("")).toBe("");
});

describe("the form's local times (the browser's zone: New York here)", () => {
  const saved = process.env.TZ;
  beforeEach(() => { process.env.TZ = "America/New_York"; });
  afterEach(() => { process.env.TZ = saved; });

  it("a datetime-local value is local time and round-trips through UTC", () => {
    const iso = fromLocalInput("2026-12-05T10:30");
    expect(iso).toBe("2026-12-05T15:30:00.000Z"); // EST is UTC-5 in December
    expect(toLocalInput(iso)).toBe("2026-12-05T10:30");
    expect(toLocalInput("2026-07-01T00:00:00.000Z")).toBe("2026-06-30T20:00"); // EDT in July
    expect(fromLocalInput("2026-12-05")).toBe(""); // incomplete: no bound
    expect(toLocalInput("")).toBe("");
    expect(toLocalInput("not a time")).toBe("");
  });
});

describe("collectPage: a short filtered page follows the cursor", () => {
  // a log of 10 "pages" of which only the 3rd and 7th hold a match; each call answers one page
  const fake = (limit: number, cursor: string | null) => {
    const at = cursor === null ? 0 : Number(cursor);
    const items = at === 2 || at === 6 ? [`match-${at}`].slice(0, limit) : [];
    return Promise.resolve({ items, next_cursor: at + 1 < 10 ? String(at + 1) : null, scanned: 100 });
  };

  it("goes on until the page is full, and says where to go on", async () => {
    const calls: [number, string | null][] = [];
    const spy = (limit: number, cursor: string | null) => { calls.push([limit, cursor]); return fake(limit, cursor); };
    const got = await collectPage(spy, null, 2, 20);
    expect(got).toEqual({ items: ["match-2", "match-6"], next: "7", scanned: 700, calls: 7 });
    expect(calls[0]).toEqual([2, null]);
    expect(calls[3]).toEqual([1, "3"]); // only what is still missing is asked for
  });

  it("stops after maxCalls with a cursor to search further, and at the log's end without one", async () => {
    expect(await collectPage(fake, null, 5, 4)).toEqual({ items: ["match-2"], next: "4", scanned: 400, calls: 4 });
    expect(await collectPage(fake, "4", 5, 20)).toEqual({ items: ["match-6"], next: null, scanned: 600, calls: 6 });
  });

  it("one call when the first page is full or the log is empty", async () => {
    const full = () => Promise.resolve({ items: [1, 2, 3], next_cursor: "x" });
    expect(await collectPage(full, null, 3, 5)).toEqual({ items: [1, 2, 3], next: "x", scanned: 3, calls: 1 });
    const empty = () => Promise.resolve({ items: [] as number[], next_cursor: null, scanned: 0 });
    expect(await collectPage(empty, null, 3, 5)).toEqual({ items: [], next: null, scanned: 0, calls: 1 });
  });
});
