"""When a page changed: the run leaves the page's snapshots (scrubbed of buyer data), a
person teaches the key by clicking the element, and the next run reads the figure.

Real Chromium against the sandbox's ``page-changed`` scenario (the home page's Unshipped
figure, the Late Shipment Rate row of Account Health and the message list renamed); the
clicks go through the page's listener and binding as a person's do (Playwright clicks in
the page). Also: a candidate finding two elements is refused, an element inside an open
shadow root is taught, the guarded browser sends no reply, and the overlay's keys are
checked before any browser starts.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.sync_api import Page

from rpa.browser import overlay
from rpa.browser.chromium import KeptBrowser
from rpa.browser.pointing import Pointer, derive, verify
from rpa.browser.readonly import ReadOnly
from rpa.browser.selectors import Selectors
from rpa.config import BrowserConfig
from rpa.console.runs import run_detail
from rpa.errors import ConfigError
from rpa.practice.receiver import Receiver
from rpa.run.orchestrator import run
from rpa.seller_central.teach import Proposal
from tests.conftest import Sandbox

# What the page-changed scenario seeds that no snapshot may hold.
BUYER_DATA = ("Rosalind Okafor", "Tobias Lindqvist", "114-5829301-7741200",
              "113-0981264-5573310", "rosalind.okafor@example.net", "gift wrap, please")


def _config(make_config: Any, tmp_path: Path, flows: list[str]) -> Any:
    return make_config(signed_in=True, flows=flows, retries={"attempts": 1},
                       paths={"state_dir": str(tmp_path / "state"),
                              "recordings_dir": str(tmp_path / "recordings"),
                              "selectors_overlay": str(tmp_path / "selectors.local.yaml")})


def _click(selector: str) -> Callable[[Page], None]:
    """A person clicking the element ``selector`` finds, as Playwright clicks."""
    return lambda page: page.locator(selector).click()


def _until(value: str, answers: list[Proposal]) -> Callable[[Proposal], str]:
    """Write once ``value`` is the first candidate kept; else take the element around."""
    def decide(proposal: Proposal) -> str:
        answers.append(proposal)
        return "write" if proposal.kept and proposal.kept[0].value == value else "up"
    return decide


def test_a_changed_page_is_kept_as_snapshots_then_taught_and_read_again(
        sandbox: Sandbox, make_config: Any, tmp_path: Path, receiver: Receiver) -> None:
    sandbox.reset("page-changed")
    cfg = _config(make_config, tmp_path, ["login", "dashboard", "performance", "buyer_messages"])
    first = run(cfg)
    obs = first.data["observations"]
    # the home figure is read by its label, the renamed row is reported not read, the
    # message list is not found: each page leaves its snapshot
    assert obs["read_by"]["unshipped"] == "label" and obs["unshipped"] == 2
    late = next(a for a in obs["performance"]["areas"] if a["name"] == "Late Shipment Rate")
    assert "no selector of health.metric_row finds its row" in late["not_read"]["row"]
    assert first.data["flows"]["buyer_messages"]["status"] == "failed"
    kept = {k["page"]: k for k in obs["page_snapshots"]}
    assert set(kept) == {"/home", "/performance/account/health", "/messaging/inbox-v3"}
    files = [first.folder / f for k in kept.values() for f in k["files"]]
    assert sorted(f.suffix for f in files) == [".html"] * 3 + [".yml"] * 3
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        text = path.read_text()
        for seeded in BUYER_DATA:
            assert seeded not in text, (seeded, path)
    inbox_html = (first.folder / kept["/messaging/inbox-v3"]["files"][1]).read_text()
    inbox_aria = (first.folder / kept["/messaging/inbox-v3"]["files"][0]).read_text()
    # the rows were there, their buyer data replaced: the structure a reviewer needs stays
    assert inbox_html.count('thread-buyername">[buyer name]<') == 2
    assert inbox_html.count("[order id]") >= 2 and "[message]" in inbox_html
    assert 'id="message-threads"' in inbox_html and "<script" not in inbox_html
    assert inbox_aria.count('link "[subject]"') == 2
    assert inbox_aria.count("text: [buyer name] [order id]") == 2
    health_html = (first.folder / kept["/performance/account/health"]["files"][1]).read_text()
    assert 'id="shipping-late-shipment-rate-row-v2"' in health_html
    report = (first.folder / "report.html").read_text()
    assert all(f in report for k in kept.values() for f in k["files"])
    shown = run_detail(tmp_path / "recordings", first.folder.name)  # the console's run page
    assert shown is not None and {k["page"] for k in shown["snapshots"]} == set(kept)
    assert all(f["url"].startswith(f"/recordings/{first.folder.name}/screenshots/")
               for k in shown["snapshots"] for f in k["files"])

    # the VA teaches both keys: a click on the figure; a click on the metric's name, then
    # the element around it until the box holds the row
    answers: list[Proposal] = []
    taught = run(cfg, flows=["teach"], params={
        "key": "home.unshipped_count", "person": _click("#unshipped-orders-count"),
        "decide": _until("#unshipped-orders-count", answers), "wait_s": 20})
    assert taught.status == "ok", taught.data["errors"]
    assert answers[0].found_now and not any(n for _, n in answers[0].found_now)
    rows: list[Proposal] = []
    taught = run(cfg, flows=["teach"], params={
        "key": "health.metric_row",
        "person": _click("#shipping-late-shipment-rate-row-v2 .a-text-bold"),
        "decide": _until("#shipping-late-shipment-rate-row-v2", rows), "wait_s": 20})
    assert taught.status == "ok", taught.data["errors"]
    # the word clicked, then its column, hold less than a row does: refused, until the
    # row is taken, found by its id and as one of the section's rows
    assert len(rows) == 3 and rows[0].kept == rows[1].kept == []
    assert rows[1].refused[0][1] == (
        "a row holds health.metric_name, health.metric_target, health.metric_value; the "
        "element holds none of them: take the element around it")
    assert rows[-1].rows_too == [
        "css='#shipping-performance-section div.a-row.a-spacing-small.sp-metric-row'"]
    assert [c.describe() for c in rows[-1].kept] == [
        "css='#shipping-late-shipment-rate-row-v2'",
        "css='#shipping-performance-section div.a-row.a-spacing-small.sp-metric-row'"]
    # the message list: a buyer's name clicked, then the elements around it up to the row,
    # found as one of the list's rows; the words of a row are buyer data: never a candidate
    threads: list[Proposal] = []
    taught = run(cfg, flows=["teach"], params={
        "key": "inbox.thread_row", "person": _click(".thread-buyername >> nth=0"),
        "decide": _until("#message-threads div.thread-row", threads), "wait_s": 20})
    assert taught.status == "ok", taught.data["errors"]
    refused = {c.describe(): why for p in threads for c, why in p.refused}
    assert refused["text='[buyer name]'"].startswith("made of buyer data")
    assert refused["role='link' name='[subject]'"].startswith("made of buyer data")
    assert "Rosalind" not in json.dumps(taught.data["observations"]["teach"])
    assert sandbox.state()["writes"] == [] and sandbox.state()["replies"] == []

    written = yaml.safe_load((tmp_path / "selectors.local.yaml").read_text())
    assert written["home.unshipped_count"]["candidates"] == [{"css": "#unshipped-orders-count"}]
    assert written["home.unshipped_count"]["page"] == "/home"
    assert written["health.metric_row"]["candidates"] == [
        {"css": "#shipping-late-shipment-rate-row-v2"},
        {"css": "#shipping-performance-section div.a-row.a-spacing-small.sp-metric-row"}]

    # the next run reads the figure by its taught selector, the row in full, the messages
    export = overlay.export(overlay.with_overlay(Selectors.load(), tmp_path /
                                                 "selectors.local.yaml"))
    assert not [seeded for seeded in BUYER_DATA if seeded in export]
    assert "#message-threads div.thread-row" in export and "[buyer name]" in export
    again = run(cfg)
    assert again.status == "ok", again.data["errors"]
    obs = again.data["observations"]
    assert obs["unshipped"] == 2 and "unshipped" not in (obs.get("read_by") or {})
    late = next(a for a in obs["performance"]["areas"] if a["name"] == "Late Shipment Rate")
    assert (late["value"], late["target"], late.get("not_read")) == ("5.2%", "< 4%", None)
    assert not obs.get("page_snapshots")
    # the owner heard of the row not read, then (a finding of its own) of its figures
    findings = [t for t in receiver.messages("sms") if "Seller Performance is Fair" in t]
    assert len(findings) == 2 and "Late Shipment Rate not read" in findings[0]
    assert "Late Shipment Rate 5.2% (target < 4%)" in findings[1]
    assert again.data["flows"]["buyer_messages"]["status"] == "ok"
    assert len(again.data["threads"]) == 2


# --- the pointer on pages set in place --------------------------------------------------
@pytest.fixture()
def page(kept_browser: KeptBrowser) -> Iterator[Page]:
    _, browser = kept_browser.get(BrowserConfig(), headed=False)
    context = browser.new_context()
    try:
        yield context.new_page()
    finally:
        context.close()


TWO_SAVES = """
<form action="/nowhere" method="post">
  <button id="save-draft" data-test="save" type="submit">Save</button>
  <button data-test="save" type="submit">Save</button>
