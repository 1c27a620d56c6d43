import { expect, it } from "vitest";
import { PriceBook } from "./prices";

const price = (seq: number, offer_id: string, old_price: number | null, new_price: number) =>
  ({ type: "price", seq, offer_id, old_price, new_price, ts: "" });

it("applies a change once: a replayed or older seq for the same offer changes nothing", () => {
  const book = new PriceBook();
  expect(book.apply(price(5, "a", 1, 2))).toEqual([{ offerId: "a", price: 2, old: 1, fromSnapshot: false }]);
  expect(book.apply(price(5, "a", 1, 2))).toEqual([]); // the resume's replay of the same change
  expect(book.apply(price(4, "a", 0.5, 1))).toEqual([]); // an older one: it would put an old price back
  expect(book.apply(price(4, "b", 3, 4))).toHaveLength(1); // seqs are per offer
  expect(book.apply({ type: "removed", seq: 6, offer_id: "a", ts: "" })).toEqual([
    { offerId: "a", price: null, old: null, fromSnapshot: false },
  ]);
});

it("takes a snapshot's prices (quietly) only where they are newer, and forgets everything on reset", () => {
  const book = new PriceBook();
  book.apply(price(9, "a", 1, 2));
  const snap = { type: "snapshot", seq: 8, offers: [{ offer_id: "a", price_per_gpu_hour: 1 }, { offer_id: "b", price_per_gpu_hour: 3 }] };
  expect(book.apply(snap)).toEqual([{ offerId: "b", price: 3, old: null, fromSnapshot: true }]);
  expect(book.apply({ type: "pong", ts: "" })).toEqual([]);
  book.reset();
  expect(book.apply(snap)).toHaveLength(2);
});
