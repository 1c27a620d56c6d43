import { expect, it } from "vitest";
import { costRange, costWithBand, fmtCost, fmtHours, hoursWithBand } from "./band";

it("reads hours at a precision that fits their size", () => {
  expect(fmtHours(0.0512)).toBe("0.051");
  expect(fmtHours(0.5)).toBe("0.5");
  expect(fmtHours(3.24)).toBe("3.2");
  expect(fmtHours(9.96)).toBe("10");
  expect(fmtHours(12.6)).toBe("13");
  expect(fmtHours(1234.4)).toBe("1,234");
});

it("shows the time with its band, or alone, or a dash", () => {
  expect(hoursWithBand({ est_hours: 3.2, est_hours_low: 2.4, est_hours_high: 3.6 })).toBe("3.2 h (2.4–3.6)");
  expect(hoursWithBand({ est_hours: 0.25, est_hours_low: 0.19, est_hours_high: 0.41 })).toBe("0.25 h (0.19–0.41)");
  expect(hoursWithBand({ est_hours: 3.2 })).toBe("3.2 h");
  expect(hoursWithBand({ est_hours: 3.2, est_hours_low: 2.4, est_hours_high: null })).toBe("3.2 h");
  expect(hoursWithBand({ est_hours: null, est_hours_low: null, est_hours_high: null })).toBe("—");
});

it("scales the cost by the same band: same GPUs, same price, longer or shorter", () => {
  const p = { est_hours: 4, est_hours_low: 3, est_hours_high: 5, est_cost_usd: 40 };
  expect(costRange(p)).toEqual([30, 50]);
  expect(costWithBand(p)).toBe("$40.00 ($30.00–$50.00)");
  expect(costWithBand({ ...p, est_cost_usd: 12000 })).toBe("$12,000 ($9,000–$15,000)");
  expect(costWithBand({ ...p, est_cost_usd: null })).toBe("—");
  expect(costWithBand({ est_hours: 4, est_cost_usd: 40 })).toBe("$40.00");
  expect(costRange({ est_hours: 0, est_hours_low: 0, est_hours_high: 0, est_cost_usd: 0 })).toBeNull();
  expect(fmtCost(999.994)).toBe("$999.99");
});
