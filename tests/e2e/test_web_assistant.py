"""The assistant in the web app, in a real browser (the same Chromium, fixtures and checks as test_web.py): the chat
panel answers a described workload with recommendation cards whose Book Now opens the offer's page (the panel makes
way); "analyse my current search" on the Offers page uses that page's filters and visible offers; each new page at
1280x800 and 390x844 without console error, failed request or serious axe violation, with a screenshot. The
signed-in path from a card to a paid booking is tests/e2e/test_web_journey.py."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.e2e import test_web
from tests.e2e.conftest import Stack
from tests.e2e.test_web import SHOTS, VIEWPORTS, Watched, axe_violations

# test_web.py's fixtures: the one Chromium and its watched pages
browser = test_web.browser
open_page = test_web.open_page

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("stack")]


def ask(page: Page, message: str) -> None:
    box = page.get_by_role("textbox", name="Message to the assistant")
    box.fill(message)
    box.press("Enter")


def open_chat(page: Page) -> None:
    page.get_by_role("button", name=re.compile("^Open the AI assistant")).click()
    expect(page.get_by_role("dialog", name="AI assistant")).to_be_visible()


def test_chat_recommends_and_book_now_opens_the_offer(stack: Stack, open_page: Callable[[str], Watched]) -> None:
    watched = open_page("desktop")
    page = watched.page
    page.goto(f"{stack.url}/app/")
    open_chat(page)
    expect(page.get_by_role("textbox", name="Message to the assistant")).to_be_focused()  # focus moved into the panel
    ask(page, "Which GPU to fine-tune Llama 3 8B on 1M rows?")
    cards = page.get_by_test_id("chat-card")
    expect(cards.first).to_be_visible(timeout=20_000)
    expect(page.get_by_test_id("chat-assistant").first).to_contain_text("Estimate")
    page.get_by_role("heading", name="Dashboard").or_(page.locator("h1").first).first.wait_for()  # page still there
    page.screenshot(path=str(SHOTS / "chat-desktop.png"))
    offer_id = cards.first.get_attribute("data-offer-id")
    cards.first.get_by_role("link", name=re.compile("^Book now")).click()
    expect(page).to_have_url(f"{stack.url}/app/offers/{offer_id}?book=1")
    expect(page.get_by_text("Efficiency score")).to_be_visible()
    # the panel made way for the booking form (here "Sign in to book"); opened again, the conversation stays, and
    # Escape closes it
    expect(page.get_by_role("dialog", name="AI assistant")).to_be_hidden()
    open_chat(page)
    expect(page.get_by_test_id("chat-card").first).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog", name="AI assistant")).to_be_hidden()
    assert not watched.problems, watched.problems


def test_analyse_my_current_search_and_the_unread_badge(stack: Stack, open_page: Callable[[str], Watched]) -> None:
    watched = open_page("mobile")
    page = watched.page
    page.goto(f"{stack.url}/app/offers?gpu=H100")
    rows = page.locator("table[aria-label=Offers] tbody tr")
    rows.first.wait_for()
    _, answer = stack.get(f"{stack.url}/offers?gpu=H100&limit=1")
    open_chat(page)
    ask(page, "Analyse my current search")
    reply = page.get_by_test_id("chat-assistant").last
    expect(reply).to_contain_text(f"match {answer['count']} live offer", timeout=20_000)
    expect(reply.get_by_test_id("chat-card").first).to_be_visible()
    page.screenshot(path=str(SHOTS / "chat-mobile.png"))
    assert page.evaluate("() => document.querySelector('.chat-panel').getBoundingClientRect().width") == 390
    # a reply arriving while the panel is closed raises the badge; opening reads it
    box = page.get_by_role("textbox", name="Message to the assistant")
    box.fill("Help")
    # sent, then closed in the same task: the reply cannot land before the panel closes
    box.evaluate(
        "el => ['Enter', 'Escape'].forEach((key) =>"
        " el.dispatchEvent(new KeyboardEvent('keydown', {key, bubbles: true})))"
    )
    launcher = page.get_by_role("button", name=re.compile("^Open the AI assistant"))
    expect(launcher).to_have_accessible_name("Open the AI assistant (1 unread)", timeout=20_000)
    launcher.click()
    expect(page.get_by_role("button", name="Open the AI assistant")).to_have_count(0)
    violations = axe_violations(page)
    assert not violations, json.dumps(violations, indent=1)
    # full screen: following a card's Book Now closes the panel so the offer's page shows
    page.get_by_test_id("chat-card").first.get_by_role("link", name=re.compile("^Book now")).click()
    expect(page.get_by_role("dialog", name="AI assistant")).to_be_hidden()
    expect(page).to_have_url(re.compile(r"/app/offers/[a-z0-9-]+\?book=1$"))
    expect(page.get_by_text("Efficiency score")).to_be_visible()
    assert not watched.problems, watched.problems


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_the_open_panel_is_clean_and_accessible(
    stack: Stack, open_page: Callable[[str], Watched], viewport: str
) -> None:
    watched = open_page(viewport)
    page = watched.page
    page.goto(f"{stack.url}/app/offers")
    page.locator("table[aria-label=Offers] tbody tr").first.wait_for()
    open_chat(page)
    page.get_by_role("dialog").get_by_role("link").first.wait_for()  # the template quick actions
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(SHOTS / f"chat-open-{viewport}.png"))
    violations = axe_violations(page)
    assert not violations and not watched.problems, json.dumps({"axe": violations, "problems": watched.problems})


def test_planner_wizard_and_free_text_give_a_table(stack: Stack, open_page: Callable[[str], Watched]) -> None:
    watched = open_page("desktop")
    page = watched.page
    page.goto(f"{stack.url}/app/planner?template=llm-inference")
    form = page.get_by_role("form", name="LLM inference questions")
    expect(form.get_by_label("Question 1 of 10")).to_be_visible()
    model = form.get_by_role("combobox", name="Which model do you want to serve?")
    expect(model).to_have_value("Llama 3.1 8B")  # the template's default
    form.get_by_role("button", name="Next").click()
    expect(form.get_by_text("Question 2 of 10")).to_be_visible()
    form.get_by_role("button", name="Estimate (the rest at defaults)").click()
    table = page.get_by_role("table", name="GPUs that fit")
    expect(table.locator("tbody tr").first).to_be_visible(timeout=20_000)
    expect(table.locator("tbody tr").first).to_contain_text(re.compile(r"\$"))
    # free text: what was understood, then the same table
    page.get_by_role("button", name="Free text").click()
    expect(page).to_have_url(f"{stack.url}/app/planner")
    page.get_by_role("textbox", name="Describe your workload").fill("fine-tune Llama 3 8B with LoRA on 1M rows")
    page.get_by_role("button", name="Estimate", exact=True).click()
    expect(page.get_by_role("region", name="What was understood")).to_contain_text("model", timeout=20_000)
    expect(page.get_by_role("table", name="GPUs that fit").locator("tbody tr").first).to_be_visible(timeout=20_000)
    page.screenshot(path=str(SHOTS / "planner-result-desktop.png"), full_page=True)
    assert not watched.problems, watched.problems


def test_compare_two_offers_chosen_on_the_offers_page(stack: Stack, open_page: Callable[[str], Watched]) -> None:
    watched = open_page("desktop")
    page = watched.page
    page.goto(f"{stack.url}/app/offers?gpu=H100")
    rows = page.locator("table[aria-label=Offers] tbody tr")
    rows.first.wait_for()
    ids = [rows.nth(i).get_attribute("data-offer-id") for i in range(2)]
    for i in range(2):
        rows.nth(i).get_by_role("checkbox").check()
    page.get_by_role("link", name="Compare (2/4)").click()
    expect(page).to_have_url(f"{stack.url}/app/compare?id={ids[0]}&id={ids[1]}")
    table = page.get_by_role("table", name="Offers compared")
    expect(table.locator("thead th[data-offer-id]")).to_have_count(2)
    scores = page.get_by_test_id("compare-score")
    expect(scores.first).to_contain_text(re.compile(r"0\.\d{3}"), timeout=20_000)
    expect(table).to_contain_text("Price per GPU-hour")
    assert page.get_by_text("#1", exact=True).count() == 1  # one offer ranked first
    assert not watched.problems, watched.problems


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_the_new_pages_are_clean_and_accessible(
    stack: Stack, open_page: Callable[[str], Watched], viewport: str
) -> None:
    _, found = stack.get(f"{stack.url}/offers?gpu=H100&limit=2")
    ids = [o["offer_id"] for o in found["items"]]
    pages = {
        "planner-wizard": ("/app/planner?template=model-training", "text=Question 1 of"),
        "compare": (f"/app/compare?id={ids[0]}&id={ids[1]}", "[data-testid=compare-score] >> text=#"),
    }
    failures: dict[str, object] = {}
    for name, (path, ready) in pages.items():
        watched = open_page(viewport)
        page = watched.page
        page.goto(f"{stack.url}{path}")
        page.locator(ready).first.wait_for(timeout=30_000)
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(SHOTS / f"{name}-{viewport}.png"), full_page=True)
        violations = axe_violations(page)
        if violations or watched.problems:
            failures[name] = {"axe": violations, "problems": watched.problems}
        page.close()
    assert not failures, json.dumps(failures, indent=1)
