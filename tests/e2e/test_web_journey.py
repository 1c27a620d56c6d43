"""Issue 15's journey, in one browser tab as a user walks it, on the real local stack: sign up on the Account page,
verify the email from the mailed link, sign out, sign in again through the form; filter the Offers page (provider
and GPU vendor, the state in the URL); a price change from `make ingest` highlighted within 2 s; ask the assistant
for a GPU for a described workload; its recommendation cards; a card's Book Now opens the offer's prefilled booking
form; book, pay on the local Stripe pay page, the booking confirmed live; listed in Bookings; cancel, the refund
shown. Through the UI only: the API is called for what a user cannot do in the app (read the mailed link from the
local mail store, run the ingestion, read the offer's provider to keep test bookings off runpod offers).

Each main page on the way: no console error or failed request, no serious or critical axe-core violation, a
screenshot at 1280x800 (``.local/web-screenshots/journey-*.png``). The split tests (test_web.py,
test_web_account.py, test_web_assistant.py) keep their own checks: both sizes, MFA, Audit, the upgrade, the URL's
back button, the reconnect."""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.e2e import test_web
from tests.e2e.conftest import Stack
from tests.e2e.test_accounts import _mail_to, _token
from tests.e2e.test_web import SHOTS, Watched, dollars, expect_highlighted, ingest_moved_prices
from tests.e2e.test_web_account import PASSWORD, SETTLE_S, check
from tests.e2e.test_web_assistant import ask, open_chat

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("stack")]

browser, open_page = test_web.browser, test_web.open_page  # the fixtures of the anonymous pages' test

WAIT_MS = 30_000  # a page's data on a busy 2-CPU machine (a guard against a hang, not a target)
CHAT_MS = 60_000  # the assistant's answer: the workload's estimate, the search and the ranking
STRIPE_MINIMUM_USD = 0.5  # Stripe's smallest charge: a booking's total must reach it
WORKLOAD = "Which GPU to fine-tune Llama 3 8B with LoRA on 1M rows?"


def look(watched: Watched, name: str, failures: dict[str, object]) -> None:
    """The page as it stands at 1280x800: ``journey-<name>-desktop.png``, axe-core and what went wrong so far."""
    check(watched, f"journey-{name}", failures, viewports=("desktop",))


def pick(page: Page, label: str, option: str) -> None:
    """Choose ``option`` in the Mantine MultiSelect labelled ``label``, as a user does: open it, click the option."""
    page.get_by_role("combobox", name=label, exact=True).click()
    page.get_by_role("option", name=option, exact=True).click()
    page.keyboard.press("Escape")  # close the dropdown


