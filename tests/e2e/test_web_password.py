"""The pages the account mails and Stripe Checkout open, in a real browser on the local stack (issue 15): the mailed
links are read from the stack's outbox and opened exactly as mailed, so they must land on the web app
(``AppUrl`` = ``<api>/app``).

- Password: the verification link verifies (``/app/verify-email``); "Forgot password?" on the sign-in form -> the
  neutral answer -> the reset mail's link opens ``/app/reset-password`` -> a new password -> signed in with it; the
  same link again is refused with a way to a new one.
- Checkout: "Upgrade to Pro" -> the local Stripe pay page -> "Cancel" lands on ``/app/billing/cancelled``; again ->
  "Pay" lands on ``/app/billing/done``, which shows the new plan once Stripe's webhook has arrived.

Every page at 1280x800 and 390x844: no console error, no failed request, no serious or critical axe-core
violation, a screenshot in ``.local/web-screenshots``."""

from __future__ import annotations

import email.message
import json
import re
import uuid
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.e2e import test_web
from tests.e2e.conftest import Stack
from tests.e2e.test_accounts import _call, _mail_to, _token
from tests.e2e.test_web import SHOTS, Watched
from tests.e2e.test_web_account import check

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("stack")]

browser, open_page = test_web.browser, test_web.open_page  # the fixtures of the anonymous pages' test

PASSWORD, NEW_PASSWORD = "correct horse battery staple", "a different passphrase, long enough"
ANSWER_MS = 30_000  # a wait, not a bound: the first call of a function on the local stack starts its runtime
NEW_FIELD, REPEAT_FIELD = re.compile(r"^New password"), re.compile(r"^Repeat the new password")  # then " *" (required)


def _link(message: email.message.Message) -> str:
    """The one link of an account mail, exactly as mailed."""
    text = message.get_payload(decode=True)
    assert isinstance(text, bytes)
    found = re.findall(r"https?://\S+#token=[A-Za-z0-9_.-]+", text.decode())
    assert len(found) == 1, text
    return str(found[0])


def _answer_rate_limit(watched: Watched, method_path: str) -> None:
    """The e2e tests share one IP: when the API's per-IP throttle answers 429, the page shows when to retry and a
    Retry button (the ErrorState); use it as a person would, and drop that one answer from the problems."""
    page = watched.page
    limited = page.get_by_text("Too many requests")
    expect(page.get_by_text("Request received").or_(limited)).to_be_visible(timeout=ANSWER_MS)
    if not limited.is_visible():
        return
    retry = page.get_by_role("button", name="Retry")
    expect(retry).to_be_enabled(timeout=70_000)
    retry.click()
    limited_lines = [p for p in watched.problems if (p.startswith("status 429") and method_path in p)
                     or "status of 429" in p]  # fmt: skip
    watched.problems[:] = [p for p in watched.problems if p not in limited_lines]


