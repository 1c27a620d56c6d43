import { describe, expect, it } from "vitest";
import { appHref, routerPath } from "./links";

describe("the assistant's booking link in the app", () => {
  it("becomes the offer's page with its booking form open", () => {
    expect(appHref("/bookings?offer_id=lambda-1a2b", "/app/")).toBe("/app/offers/lambda-1a2b?book=1");
    expect(appHref("/bookings?offer_id=vast-9&hours=8", "/app")).toBe("/app/offers/vast-9?book=1&hours=8");
  });

  it("escapes the offer id and drops hours that the form would refuse", () => {
    expect(appHref("/bookings?offer_id=a%2Fb%3Fc", "/app/")).toBe("/app/offers/a%2Fb%3Fc?book=1");
    for (const hours of ["0", "-1", "1.5", "abc", "7200", ""]) {
      expect(appHref(`/bookings?offer_id=x&hours=${hours}`, "/app/")).toBe("/app/offers/x?book=1");
    }
  });

  it("leaves every other link alone", () => {
    for (const href of ["/bookings", "/bookings?hours=2", "/bookings/b-1", "/app/offers/x", "https://example.com/bookings?offer_id=x",
      "/offers?provider=verda", "mailto:a@b.c", "#top"]) {
      expect(appHref(href, "/app/")).toBe(href);
    }
  });
});

describe("router paths", () => {
  it("are the part after the app's base", () => {
    expect(routerPath("/app/offers/x?book=1", "/app/")).toBe("/offers/x?book=1");
    expect(routerPath("/app/", "/app")).toBe("/");
  });

  it("are null outside the app", () => {
    for (const href of ["/offers", "/application", "https://example.com/app/x", "mailto:a@b.c"]) {
      expect(routerPath(href, "/app/")).toBeNull();
    }
  });
});