def test_sign_up_filter_live_price_ask_book_pay_cancel(
    stack: Stack, open_page: Callable[[str], Watched], tmp_path: Path
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    failures: dict[str, object] = {}
    watched = open_page("desktop")
    page = watched.page
    address = f"journey-{uuid.uuid4().hex[:12]}@example.com"
    banner, nav = page.get_by_role("banner"), page.get_by_role("navigation")

    # the Dashboard, then sign up on the Account page (signed in at once)
    page.goto(f"{stack.url}/app/")
    expect(page.get_by_text("Best Value").first).to_be_visible(timeout=WAIT_MS)
    page.wait_for_load_state("networkidle")
    look(watched, "dashboard", failures)
    banner.get_by_role("link", name="Sign in").click()
    page.get_by_text("Create account", exact=True).first.click()
    page.get_by_label("Email").fill(address)
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_test_id("signed-in-user")).to_have_text(address, timeout=WAIT_MS)
    expect(page.get_by_text("No bookings this period.")).to_be_visible(timeout=WAIT_MS)  # GET /billing/usage

    # the mailed link (read from the local mail store: the one thing a user's mail client does here)
    token = _token(_mail_to(stack, address, "Verify your GPUBroker email address"))
    page.goto(f"{stack.url}/app/verify-email#token={token}")  # following the link: a fresh load, same tab
    expect(page.get_by_text("Email verified")).to_be_visible(timeout=WAIT_MS)
    page.get_by_role("link", name="Your account").click()
    expect(page.get_by_text("No bookings this period.")).to_be_visible(timeout=WAIT_MS)
    look(watched, "account", failures)

    # sign out, sign in again through the form
    banner.get_by_role("button", name="Sign out").click()
    expect(banner.get_by_role("link", name="Sign in")).to_be_visible()
    page.get_by_label("Email").fill(address)
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_test_id("signed-in-user")).to_have_text(address, timeout=WAIT_MS)

    # filter the offers with the page's controls: verda's NVIDIA GPUs; the URL holds the state
    nav.get_by_role("link", name="Offers").click()
    rows = page.locator("table[aria-label=Offers] tbody tr")
    expect(rows.first).to_be_visible(timeout=WAIT_MS)
    pick(page, "Provider", "verda")
    pick(page, "GPU vendor", "nvidia")
    page.get_by_role("button", name="Apply filters").click()
    expect(page).to_have_url(re.compile(r"/app/offers\?.*provider=verda"))
    assert parse_qs(urlsplit(page.url).query) == {"provider": ["verda"], "gpu_vendor": ["nvidia"]}, page.url
    _, found = stack.get(f"{stack.url}/offers?provider=verda&gpu_vendor=nvidia&limit=1")  # what the page should say
    shown = page.get_by_text(re.compile(rf"^Showing \d+ of {found['count']} offers$"))
    expect(shown).to_be_visible(timeout=WAIT_MS)  # the filtered page is in (the unfiltered one's rows are gone)
    ids = rows.evaluate_all("rows => rows.map(r => r.dataset.offerId)")
    assert ids and all(i.startswith("verda-") for i in ids), ids
    page.reload()  # the URL alone brings the same filters back
    filters = page.get_by_role("form", name="Offer filters")
    expect(filters).to_contain_text("verda")  # the controls show the URL's filters as pills
    expect(filters).to_contain_text("nvidia")
    expect(shown).to_be_visible(timeout=WAIT_MS)
    expect(rows.first).to_have_attribute("data-offer-id", ids[0])

    # a price change from `make ingest`: the first row lights up within 2 s of the ingestion's return
    expect(page.locator("[data-live]")).to_have_attribute("data-live", "open", timeout=WAIT_MS)
    page.wait_for_load_state("networkidle")  # the subscription's snapshot is in
    first = rows.first
    before = first.locator("[data-price]").inner_text()
    ingested = ingest_moved_prices(stack, "verda", tmp_path)
    expect_highlighted(first, before, ingested)
    look(watched, "offers", failures)  # the highlight lasts 3 s: it may show in the screenshot

    # ask the assistant, beside the page, for a GPU for a described workload: recommendation cards
    open_chat(page)
    ask(page, WORKLOAD)
    reply = page.get_by_test_id("chat-assistant").last
    expect(reply).to_contain_text("Estimate", timeout=CHAT_MS)
    cards = reply.get_by_test_id("chat-card")
    expect(cards.first).to_be_visible()
    look(watched, "chat", failures)
    # test bookings stay off runpod offers (the shared tables' rule): the first card from another provider
    offered = [c.get_attribute("data-offer-id") for c in cards.all()]
    chosen = next((str(i) for i in offered if not str(i).startswith("runpod-")), None)
    assert chosen, f"every card is a runpod offer: {offered}"
    _, offer = stack.get(f"{stack.url}/offers/{chosen}")
    assert offer["provider"] != "runpod" and offer["available"], offer
    # the answer's own Book link for it goes to the same form (not to the API's /bookings)
    expect(reply.locator(f'.chat-md a[href="/app/offers/{chosen}?book=1"]')).to_have_count(1)
    card = cards.and_(page.locator(f'[data-offer-id="{chosen}"]'))
    expect(card).to_contain_text(offer["provider"])
    card.get_by_role("link", name=re.compile("^Book now")).click()

    # Book Now: the panel makes way for the offer's page with its booking form open, prefilled (1 hour, its GPUs)
    expect(page).to_have_url(f"{stack.url}/app/offers/{chosen}?book=1")
    expect(page.get_by_role("dialog", name="AI assistant")).to_be_hidden()
    form = page.get_by_role("dialog", name=re.compile(f"^Book .* on {re.escape(offer['provider'])}$"))
    expect(form).to_be_visible(timeout=WAIT_MS)
    expect(form.get_by_label("Hours")).to_have_value("1")
    expect(form.get_by_label("GPUs")).to_have_value(str(offer["gpu_count"]))
    # two hours or more: a cancel refunds the hours not started (the first one is), and Stripe's smallest charge
    per_hour = offer["price_per_gpu_hour"] * offer["gpu_count"]
    hours = max(2, math.ceil(STRIPE_MINIMUM_USD / per_hour))
    form.get_by_label("Hours").fill(str(hours))
    expect(form.get_by_label("Hours")).to_have_value(str(hours))
    estimate = dollars(form.get_by_text("Estimated total").inner_text())
    assert estimate == pytest.approx(per_hour * hours, abs=1e-4), (estimate, per_hour, hours)
    expect(page.get_by_text("Efficiency score")).to_be_visible(timeout=WAIT_MS)  # the offer's page behind it
    look(watched, "book", failures)
    form.get_by_role("button", name="Book", exact=True).click()

    # the booking's page: awaiting payment, paid on the local Stripe pay page, then confirmed live
    page.wait_for_url("**/app/bookings/*", timeout=WAIT_MS)
    booking_url = page.url
    booking_id = booking_url.rsplit("/", 1)[1]
    status = page.get_by_test_id("booking-status")
    expect(status).to_have_text("awaiting payment", timeout=SETTLE_S)
    page.get_by_role("link", name="Pay with Stripe").click()
    page.get_by_role("button", name="Pay").click()  # the local Stripe server's pay page (test card)
    # as on Stripe, paying sends the payer back to the app's return page, which links to the booking paid for
    page.wait_for_url(f"**/app/billing/done?session_id=*&booking_id={booking_id}", timeout=WAIT_MS)
    page.wait_for_load_state("networkidle")
    look(watched, "billing-done", failures)
    page.get_by_role("link", name="Open the booking").click()
    page.wait_for_url(booking_url, timeout=WAIT_MS)
    expect(page.get_by_text("live", exact=True)).to_be_visible(timeout=WAIT_MS)  # the signed-in WebSocket
    expect(status).to_have_text("confirmed", timeout=SETTLE_S)
    look(watched, "booking", failures)

    # listed in Bookings (this account's one booking)
    page.get_by_role("link", name="← All bookings").click()
    listed = page.get_by_role("row").filter(has=page.locator(f'a[href$="/bookings/{booking_id}"]'))
    expect(listed).to_contain_text("confirmed", timeout=WAIT_MS)
    look(watched, "bookings", failures)

    # cancel: the refund shown
    listed.get_by_role("link").click()
    page.get_by_role("button", name="Cancel booking").click()
    expect(status).to_have_text("cancelled", timeout=SETTLE_S)
    refund = page.get_by_test_id("booking-refund")
    expect(refund).to_contain_text("$")
    # refunded: the hours not started (the first one is), at the booked price
    assert dollars(refund.inner_text()) == pytest.approx(per_hour * (hours - 1), abs=0.011), refund.inner_text()
    look(watched, "cancelled", failures)
    assert not failures, json.dumps(failures, indent=1)
