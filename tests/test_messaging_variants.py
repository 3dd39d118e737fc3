"""Buyer Messages in each generation the sandbox serves: real Chromium, the bot's own launch.

Messaging v3 is a single-page app whose list and threads live in open shadow roots, drawn
only in a window at least 1600 px wide, unmounted after a cold deep link, and whose Send
changes the page without loading another; the legacy inbox is the older server-drawn one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from rpa.browser.chromium import KeptBrowser
from rpa.ledger import Ledger
from rpa.practice.sandbox.scenario import SCENARIO_DIR
from rpa.run.orchestrator import run
from rpa.seller_central.messages import _on_site, inbox_view
from tests.conftest import Sandbox
from tests.console_server import launch_browser
from tests.test_buyer_messages import EXPECTED, REPLIES, messages_config, replies_by_thread

INBOX = "/messaging/inbox-v3?fi=responseNeeded"
ROWS = "kat-table-body kat-table-row"  # the sandbox's v3 rows, inside the app's shadow root


def healthy_v3(tmp_path: Path, **messaging: Any) -> str:
    """``healthy`` (two threads waiting, one answered) with v3 settings changed."""
    data = yaml.safe_load((SCENARIO_DIR / "healthy.yaml").read_text())
    data["messaging"] = {"inbox": "v3", **messaging}
    path = tmp_path / "healthy-v3.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def failed_steps(result: Any) -> list[str]:
    return [f"{s['name']}: {s['error']}" for flow in result.data["flows"].values()
            for s in flow["steps"] if s["outcome"] == "failed"]


@pytest.fixture()
def person(sandbox: Sandbox, kept_browser: KeptBrowser,
           tmp_path: Path) -> Iterator[Callable[[], Any]]:
    """Opens a page signed in to the sandbox's current scenario as a person's browser would
    be (not the bot's): its window starts 1280 px wide, as the bot's did before it asked
    for more."""
    browser = launch_browser(kept_browser.playwright())

    def new_page() -> Any:
        state = tmp_path / "person.json"
        sandbox.saved_state(state)  # a session of the scenario the sandbox serves now
        context = browser.new_context(storage_state=str(state),
                                      viewport={"width": 1280, "height": 900})
        context.set_default_timeout(10_000)
        return context.new_page()

    try:
        yield new_page
    finally:
        browser.close()


def test_a_cold_deep_link_shows_only_the_navigation_and_the_bot_enters_by_the_home_link(
        sandbox: Sandbox, make_config: Any, person: Callable[[], Any], tmp_path: Path) -> None:
    sandbox.reset(healthy_v3(tmp_path))
    page = person()
    page.set_viewport_size({"width": 1700, "height": 1000})
    page.goto(sandbox.url + INBOX)  # the tab's first page: a cold deep link
    page.wait_for_load_state("networkidle")
    assert page.locator("#sc-navbar").is_visible()
    assert page.get_by_role("link", name="Response needed", exact=True).count() == 0
    assert page.locator(ROWS).count() == 0
    assert sandbox.state()["counters"]["messaging_data_served"] == 0, "the app never asked"

    page.goto(sandbox.url + "/home")
    page.get_by_role("link", name="Messages", exact=True).click()  # the page's own link
    page.locator(ROWS).first.wait_for()
    assert page.locator(ROWS).count() == 2
    page.goto(sandbox.url + INBOX)  # once entered in this tab, the address itself works
    page.locator(ROWS).first.wait_for()

    result = run(make_config(signed_in=True, flows=["buyer_messages"], replies=REPLIES))
    assert result.status == "ok", result.data["errors"]
    assert {t["thread_id"]: t["sent"] for t in result.data["threads"]} == {
        "T-1001": True, "T-1002": True}
    assert failed_steps(result) == []


def test_below_1600_px_the_list_is_not_drawn_and_the_bot_reads_it_through_shadow_roots(
        sandbox: Sandbox, make_config: Any, person: Callable[[], Any]) -> None:
    sandbox.reset("messages")
    page = person()  # 1280 px wide
    page.goto(sandbox.url + "/home")
    page.get_by_role("link", name="Messages", exact=True).click()
    page.get_by_role("link", name="Response needed", exact=True).wait_for()  # the app's nav
    page.get_by_role("group", name="Metrics").get_by_text("14").wait_for()
    assert page.locator(ROWS).count() == 0, "a window narrower than 1600 px draws no list"
    page.set_viewport_size({"width": 1600, "height": 1000})
    page.locator(ROWS).first.wait_for()
    assert page.locator(ROWS).count() == 10
    # the rows live in shadow roots: the document's own queries see none of them
    assert page.evaluate("document.querySelectorAll('kat-table-row').length") == 0
    assert page.evaluate("document.body.innerText").count("Olivia Brown") == 0

    result = run(messages_config(sandbox, make_config))  # the bot's own launch and window
    assert result.status == "ok", result.data["errors"]
    assert {t["thread_id"]: t["decision"] for t in result.data["threads"]} == EXPECTED
    assert failed_steps(result) == []


def test_a_send_that_changes_only_the_page_is_recorded_as_sent_once(
        sandbox: Sandbox, make_config: Any, tmp_path: Path) -> None:
    sandbox.reset(healthy_v3(tmp_path, render_ms=1200))  # a slow first paint, every page
    cfg = make_config(signed_in=True, flows=["buyer_messages"], replies=REPLIES)
    result = run(cfg)
    assert result.status == "ok", result.data["errors"]
    assert failed_steps(result) == [], "no wait for a page load that never comes"
    state = sandbox.state()
    assert [(r["thread_id"], r["via"]) for r in state["replies"]] == [
        ("T-1001", "app"), ("T-1002", "app")], "sent by the app, the page staying"
    assert state["counters"]["thread_pages_served"] == 2, "each thread loaded once, no reload"
    assert all(t["sent"] for t in result.data["threads"])
    ledger = Ledger(Path(cfg.paths.state_dir) / "ledger.sqlite")
    try:
        assert {r["thread_id"]: r["state"] for r in ledger.threads("test")} == {
            "T-1001": "sent", "T-1002": "sent"}
    finally:
        ledger.close()

    again = run(cfg)
    assert again.status == "ok", again.data["errors"]
    assert sandbox.state()["replies"] == state["replies"], "a rerun answers nobody again"


def test_the_legacy_inbox_still_works(sandbox: Sandbox, make_config: Any) -> None:
    sandbox.reset("messages-legacy")
    cfg = make_config(signed_in=True, flows=["buyer_messages"], replies=REPLIES)
    result = run(cfg)
    assert result.status == "ok", result.data["errors"]
    assert {t["thread_id"]: t["decision"] for t in result.data["threads"]} == EXPECTED
    state = sandbox.state()
    sent = replies_by_thread(sandbox)
    assert all(len(texts) == 1 for texts in sent.values())
    assert {r["via"] for r in state["replies"]} == {"form"}
    assert [(r["thread_id"], r["via"]) for r in state["no_response"]] == [("M-06", "form")]
    assert state["buyer_messages"] == 0
    again = run(cfg)
    assert again.status == "ok", again.data["errors"]
    assert sandbox.state()["replies"] == state["replies"]


class _Site:
    base = "https://sellercentral.amazon.com"


def test_the_inbox_view_and_the_messaging_link_are_read_from_addresses() -> None:
    assert inbox_view("https://x/messaging/inbox-v3?fi=responseNeeded&page=2") == \
        "responseneeded"
    assert inbox_view("https://x/messaging/inbox-v3?fi=RESPONSE_NEEDED") == "responseneeded"
    assert inbox_view("https://x/messaging/inbox-v3") == ""
    here = "https://sellercentral.amazon.com/home"
    site: Any = _Site()
    assert _on_site(site, here, "/messaging/inbox-v3?fi=responseNeeded")
    assert _on_site(site, here, "https://sellercentral.amazon.com/messaging/inbox")
    assert not _on_site(site, here, "https://sellercentral-europe.amazon.com/messaging/inbox")
    assert not _on_site(site, here, "//evil.example/messaging/inbox")
    assert not _on_site(site, here, None) and not _on_site(site, here, "")
