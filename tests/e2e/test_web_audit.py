"""The Audit page in a real browser (issue 15), on the shared local stack: an admin (made with ``make admin``'s
``infra.local.admin``) filters the log by their own actions (so the other tests' entries do not matter), the
filter lives in the URL (a reload and the back button keep it), opens an entry's every field, narrows to one request
from it, and verifies the chain; at 1280x800 and 390x844 with no console error, no failed request and no serious or
critical axe-core violation, screenshots in ``.local/web-screenshots/audit-*.png``. A refused verification (a 403,
a 429) is shown as such."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, Route, expect

from gpubroker.api.cookies import FINGERPRINT_COOKIE
from infra.local import admin
from tests.e2e import test_web
from tests.e2e.conftest import Stack, _patient, account, request
from tests.e2e.test_web import SHOTS, Watched
from tests.e2e.test_web_account import check

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("stack")]

browser, open_page = test_web.browser, test_web.open_page  # the fixtures of the anonymous pages' test

HEX64 = re.compile(r"\b[0-9a-f]{64}\b")


def login_headers(stack: Stack, email: str, password: str) -> dict[str, str]:
    """The headers of a fresh HTTP session of ``email`` (conftest.session's, for an account made already)."""
    status, tokens, headers = _patient("POST", f"{stack.url}/auth/login", {"email": email, "password": password})
    assert status == 200, (status, tokens)
    fingerprint = SimpleCookie(headers["Set-Cookie"])[FINGERPRINT_COOKIE].value
    return {"Authorization": f"Bearer {tokens['access_token']}", "Cookie": f"{FINGERPRINT_COOKIE}={fingerprint}"}


def entries_of(stack: Stack, headers: dict[str, str], query: str) -> list[dict[str, Any]]:
    """Every entry GET /audit answers for ``query``, following the cursor."""
    items: list[dict[str, Any]] = []
    cursor = ""
    while True:
        status, body, _ = request("GET", f"{stack.url}/audit?limit=200&{query}{cursor}", headers=headers)
        assert status == 200, body
        items.extend(body["items"])
        if body["next_cursor"] is None:
            return items
        cursor = f"&cursor={quote(body['next_cursor'])}"


def search_on(page: Page) -> None:
    """Follow "Load more" / "Search further" to the log's end (a filtered load stops after 5 calls)."""
    more = page.get_by_role("button", name=re.compile(r"^(Load more|Search further)$"))
    for _ in range(40):
        if not more.is_visible():
            return
        more.click()
        expect(more).not_to_have_attribute("data-loading", "true", timeout=30_000)
    raise AssertionError("the log did not end within 40 loads")


def test_an_admin_filters_by_their_actions_opens_an_entry_and_verifies_the_chain(
    stack: Stack, open_page: Callable[[str], Watched], capsys: pytest.CaptureFixture[str]
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    failures: dict[str, object] = {}

    # an account made admin as an operator does; its own actions: two requests for a new verification mail
    email, password = account(stack.url, stack.state_file, plan="enterprise", roles=("user",))
    capsys.readouterr()
    assert admin.main(["--email", email, "--state-file", str(stack.state_file), "--operator", "e2e@web-audit"]) == 0
    actor = f"user:{json.loads(capsys.readouterr().out.strip().splitlines()[-1])['user_id']}"
    headers = login_headers(stack, email, password)
    for _ in range(2):
        status, body, _ = request("POST", f"{stack.url}/auth/verify-email/send", {}, headers=headers)
        assert status < 500, body
    mine = entries_of(stack, headers, f"actor={quote(actor)}")
    assert len(mine) == 2 and {e["action"] for e in mine} == {"auth.verify_email.send"}, mine

    watched = open_page("desktop")
    page: Page = watched.page
    page.goto(f"{stack.url}/app/account")
    page.get_by_label("Email").fill(email)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_test_id("signed-in-user")).to_have_text(email)
    expect(page.get_by_text("No bookings this period.")).to_be_visible()  # GET /billing/usage answered

    # the whole log first, then only this admin's own actions through the filter form: the URL holds the filter
    page.get_by_role("navigation").get_by_role("link", name="Audit").click()
    rows = page.get_by_label("Audit log entries").locator("tbody tr")
    expect(rows.first).to_be_visible()
    page.get_by_role("textbox", name="Actor").fill(actor)
    page.get_by_role("button", name="Apply filters").click()
    expect(page).to_have_url(re.compile(rf"/app/audit\?actor={re.escape(quote(actor, safe=''))}$"))
    count = page.get_by_test_id("audit-count")
    expect(count).to_contain_text("match")
    search_on(page)  # a long shared log: one load reads at most 25,000 entries
    expect(count).to_contain_text("2 entries match")
    expect(count).to_contain_text("the end of the log")
    expect(rows).to_have_count(2)
    for i in range(2):
        expect(rows.nth(i).locator("td").nth(2)).to_have_text(actor)
        expect(rows.nth(i).locator("td").nth(1)).to_have_text("auth.verify_email.send")
    check(watched, "audit-filtered", failures)

    # the back button and a reload keep the state: Clear, back, reload
    page.get_by_role("button", name="Clear").click()
    expect(page).to_have_url(re.compile(r"/app/audit$"))
    expect(page.get_by_test_id("audit-count")).not_to_contain_text("match")
    page.go_back()
    expect(page).to_have_url(re.compile(r"actor="))
    expect(page.get_by_role("textbox", name="Actor")).to_have_value(actor)
    expect(page.get_by_test_id("audit-count")).to_contain_text("match")
    search_on(page)
    expect(rows).to_have_count(2)
    page.reload()
    expect(page.get_by_test_id("audit-count")).to_contain_text("match")
    search_on(page)
    expect(rows).to_have_count(2)

    # an entry's every field in a drawer; from it, the entries of its request (the correlation id)
    rows.first.get_by_role("button").click()
    dialog = page.get_by_role("dialog")
    detail = dialog.get_by_test_id("audit-entry-detail")
    expect(detail).to_be_visible()
    shown = next(e for e in mine if e["request_id"] and e["request_id"] in detail.inner_text())
    for value in (shown["hash"], shown["prev_hash"], shown["request_id"], shown["ts"], shown["resource"], actor):
        expect(detail).to_contain_text(value)
    expect(dialog).to_contain_text(f"Audit entry {shown['shard']}:{shown['seq']}")
    assert len(HEX64.findall(detail.inner_text())) >= 2  # the hash and the previous hash
    check(watched, "audit-detail", failures)
    dialog.get_by_role("button", name="This request's entries").click()
    expect(dialog).to_have_count(0)
    expect(page).to_have_url(re.compile(rf"request_id={re.escape(quote(shown['request_id'], safe=''))}"))
    expect(page.get_by_test_id("audit-count")).to_contain_text("match")
    search_on(page)
    expect(rows).to_have_count(1)
    expect(page.get_by_role("textbox", name="Request id")).to_have_value(shown["request_id"])
    page.go_back()
    expect(page.get_by_test_id("audit-count")).to_contain_text("match")
    search_on(page)
    expect(rows).to_have_count(2)

    # verify the chain: the shared stack's log is intact; the report per shard
    page.get_by_role("button", name="Verify the chain").click()
    report = page.get_by_test_id("verify-report")
    expect(report).to_be_visible(timeout=60_000)
    expect(report).to_contain_text("The chain is intact")
    expect(report).to_contain_text("8 shards")
    expect(page.get_by_label("Verification per shard").locator("tbody tr")).to_have_count(8)
    check(watched, "audit-verify", failures)

    # from genesis, every entry: this admin's own entries are among those verified
    page.get_by_role("combobox", name="Verify").select_option("genesis")
    page.get_by_role("button", name="Verify the chain").click()
    expect(report).to_contain_text("from genesis", timeout=60_000)
    expect(report).to_contain_text("The chain is intact")
    assert not watched.problems, watched.problems
    assert not failures, json.dumps(failures, indent=1)


def test_a_refused_verification_and_a_429_are_said_as_such(
    stack: Stack, open_page: Callable[[str], Watched], capsys: pytest.CaptureFixture[str]
) -> None:
    """GET /audit/verify answering 403 (the admin role revoked since sign-in) and 429: the status, the code and
    the message; the 429 counts down to its Retry-After. Both answers are the test's own (routed)."""
    email, password = account(stack.url, stack.state_file, plan="enterprise", roles=("user",))
    assert admin.main(["--email", email, "--state-file", str(stack.state_file), "--operator", "e2e@web-audit"]) == 0
    capsys.readouterr()
    watched = open_page("mobile")
    page = watched.page
    page.goto(f"{stack.url}/app/account")
    page.get_by_label("Email").fill(email)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_test_id("signed-in-user")).to_have_text(email)
    expect(page.get_by_text("No bookings this period.")).to_be_visible()  # GET /billing/usage answered
    page.goto(f"{stack.url}/app/audit?outcome=refused")
    page.get_by_role("button", name="Filters (1)").click()  # folded away at this width
    expect(page.get_by_role("combobox", name="Outcome")).to_have_value("refused")  # the URL's state in the form

    answers = iter([
        (403, {"error": {"code": "forbidden", "message": "admin role required", "details": None}}, {}),
        (429, {"error": {"code": "rate_limited", "message": "slow down", "details": None}}, {"Retry-After": "3"}),
    ])  # fmt: skip

    def refuse(route: Route) -> None:
        status, body, extra = next(answers)
        route.fulfill(status=status, json=body, headers=extra)

    page.route("**/audit/verify*", refuse)
    verify = page.get_by_role("button", name="Verify the chain")
    verify.click()
    alert = page.get_by_role("alert").filter(has_text="refused")
    expect(alert).to_contain_text("The verification was refused: 403 forbidden")
    expect(alert).to_contain_text("admin role required")
    page.screenshot(path=str(SHOTS / "audit-refused-mobile.png"), full_page=True)
    verify.click()
    limited = page.get_by_role("alert").filter(has_text="Too many requests")
    expect(limited).to_contain_text("retry in")
    expect(limited.get_by_role("button", name="Retry")).to_be_disabled()
    expect(limited.get_by_role("button", name="Retry")).to_be_enabled(timeout=10_000)
    # the routed answers (and the browser's console line for each) are the only failures: nothing else went wrong
    others = [p for p in watched.problems if "/audit/verify" not in p and "Failed to load resource" not in p]
    assert others == [], watched.problems
