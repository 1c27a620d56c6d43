"""The signed-in web app in a real browser (issue 15), one walk through it on the local stack: sign up, verify the
email from the mailed link, turn on two-step verification (the QR code and its secret), sign out, sign in again
through the MFA step, open a (non-runpod) offer, Book Now, pay on the local Stripe pay page (which sends the payer
back to the app's /app/billing/done, linking to the booking), watch the booking turn confirmed on its page, find it
in Bookings, cancel it and see the refund; made admin, the Audit page; then an upgrade to Pro through Checkout (back
on /app/billing/done, the plan shows). Account, the return page, booking, Bookings and Audit are each checked at
1280x800 and 390x844 (no console error, no failed request, no serious or critical axe-core violation, a screenshot in
``.local/web-screenshots``). One browser, one context: the session lives in the tab."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable

import pyotp
import pytest
from playwright.sync_api import Page, expect

from infra.local import admin
from tests.e2e import test_web
from tests.e2e.conftest import Stack
from tests.e2e.test_accounts import _mail_to, _token
from tests.e2e.test_web import SHOTS, VIEWPORTS, Watched, axe_violations

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("stack")]

browser, open_page = test_web.browser, test_web.open_page  # the fixtures of the anonymous pages' test

PASSWORD = "correct horse battery staple"
SETTLE_S = 60_000  # ms: the saga's steps on the local stack's Runtime


def bookable_offer(stack: Stack) -> str:
    """The cheapest available offer of 0.5 USD/h or more from a provider other than runpod (the shared tables'
    rule: bookings reserve through the sandbox provider locally, whatever the offer's provider)."""
    _, page = stack.get(f"{stack.url}/offers?sort=price&limit=50&min_price_per_hour=0.5&available=true")
    return str(next(o["offer_id"] for o in page["items"] if o["provider"] != "runpod" and o["available"]))


def check(
    watched: Watched, name: str, failures: dict[str, object], viewports: tuple[str, ...] = tuple(VIEWPORTS)
) -> None:
    """The page at each of ``viewports`` (both sizes unless told): a screenshot, axe-core's serious violations and
    what went wrong so far."""
    page = watched.page
    page.mouse.move(1, 1)  # no hover state left on the link just clicked
    for viewport in viewports:
        size = VIEWPORTS[viewport]
        page.set_viewport_size(size)  # type: ignore[arg-type]
        page.wait_for_timeout(150)  # Mantine's layout settles on resize
        page.screenshot(path=str(SHOTS / f"{name}-{viewport}.png"), full_page=True)
        violations = axe_violations(page)
        if violations or watched.problems:
            failures[f"{name}-{viewport}"] = {"axe": violations, "problems": list(watched.problems)}
    page.set_viewport_size(VIEWPORTS["desktop"])  # type: ignore[arg-type]


def totp_after(secret: str, spent: str) -> str:
    """A code the API will take: the next step's when the current one was spent (a code is single use)."""
    now = pyotp.TOTP(secret).now()
    return now if now != spent else pyotp.TOTP(secret).at(time.time() + 30)


def test_sign_up_mfa_book_pay_cancel(stack: Stack, open_page: Callable[[str], Watched]) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    failures: dict[str, object] = {}
    watched = open_page("desktop")
    page: Page = watched.page
    address = f"web-{uuid.uuid4().hex[:12]}@example.com"

    # sign up (then signed in at once), verify the email from the mailed link
    page.goto(f"{stack.url}/app/account")
    page.get_by_text("Create account", exact=True).first.click()
    page.get_by_label("Email").fill(address)
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_test_id("signed-in-user")).to_have_text(address)
    expect(page.get_by_text("No bookings this period.")).to_be_visible()  # GET /billing/usage answered
    token = _token(_mail_to(stack, address, "Verify your GPUBroker email address"))
    page.goto(f"{stack.url}/app/verify-email#token={token}")  # a reload: the session resumes from the tab
    expect(page.get_by_text("Email verified")).to_be_visible(timeout=SETTLE_S)  # a cold function on a new stack

    # two-step verification: the QR code and its secret, confirmed with a code
    page.get_by_role("link", name="Your account").click()
    page.get_by_role("textbox", name="Current password").fill(PASSWORD)
    page.get_by_role("button", name="Set up two-step verification").click()
    expect(page.get_by_role("img", name="QR code of your two-step verification secret")).to_be_visible()
    secret = page.get_by_test_id("mfa-secret").inner_text()
    enrol_code = pyotp.TOTP(secret).now()
    page.get_by_label("6-digit code").fill(enrol_code)
    page.get_by_role("button", name="Turn on").click()
    expect(page.get_by_test_id("recovery-codes")).to_be_visible()
    check(watched, "account", failures)

    # the Audit page is hidden from a user; made admin, the next sign-in shows it
    nav = page.get_by_role("navigation")
    expect(nav.get_by_role("link", name="Audit")).to_have_count(0)
    assert admin.main(["--email", address, "--state-file", str(stack.state_file), "--operator", "e2e@web"]) == 0

    # sign out, sign in again: the MFA step
    page.get_by_role("banner").get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("banner").get_by_role("link", name="Sign in")).to_be_visible()
    page.get_by_label("Email").fill(address)
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.get_by_label("Code from your authenticator app (or a recovery code)").fill(totp_after(secret, enrol_code))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_test_id("signed-in-user")).to_have_text(address)

    # Book Now on an offer, then its page; the first booking waits for Checkout
    page.goto(f"{stack.url}/app/offers/{bookable_offer(stack)}")
    # the page's own calls done (KPIs, price history, similar offers): leaving earlier aborts them, failed requests
    expect(page.get_by_role("button", name="Book now")).to_be_visible(timeout=SETTLE_S)  # its sections mounted
    expect(page.get_by_role("main").get_by_text(re.compile(r"^Loading .*…$"))).to_have_count(0, timeout=SETTLE_S)
    page.get_by_role("button", name="Book now").click()
    page.get_by_role("dialog").get_by_role("button", name="Book", exact=True).click()
    page.wait_for_url("**/app/bookings/*")
    booking_id = page.url.rsplit("/", 1)[1]
    status = page.get_by_test_id("booking-status")
    expect(status).to_have_text("awaiting payment", timeout=SETTLE_S)
    page.get_by_role("link", name="Pay with Stripe").click()
    page.get_by_role("button", name="Pay").click()  # the local Stripe server's pay page (test card)
    # as on Stripe, paying sends the payer back to the app's return page, which links to the booking paid for
    page.wait_for_url(f"**/app/billing/done?session_id=*&booking_id={booking_id}")
    page.wait_for_load_state("networkidle")
    assert not watched.problems, watched.problems  # the Stripe page's included: it requests nothing that fails
    check(watched, "billing-done-booking", failures)
    page.get_by_role("link", name="Open the booking").click()
    page.wait_for_url(f"**/app/bookings/{booking_id}")
    expect(page.get_by_text("live", exact=True)).to_be_visible()  # the signed-in WebSocket is open
    expect(status).to_have_text("confirmed", timeout=SETTLE_S)
    check(watched, "booking", failures)

    # listed in Bookings
    page.get_by_role("link", name="← All bookings").click()
    expect(page.get_by_role("row").filter(has_text="confirmed")).to_have_count(1)
    check(watched, "bookings", failures)

    # cancel: the refund shown
    page.get_by_role("row").filter(has_text="confirmed").get_by_role("link").click()
    page.get_by_role("button", name="Cancel booking").click()
    expect(status).to_have_text("cancelled")
    expect(page.get_by_test_id("booking-refund")).to_contain_text("$")
    assert not watched.problems, watched.problems

    # Audit: the admin's page. On the shared e2e stack the log holds every earlier test's entries in the API's order
    # (per shard, oldest first), so this run's cancel need not be on the first page: the page lists entries (action
    # code, actor, outcome) and "More" follows the cursor to further ones.
    nav.get_by_role("link", name="Audit").click()
    entries = page.get_by_role("row").filter(has=page.locator("code"))
    expect(entries.first).to_be_visible()
    shown = entries.count()
    if page.get_by_role("button", name="More").is_visible():
        page.get_by_role("button", name="More").click()
        expect(entries).not_to_have_count(shown)
    check(watched, "audit", failures)

    # upgrade to Pro through Checkout; the plan shows from the next refresh, once Stripe's webhook has arrived
    page.get_by_role("link", name="Account").click()
    page.get_by_role("button", name="Upgrade to Pro").click()
    page.get_by_role("button", name="Pay").click()  # the local Stripe pay page
    # back on the app's return page, which refreshes the session until the plan shows (the webhook may lag)
    page.wait_for_url("**/app/billing/done?session_id=*&plan=pro")
    expect(page.get_by_test_id("plan")).to_have_text("pro", ignore_case=True, timeout=30_000)
    page.goto(f"{stack.url}/app/account")  # a reload: the session resumes with the new plan
    plan = page.get_by_test_id("plan")
    deadline = time.monotonic() + 20
    while plan.inner_text().lower() != "pro" and time.monotonic() < deadline:
        page.get_by_role("button", name="Refresh my session").click()
        page.wait_for_timeout(500)
    expect(plan).to_have_text("pro", ignore_case=True)
    assert not failures, json.dumps(failures, indent=1)
