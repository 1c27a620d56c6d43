import { expect, it } from "vitest";
import type { Offer } from "../api/types";
import { idsFromUrl, placeOnCriterion, topsisBody, usableCriteria } from "./criteria";

const offer = (id: string, price: number, mem: number, count: number, vcpus: number | null): Offer => ({
  offer_id: id, provider: "p", instance_type: "i", gpu_model: "H100", gpu_vendor: "nvidia", gpu_count: count,
  gpu_memory_gb: mem, vcpus, ram_gb: 64, region: "eu", price_per_hour: price * count, price_per_gpu_hour: price,
  spot_price_per_hour: null, available: true, stale: false, compliance: [], form_factor: null, as_of: "", source: "",
});

it("places each offer between the worst and the best, in the criterion's direction", () => {
  expect(placeOnCriterion([1, 2, 3], "cost")).toEqual([1, 0.5, 0]);
  expect(placeOnCriterion([1, 2, 3], "benefit")).toEqual([0, 0.5, 1]);
  expect(placeOnCriterion([2, 2], "cost")).toEqual([1, 1]);
});

it("drops a criterion one offer lacks and builds the matrix body", () => {
  const offers = [offer("a", 2, 80, 1, 16), offer("b", 3, 80, 2, null)];
  const criteria = usableCriteria(offers);
  expect(criteria.map((c) => c.name)).not.toContain("vcpus");
  const body = topsisBody(offers, criteria, { price_per_gpu_hour: 3 });
  expect(body.matrix[1]).toEqual([3, 6, 80, 160, 64]);
  expect(body.weights).toEqual([3, 1, 1, 1, 1]);
  expect(body.types).toEqual(["cost", "cost", "benefit", "benefit", "benefit"]);
});

it("reads 2-4 distinct ids from the URL", () => {
  expect(idsFromUrl(new URLSearchParams("id=a&id=b&id=a"))).toEqual(["a", "b"]);
  expect(idsFromUrl(new URLSearchParams("ids=a,b,c,d,e"))).toEqual(["a", "b", "c", "d"]);
});