def test_mailed_links_verify_and_reset_the_password_in_the_web_app(
    stack: Stack, open_page: Callable[[str], Watched]
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    failures: dict[str, object] = {}
    watched = open_page("desktop")
    page: Page = watched.page
    address = f"pw-{uuid.uuid4().hex[:12]}@example.com"
    assert _call(stack, "/auth/register", {"email": address, "password": PASSWORD})[0] == 202

    # the verification mail's link, opened as mailed: the web app's page verifies the address
    verify = _link(_mail_to(stack, address, "Verify your GPUBroker email address"))
    assert verify.startswith(f"{stack.url}/app/verify-email#token="), verify
    page.goto(verify)
    expect(page.get_by_text("Email verified")).to_be_visible(timeout=ANSWER_MS)
    check(watched, "verify-email", failures)

    # "Forgot password?" on the sign-in form, the email carried over; the answer says nothing about the account
    page.goto(f"{stack.url}/app/account")
    page.get_by_label("Email").fill(address)
    page.get_by_role("link", name="Forgot password?").click()
    page.wait_for_url("**/app/forgot-password")
    expect(page.get_by_label("Email")).to_have_value(address)
    check(watched, "forgot-password", failures)
    page.get_by_role("button", name="Send reset link").click()
    _answer_rate_limit(watched, "POST /auth/password/forgot")
    expect(page.get_by_text("Request received")).to_be_visible(timeout=ANSWER_MS)
    expect(page.get_by_role("status").filter(has_text="If an account uses")).to_contain_text(address)
    check(watched, "forgot-password-sent", failures)

    # the reset mail's link, opened as mailed: /app/reset-password, a new password, every session signed out
    reset = _link(_mail_to(stack, address, "Reset your GPUBroker password"))
    assert reset.startswith(f"{stack.url}/app/reset-password#token="), reset
    page.goto(reset)
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    check(watched, "reset-password", failures)
    page.get_by_role("textbox", name=NEW_FIELD).fill(NEW_PASSWORD)
    page.get_by_role("textbox", name=REPEAT_FIELD).fill(NEW_PASSWORD + "!")
    page.get_by_role("button", name="Set new password").click()
    expect(page.get_by_text("The two passwords differ.")).to_be_visible()  # caught before any request
    page.get_by_role("textbox", name=REPEAT_FIELD).fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set new password").click()
    expect(page.get_by_text("Password changed")).to_be_visible(timeout=ANSWER_MS)
    assert "#token=" not in page.url  # the spent token leaves the address bar
    check(watched, "reset-password-done", failures)

    # signed in with the new password (the old one is refused by the API: tests/e2e/test_accounts.py)
    page.get_by_role("main").get_by_role("link", name="Sign in").click()
    page.wait_for_url("**/app/account")
    page.get_by_label("Email").fill(address)
    page.get_by_role("textbox", name="Password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_test_id("signed-in-user")).to_have_text(address, timeout=ANSWER_MS)
    expect(page.get_by_text("No bookings this period.")).to_be_visible(timeout=ANSWER_MS)  # the page's calls done
    assert not watched.problems, watched.problems

    # the same link again: refused (single use), in words, with the way to a new one
    page.goto(reset)
    page.get_by_role("textbox", name=NEW_FIELD).fill("yet another passphrase")
    page.get_by_role("textbox", name=REPEAT_FIELD).fill("yet another passphrase")
    page.get_by_role("button", name="Set new password").click()
    expect(page.get_by_text("This link does not work")).to_be_visible(timeout=ANSWER_MS)
    expect(page.get_by_role("alert")).to_contain_text("invalid_link")
    # the API's 400 (and Chromium's console line about that resource) are the only problems: expected here
    refused = [p for p in watched.problems if "/auth/password/reset" in p or "status of 400" in p]
    assert any(p.startswith("status 400: POST") for p in refused) and refused == watched.problems, watched.problems
    watched.problems.clear()
    check(watched, "reset-password-used", failures)
    page.get_by_role("link", name="Request a new link").click()
    page.wait_for_url("**/app/forgot-password")
    assert not watched.problems, watched.problems
    assert not failures, json.dumps(failures, indent=1)


def test_checkout_returns_to_the_web_apps_pages(stack: Stack, open_page: Callable[[str], Watched]) -> None:
    state = json.loads(stack.state_file.read_text())
    if "stripe" not in state:
        pytest.skip("a stack without the local Stripe server")
    SHOTS.mkdir(parents=True, exist_ok=True)
    failures: dict[str, object] = {}
    watched = open_page("desktop")
    page: Page = watched.page
    address = f"co-{uuid.uuid4().hex[:12]}@example.com"
    assert _call(stack, "/auth/register", {"email": address, "password": PASSWORD})[0] == 202
    token = _token(_mail_to(stack, address, "Verify your GPUBroker email address"))
    assert _call(stack, "/auth/verify-email", {"token": token})[0] == 200

    page.goto(f"{stack.url}/app/account")
    page.get_by_label("Email").fill(address)
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_test_id("plan")).to_have_text("free", ignore_case=True, timeout=ANSWER_MS)

    # Checkout left without paying: the cancel page, nothing charged, the plan unchanged
    page.get_by_role("button", name="Upgrade to Pro").click()
    page.wait_for_url(f"{state['stripe']}/checkout/pay/*")
    page.get_by_role("link", name="Cancel and go back to GPUBroker").click()
    page.wait_for_url("**/app/billing/cancelled?plan=pro")
    expect(page.get_by_role("heading", name="Nothing was charged")).to_be_visible(timeout=ANSWER_MS)
    check(watched, "billing-cancelled", failures)

    # paid: Stripe sends the payer to /app/billing/done, which waits for the plan to reach the session
    page.get_by_role("link", name="Your account").click()
    page.get_by_role("button", name="Upgrade to Pro").click()
    page.get_by_role("button", name="Pay").click()  # the local Stripe pay page's test card
    page.wait_for_url(re.compile(r"/app/billing/done\?session_id=cs_test_\w+&plan=pro$"))
    expect(page.get_by_test_id("plan")).to_have_text("pro", ignore_case=True, timeout=30_000)
    check(watched, "billing-done", failures)
    page.get_by_role("link", name="Your account").click()
    expect(page.get_by_test_id("plan")).to_have_text("pro", ignore_case=True)
    expect(page.get_by_text("No bookings this period.")).to_be_visible(timeout=ANSWER_MS)  # the page's calls done
    page.go_back()  # the page's other link: Bookings
    page.get_by_role("main").get_by_role("link", name="Your bookings").click()
    page.wait_for_url("**/app/bookings")
    expect(page.get_by_role("heading", name="Bookings", exact=True)).to_be_visible()
    assert not watched.problems, watched.problems
    assert not failures, json.dumps(failures, indent=1)