</form>
<div id="host"></div>
<script>
  const root = document.getElementById("host").attachShadow({mode: "open"});
  root.innerHTML = '<span class="tile-value" data-testid="buyer-count">7</span>';
</script>
"""


def test_a_candidate_finding_two_elements_is_refused_and_a_shadow_element_is_found(
        page: Page) -> None:
    page.set_content(TWO_SAVES)
    pointer = Pointer(page)
    picked, element = pointer.wait(5000, _click("#save-draft"))
    checked = {c.describe(): verify(c, page) for c in derive(picked, element)}
    assert checked == {
        "css='#save-draft'": "",
        "css=\"button[data-test='save']\"": "finds 2 elements, not one",
        "role='button' name='Save'": "finds 2 elements, not one",
        "text='Save'": "finds 2 elements, not one",
    }
    # the click sent nothing: the form stayed, no navigation
    assert page.url == "about:blank"
    # inside an open shadow root: its stable attribute finds it; its digits are no name
    picked, element = pointer.wait(5000, lambda p: p.get_by_text("7").click())
    assert picked.in_shadow and picked.text == "7"
    found = derive(picked, element)
    assert [c.describe() for c in found] == ["css=\"span[data-testid='buyer-count']\""]
    assert verify(found[0], page) == ""


# --- the guarded browser -------------------------------------------------------------------
def _open_thread(page: Page, url: str, thread_id: str) -> Page:
    """Messaging as a person enters it (the home page's link: a cold deep link leaves the
    app unmounted), then the thread's own address, in the same tab."""
    page.goto(url + "/home")
    page.get_by_role("link", name="Messages", exact=True).click()
    page.get_by_role("link", name="Response needed", exact=True).wait_for()  # the app's nav
    page.goto(f"{url}/messaging/thread/{thread_id}")
    page.get_by_role("textbox", name="Reply", exact=True).wait_for()
    return page


