"""Home-page variants end to end: real Chromium against the sandbox, texts to a real receiver.

One run per variant: a German modern page (Unshipped from Manage Orders, "Gefährdet"), a
Japanese classic page, an Open Orders card with its breakdown, a home page without the
Seller Performance widget, and a Seller Performance wording the bot does not know.
"""

from __future__ import annotations

import re
from typing import Any

from rpa.practice.receiver import Receiver
from rpa.run.orchestrator import run
from tests.conftest import Sandbox


def _step_names(result: Any, flow: str) -> list[str]:
    return [s["name"] for s in result.data["flows"][flow]["steps"]]


def _failing(sandbox: Sandbox) -> list[str]:
    return sorted(m.name for m in sandbox.server.scenario.metrics if m.status != "Good")


def test_german_modern_reads_1234_on_manage_orders_and_fair_areas(
        sandbox: Sandbox, make_config: Any, receiver: Receiver) -> None:
    sandbox.reset("de-modern")
    cfg = make_config(signed_in=True)
    # Left out, the language is read from the page; the marketplace would say the same.
    assert (cfg.accounts[0].language, cfg.accounts[0].marketplace_language) == ("auto", "de")
    result = run(cfg)
    assert result.status == "ok", result.data["errors"]
    obs = result.data["observations"]
    assert obs["language"] == {"code": "de", "from": 'page (<html lang="de-DE">)'}
    assert obs["unshipped"] == sandbox.server.scenario.unshipped_count == 1234
    assert obs["unshipped_from"] == "Manage Orders"  # the card shows only the total, 1.276
    assert obs["buyer_messages"] == 2 and obs["not_read"] == {}
    perf = obs["performance"]
    assert (perf["status"], perf["label"], perf["details_label"]) == (
        "fair", "Gefährdet", "Gefährdet")
    assert sorted(a["name"] for a in perf["areas"]) == _failing(sandbox) == [
        "Rate gültiger Sendungsverfolgungsnummern", "Rate verspäteter Lieferungen"]
    assert {a["status"] for a in perf["areas"]} == {"Mittel"}
    texts = receiver.messages("sms")
    assert len(texts) == 1 and re.match(rf"{perf['finding']}-[A-Z2-9]{{4}}: Seller Performance "
                                        "is Gefährdet: Rate", texts[0]), texts
    everything = " ".join(receiver.messages())
    assert "Rate gültiger Sendungsverfolgungsnummern" in everything
    assert "no area listed" not in everything

    # The same pages read as English (a wrong language setting): nothing is guessed.
    receiver.items.clear()
    cfg.accounts[0].language = "en"
    wrong = run(cfg)
    assert wrong.status == "ok", wrong.data["errors"]
    obs = wrong.data["observations"]
    assert obs["unshipped"] is None, "1.234 must never be read as 1 or 234"
    assert "'1.234'" in obs["not_read"]["unshipped"]
    assert obs["buyer_messages"] == 2
    assert obs["performance"] == {"status": "unknown", "label": "Gefährdet", "areas": []}
    assert "open performance details" not in " ".join(_step_names(wrong, "performance"))
    texts = receiver.messages("sms")
    assert len(texts) == 1 and "Unshipped not read" in texts[0]
    assert "Gefährdet" in " ".join(receiver.messages())


def test_japanese_classic_reads_2345_and_good(sandbox: Sandbox, make_config: Any,
                                              receiver: Receiver) -> None:
    sandbox.reset("ja-classic")
    cfg = make_config(signed_in=True)
    assert (cfg.accounts[0].language, cfg.accounts[0].marketplace_language) == ("auto", "ja")
    result = run(cfg)
    assert result.status == "ok", result.data["errors"]
    obs = result.data["observations"]
    assert (obs["unshipped"], obs["unshipped_from"]) == (2345, "home page")
    assert obs["performance"] == {"status": "good", "label": "良好", "areas": []}
    assert obs["buyer_messages"] == 1 and obs["not_read"] == {}
    assert _step_names(result, "performance") == [
        "Seller Performance is Good: nothing to report"]
    assert receiver.items == []


def test_open_orders_breakdown_gives_fbm_unshipped_not_the_total(
        sandbox: Sandbox, make_config: Any, receiver: Receiver) -> None:
    sandbox.reset("open-orders-breakdown")
    scenario = sandbox.server.scenario
    assert scenario.open_orders_total == 19
    result = run(make_config(signed_in=True), flows=["dashboard"])
    assert result.status == "ok", result.data["errors"]
    obs = result.data["observations"]
    assert (obs["unshipped"], obs["unshipped_from"]) == (4, "home page")
    assert obs["performance"]["status"] == "good" and obs["performance"]["label"] == "Healthy"
    assert obs["buyer_messages"] == 1
    assert receiver.items == []


def test_missing_performance_widget_keeps_the_other_figures(
        sandbox: Sandbox, make_config: Any, receiver: Receiver) -> None:
    sandbox.reset("no-performance-widget")
    cfg = make_config(signed_in=True, browser={"timeout_ms": 4000})
    result = run(cfg)
    assert result.status == "ok" and result.exit_code == 0, result.data["errors"]
    obs = result.data["observations"]
    assert obs["unshipped"] == 3 and obs["buyer_messages"] == 2
    assert obs["performance"] is None
    assert obs["not_read"] == {
        "performance": "the home page shows no Seller Performance widget"}
    assert result.data["flows"]["performance"]["status"] == "ok"
    assert _step_names(result, "performance") == [
        "Seller Performance was not read: details not opened"]
    texts = receiver.messages("sms")
    assert len(texts) == 1
    code = obs["home_page_finding"]
    assert re.sub(rf"^{code}-[A-Z2-9]{{4}}:", f"{code}:", texts[0]).startswith(
        f"{code}: Home page: Seller Performance not read (the home page "
        "shows no Seller Performance widget). Read: Unshipped 3, Buyer "
        "Messages 2.")
    report = result.report.read_text()
    assert "not read: the home page shows no Seller Performance widget" in report
    # The same finding on the next run: reported in the run, not texted again.
    again = run(cfg)
    assert again.data["observations"]["home_page_finding"] == code
    assert again.data["observations"]["not_read"] == obs["not_read"]
    assert len(receiver.messages("sms")) == 1


def test_unknown_performance_wording_is_reported_never_summarised(
        sandbox: Sandbox, make_config: Any, receiver: Receiver) -> None:
    sandbox.reset("unknown-performance-label")
    result = run(make_config(signed_in=True))
    assert result.status == "ok", result.data["errors"]
    obs = result.data["observations"]
    assert obs["performance"] == {"status": "unknown", "label": "Needs Attention",
                                  "areas": []}
    # a total-only Open Orders card (8): Unshipped comes from Manage Orders
    assert (obs["unshipped"], obs["unshipped_from"]) == (2, "Manage Orders")
    assert _step_names(result, "performance") == [
        'Seller Performance shows "Needs Attention", a wording the bot does not know: '
        "details not opened"]
    texts = receiver.messages("sms")
    assert len(texts) == 1
    assert '"Needs Attention"' in texts[0] and "does not know" in texts[0]
    everything = " ".join(receiver.messages())
    assert "no area listed" not in everything and "Seller Performance is" not in everything
