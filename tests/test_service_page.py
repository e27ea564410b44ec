"""The page in a real browser: headless Chromium from the system packages, driven by Playwright.

Type a question, see results, apply a facet, open an object with its columns and lineage picture,
follow the lineage; the phone layout; search with JavaScript off; the key asked once. Screenshots
go to KV_SCREENSHOTS (a directory) when set, else to the test's tmp_path.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from tests.mini_org import REVENUE_QUESTION, REVENUE_TABLE, TRANSFORMATION
from tests.service_fixtures import *  # noqa: F403
from tests.service_fixtures import start_service, wait_ready

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no system Chromium (apt-get install -y chromium); "
                                "the page test never downloads a browser")
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True)
        except sync_api.Error as error:  # installed but cannot start here (missing libraries, no /dev/shm)
            pytest.skip(f"system Chromium at {CHROMIUM} does not start: {str(error).splitlines()[0]}")
        yield chromium
        chromium.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    target = Path(os.environ.get("KV_SCREENSHOTS") or tmp_path)
    target.mkdir(parents=True, exist_ok=True)
    return target


PHONE_WIDTH = 390


def _no_horizontal_overflow(page: Any, width: int = PHONE_WIDTH) -> bool:
    """Neither the page nor a result card, heading or table reaches past the screen's width (a
    mobile browser widens its layout viewport to the content, so window.innerWidth would follow)."""
    return page.evaluate("""(width) => document.documentElement.scrollWidth <= width + 1 &&
        [...document.querySelectorAll('.hit, .summary, h1, .facts, .columns')]
            .every(e => e.getBoundingClientRect().right <= width + 1)""", width)


def test_type_a_question_filter_open_object_and_follow_lineage(browser: Any, service_url: str, shots: Path) -> None:
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(service_url + "/")
    page.locator("#q").type(REVENUE_QUESTION, delay=5)
    # Results follow the box as you type (no submit): the first hit answers the question.
    first = page.locator(".hit").first
    first.wait_for()
    page.wait_for_function("document.querySelector('.hit') && "
                           f"document.querySelector('.hit').dataset.id === {REVENUE_TABLE!r}")
    assert "q=" in page.url  # the address is the search: shareable
    assert page.locator(".hit .matched").first.inner_text().startswith("matched on")
    assert page.locator(".hit a.ui").first.get_attribute("href").startswith("https://connection.keboola.com/")
    page.screenshot(path=str(shots / "search-laptop.png"), full_page=True)

    kinds_before = set(page.locator(".hit").evaluate_all("els => els.map(e => e.querySelector('.kind').textContent)"))
    assert len(kinds_before) > 1
    page.locator(".facet[data-facet=kind] a[data-value=table]").click()
    page.wait_for_url("**kind=table**")
    kinds = page.locator(".hit .kind").all_inner_texts()
    assert kinds and set(kinds) == {"table"}
    assert page.locator(".chip").first.inner_text().startswith("kind: table")
    page.screenshot(path=str(shots / "search-facet.png"), full_page=True)

    page.locator(f".hit[data-id='{REVENUE_TABLE}'] a.name").click()
    page.wait_for_selector("article.object")
    assert unquote(page.url).split("?")[0].endswith("/object/" + REVENUE_TABLE)
    column_names = page.locator(".columns tbody td code").all_inner_texts()
    assert "revenue_czk" in column_names
    svg = page.locator("svg.lineage")
    assert svg.count() == 1
    node_texts = svg.locator("text.name").all_text_contents()
    assert "daily_revenue" in node_texts and any("Daily revenue" in t for t in node_texts)
    page.screenshot(path=str(shots / "object-laptop.png"), full_page=True)

    # A node of the picture is a link to that object.
    page.locator(f"svg.lineage a[href='/object/{TRANSFORMATION}']").click()
    page.wait_for_url(f"**/object/{TRANSFORMATION}**")
    assert page.locator("article.object").get_attribute("data-id") == TRANSFORMATION
    own = [u for u in requests if not u.startswith(service_url)]
    assert own == [], f"the page loaded something from elsewhere: {own[:3]}"
    page.close()


def test_phone_layout_has_no_sideways_scroll(browser: Any, service_url: str, shots: Path) -> None:
    phone = browser.new_context(viewport={"width": PHONE_WIDTH, "height": 844}, is_mobile=True, has_touch=True)
    page = phone.new_page()
    page.goto(service_url + "/?q=" + REVENUE_QUESTION.replace(" ", "+"))
    page.locator(".hit").first.wait_for()
    assert _no_horizontal_overflow(page)
    box = page.locator("#q").bounding_box()
    assert box is not None and box["width"] > 250  # the search box spans the phone's width
    page.screenshot(path=str(shots / "search-phone.png"))
    page.goto(service_url + "/object/" + REVENUE_TABLE)
    page.locator("svg.lineage").wait_for()
    assert _no_horizontal_overflow(page)  # the wide picture scrolls inside its box, not the page
    page.screenshot(path=str(shots / "object-phone.png"), full_page=True)
    phone.close()


def test_search_works_without_javascript(browser: Any, service_url: str) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(service_url + "/")
    page.fill("#q", REVENUE_QUESTION)
    page.press("#q", "Enter")  # a plain GET form
    page.wait_for_url("**q=**")
    assert page.locator(".hit").first.get_attribute("data-id") == REVENUE_TABLE
    page.locator(".facet[data-facet=kind] a[data-value=column]").click()
    assert set(page.locator(".hit .kind").all_inner_texts()) == {"column"}
    context.close()


def test_with_a_key_the_page_asks_once(browser: Any, service_index: Path, embedder: Any, tmp_path: Path) -> None:
    root = tmp_path / "qdrant"
    shutil.copytree(service_index, root)
    with start_service(root, embedder, api_key="page-key-123") as (url, _engine):
        wait_ready(url)
        context = browser.new_context()
        page = context.new_page()
        page.goto(url + "/?q=bakery")
        assert page.locator("#key").count() == 1 and page.locator(".hit").count() == 0
        page.fill("#key", "not-the-key")
        page.press("#key", "Enter")
        page.wait_for_selector(".keyform .error")
        page.fill("#key", "page-key-123")
        page.press("#key", "Enter")
        page.locator(".hit").first.wait_for()
        assert "q=bakery" in page.url
        page.goto(url + "/?q=weather")  # asked once: the browser keeps it
        page.locator(".hit").first.wait_for()
        assert page.locator("#key").count() == 0
        context.close()
