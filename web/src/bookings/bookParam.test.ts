import { describe, expect, it } from "vitest";
import { requestedHours, wantsBookingForm, withoutBookingForm } from "./bookParam";

describe("?book=1", () => {
  it("asks for the form only with the value 1", () => {
    expect(wantsBookingForm(new URLSearchParams("book=1"))).toBe(true);
    expect(wantsBookingForm(new URLSearchParams("x=2&book=1"))).toBe(true);
    for (const q of ["", "book=0", "book=", "book=true", "booking=1"]) {
      expect(wantsBookingForm(new URLSearchParams(q))).toBe(false);
    }
  });

  it("drops the request and keeps the other parameters in order", () => {
    const given = new URLSearchParams("a=1&book=1&b=2&hours=8&b=3");
    expect(withoutBookingForm(given).toString()).toBe("a=1&b=2&b=3");
    expect(given.toString()).toBe("a=1&book=1&b=2&hours=8&b=3"); // not mutated
    expect(withoutBookingForm(new URLSearchParams("book=1")).toString()).toBe("");
  });
});

describe("hours asked for", () => {
  it("are a whole number from 1 to 720", () => {
    expect(requestedHours(new URLSearchParams("book=1&hours=8"))).toBe(8);
    expect(requestedHours(new URLSearchParams("hours=720"))).toBe(720);
    for (const q of ["", "hours=", "hours=0", "hours=721", "hours=1.5", "hours=-2", "hours=8h", "hours=1e2"]) {
      expect(requestedHours(new URLSearchParams(q))).toBeNull();
    }
  });
});