def test_the_guarded_browser_sends_no_reply_whatever_is_clicked(
        sandbox: Sandbox, kept_browser: KeptBrowser, tmp_path: Path) -> None:
    sandbox.reset("healthy")
    state = tmp_path / "state.json"
    sandbox.saved_state(state)
    _, browser = kept_browser.get(BrowserConfig(), headed=False)
    context = browser.new_context(storage_state=str(state))
    try:
        guard = ReadOnly().install(context)
        page = _open_thread(context.new_page(), sandbox.url, "T-1001")
        page.get_by_role("textbox", name="Reply", exact=True).fill(
            "This must never reach the buyer.")
        page.get_by_role("button", name="Send", exact=True).click()
        page.get_by_role("alert").wait_for()  # the app's word that the reply did not go
    finally:
        context.close()
    after = sandbox.state()
    assert after["replies"] == [] and after["writes"] == []
    assert after["threads"]["T-1001"] == "response_needed"
    assert guard.stopped == [f"POST {sandbox.url.split('://')[1]}/messaging/thread/T-1001/reply"]
    # unguarded, the same click is a reply, and the sandbox records the write
    context = browser.new_context(storage_state=str(state))
    try:
        page = _open_thread(context.new_page(), sandbox.url, "T-1001")
        page.get_by_role("textbox", name="Reply", exact=True).fill("Sent without the guard.")
        page.get_by_role("button", name="Send", exact=True).click()
        page.get_by_role("status").wait_for()  # the app's word that the reply went
    finally:
        context.close()
    writes = sandbox.state()["writes"]
    assert [(w["method"], w["path"]) for w in writes] == [
        ("POST", "/messaging/thread/T-1001/reply")]


