import { describe, expect, it } from "vitest";
import { ApiError } from "../api/client";
import { awaitPlan, checkoutReturn, linkToken, resetFailure } from "./links";

const TOKEN = "eyJhbGciOiJFZERTQSJ9.eyJwdXJwb3NlIjoicmVzZXQifQ.c2lnbmF0dXJlLWJ5dGVz";

describe("linkToken", () => {
  it("reads the token from the fragment", () => {
    expect(linkToken(`#token=${TOKEN}`)).toBe(TOKEN);
    expect(linkToken(`token=${TOKEN}`)).toBe(TOKEN);
    expect(linkToken(`#utm=x&token=${TOKEN}`)).toBe(TOKEN);
  });
  it("refuses a missing, cut or foreign token", () => {
    expect(linkToken("")).toBeNull();
    expect(linkToken("#")).toBeNull();
    expect(linkToken("#token=")).toBeNull();
    expect(linkToken(`#token=${TOKEN.slice(0, 30)}`)).toBeNull(); // cut short: two parts
    expect(linkToken("#token=a.b.c")).toBeNull(); // too short to be one
    expect(linkToken(`#token=${TOKEN}<script>`)).toBeNull();
    expect(linkToken(`#token=${TOKEN}.x`)).toBeNull(); // four parts
    expect(linkToken(`#token=${"a".repeat(2100)}.${"b".repeat(2100)}.c`)).toBeNull(); // past 4096
  });
});

describe("checkoutReturn", () => {
  const booking = "bk_abcdefghijklmnopqrstuvwxyz";
  it("reads the session, the booking and the plan", () => {
    expect(checkoutReturn(`?session_id=cs_test_a1B2&booking_id=${booking}`)).toEqual({
      sessionId: "cs_test_a1B2", bookingId: booking, plan: null,
    });
    expect(checkoutReturn("?session_id=cs_live_x&plan=pro")).toEqual({ sessionId: "cs_live_x", bookingId: null, plan: "pro" });
  });
  it("drops values of the wrong form", () => {
    expect(checkoutReturn("?session_id={CHECKOUT_SESSION_ID}&booking_id=../../admin&plan=Pro!")).toEqual({
      sessionId: null, bookingId: null, plan: null,
    });
    expect(checkoutReturn("")).toEqual({ sessionId: null, bookingId: null, plan: null });
    expect(checkoutReturn(`?booking_id=${booking}1`).bookingId).toBeNull();
  });
});

describe("resetFailure", () => {
  it("tells the link from the password and the rate", () => {
    expect(resetFailure(new ApiError(400, "invalid_link", "the link is not valid"))).toBe("link");
    const token422 = new ApiError(422, "validation_error", "x", null, [{ loc: ["body", "token"], type: "string_pattern_mismatch", msg: "" }]);
    expect(resetFailure(token422)).toBe("link");
    const short = new ApiError(422, "validation_error", "x", null, [{ loc: ["body", "password"], type: "string_too_short", msg: "" }]);
    expect(resetFailure(short)).toBe("password");
    expect(resetFailure(new ApiError(429, "rate_limited", "slow down", 7))).toBe("rate");
    expect(resetFailure(new ApiError(0, "network_error", "down"))).toBe("other");
    expect(resetFailure(new ApiError(422, "validation_error", "x"))).toBe("other");
    expect(resetFailure(new Error("boom"))).toBe("other");
  });
});

describe("awaitPlan", () => {
  function fake(plans: (string | null)[], refreshed = true) {
    let i = -1;
    const slept: number[] = [];
    return {
      slept,
      refresh: async () => {
        i += 1;
        return refreshed;
      },
      currentPlan: () => plans[Math.min(i, plans.length - 1)] ?? null,
      sleep: async (ms: number) => void slept.push(ms),
    };
  }
  it("refreshes until the plan shows", async () => {
    const f = fake(["free", "free", "pro"]);
    expect(await awaitPlan({ plan: "pro", ...f, delaysMs: [0, 10, 20, 30] })).toBe("changed");
    expect(f.slept).toEqual([10, 20]);
  });
  it("gives up after the last delay", async () => {
    const f = fake(["free"]);
    expect(await awaitPlan({ plan: "pro", ...f, delaysMs: [0, 10, 20] })).toBe("pending");
    expect(f.slept).toEqual([10, 20]);
  });
  it("stops when there is no session", async () => {
    const f = fake(["free"], false);
    expect(await awaitPlan({ plan: "pro", ...f, delaysMs: [0, 10] })).toBe("signed_out");
    expect(f.slept).toEqual([]);
  });
  it("stops when the page goes away", async () => {
    const f = fake(["free"]);
    const ctl = new AbortController();
    const sleep = async (ms: number) => {
      f.slept.push(ms);
      ctl.abort();
    };
    expect(await awaitPlan({ plan: "pro", ...f, sleep, signal: ctl.signal, delaysMs: [0, 10, 20] })).toBe("stopped");
    expect(f.slept).toEqual([10]);
  });
});
