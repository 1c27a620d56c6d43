import { expect, it } from "vitest";
import { EMPTY_QUERY, liveFilters, parseQuery, toSearchParams } from "./query";

it("reads every GET /offers filter from the URL and writes it back canonically, defaults left out", () => {
  const url = new URLSearchParams(
    "sort=-price&gpu=H100&gpu=A100%2080GB&provider=verda&region=eu&compliance=secure-cloud&gpu_vendor=nvidia" +
      "&min_gpu_count=2&max_price_per_gpu_hour=2.5&min_ram_gb=64&spot=true&available=false&q=8x%20eu",
  );
  const query = parseQuery(url);
  expect(query.lists).toEqual({ gpu: ["H100", "A100 80GB"], provider: ["verda"], region: ["eu"],
    compliance: ["secure-cloud"], gpu_vendor: ["nvidia"] });
  expect(query.bounds).toEqual({ min_gpu_count: 2, max_price_per_gpu_hour: 2.5, min_ram_gb: 64 });
  expect([query.spot, query.available, query.q, query.sort]).toEqual([true, false, "8x eu", "-price"]);
  const written = toSearchParams(query);
  expect(written.toString()).toBe(
    "q=8x+eu&gpu=H100&gpu=A100+80GB&provider=verda&region=eu&compliance=secure-cloud&gpu_vendor=nvidia" +
      "&max_price_per_gpu_hour=2.5&min_gpu_count=2&min_ram_gb=64&spot=true&available=false&sort=-price",
  );
  expect(parseQuery(written)).toEqual(query); // a round trip changes nothing: a shared link shows the same page
  expect(toSearchParams(EMPTY_QUERY).toString()).toBe("");
  expect(toSearchParams(parseQuery(new URLSearchParams("sort=price_per_gpu_hour&available=true&spot=false"))).toString()).toBe("");
});

it("drops values the API would refuse instead of sending them", () => {
  const query = parseQuery(new URLSearchParams("min_gpu_count=1.5&max_vcpus=-1&min_ram_gb=lots&sort=cheapest&gpu=&gpu=%20&spot=maybe"));
  expect(query).toEqual(EMPTY_QUERY);
});

it("gives the live subscription the same filters in JSON's types, without the text box or the sort", () => {
  const query = parseQuery(new URLSearchParams("q=h100&sort=-price&provider=verda&min_gpu_count=2&max_price_per_hour=10&spot=true&available=false"));
  expect(liveFilters(query)).toEqual({ provider: ["verda"], min_gpu_count: 2, max_price_per_hour: 10, spot: true, available: false });
  expect(liveFilters(EMPTY_QUERY)).toEqual({});
});