# --- the overlay's keys ------------------------------------------------------------------
def test_a_misspelt_overlay_key_is_refused_naming_the_closest_before_any_browser(
        tmp_path: Path, make_config: Any) -> None:
    local = tmp_path / "selectors.local.yaml"
    local.write_text(yaml.safe_dump({"home.unshiped_count": [{"css": "#x"}],
                                     "thread.send": [{"css": "#send-v2"}]}))
    with pytest.raises(ConfigError) as err:
        overlay.with_overlay(Selectors.load(), local)
    assert "home.unshiped_count (did you mean 'home.unshipped_count'?)" in str(err.value)
    assert "thread.send" not in str(err.value)
    cfg = _config(make_config, tmp_path, ["login", "dashboard"])
    with pytest.raises(ConfigError, match="did you mean 'home.unshipped_count'"):
        run(cfg)
    assert not (tmp_path / "recordings").exists()  # refused before any run began


def test_the_overlay_goes_first_and_diff_and_export_show_it(tmp_path: Path) -> None:
    local = tmp_path / "selectors.local.yaml"
    local.write_text(yaml.safe_dump({"thread.send": [{"css": "#send-v2"},
                                                     {"css": "#sendemail"}]}))
    overlay.save(local, "home.buyer_messages_count",
                 [Selectors.load().keys["home.buyer_messages_count"][0]],
                 page="/home", taught="2026-01-12T09:30:00+00:00",
                 element='- text: "[buyer name] wrote to jo@example.com"')
    assert stat.S_IMODE(local.stat().st_mode) == 0o600
    sel = overlay.with_overlay(Selectors.load(), local)
    send = [c.describe() for c in sel.keys["thread.send"]]
    assert send == ["css='#send-v2' (local)", "css='#sendemail' (local)",
                    "role='button' name='Send'"]
    lines = overlay.diff(sel)
    assert lines[lines.index("thread.send") + 2] == (
        "  + css='#sendemail'  (selectors.yaml has it too)")
    text = overlay.export(sel)
    assert "  send:  # edited by hand" in text and "    - css: '#send-v2'" in text
    assert "  buyer_messages_count:  # taught on /home, 2026-01-12T09:30:00+00:00" in text
    assert "jo@example.com" not in text and "[email]" in text
    assert yaml.safe_load(text)["thread"]["send"] == [{"css": "#send-v2"},
                                                      {"css": "#sendemail"}]
    # written by `rpa teach` and read back: the same candidates
    again = overlay.read(local, Selectors.load().keys)
    assert again["home.buyer_messages_count"].page == "/home"
    assert json.dumps(sorted(again)) == '["home.buyer_messages_count", "thread.send"]'
