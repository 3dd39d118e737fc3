"""Exact account and marketplace picking, and the account check on every run.

The label matching and the verdict are pure functions, tested first; then real Chromium
against the sandbox, one run per page variant the evidence shows: the 2022+ header (two
spans), the older one-text header, the oldest marketplace <select>, the current picker with
its markers, a pre-expanded account and rows pending registration, the older
#picker-container picker, a saved browser state in another account, and a header without a
switcher.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rpa.practice.receiver import Receiver
from rpa.run.orchestrator import RunResult, run
from rpa.seller_central import marketplaces, saved_choice
from rpa.seller_central.account_check import Seen, parse_header_text, verdict
from rpa.seller_central.labels import is_pending, normalise, strip_markers
from rpa.seller_central.picker import exact_matches
from tests.conftest import Sandbox

ACCOUNTS = ["Acme Goods Outlet", "Acme Goods", "Acme Goods EU"]

# -- pure checks ------------------------------------------------------------------------------


@pytest.mark.parametrize(("wanted", "offered", "hits"), [
    ("Acme Goods", ACCOUNTS, [1]),
    ("  acme\u00a0 GOODS ", ACCOUNTS, [1]),
    ("Acme Goods Outlet", ACCOUNTS, [0]),
    ("Acme", ACCOUNTS, []),
    ("Acme Goods", ["Acme Goods Outlet", "Acme Goods EU"], []),
    ("Acme Goods", ["Acme Goods", "ACME GOODS"], [0, 1]),
    ("United States", ["United States (Business)", "United States", "Canada"], [1]),
    ("Straße", ["STRASSE"], [0]),  # casefold, not lower: the German sharp s
    # The markers the page adds are not part of the name ...
    ("Acme Goods", ["Acme Goods Outlet (current)", "Acme Goods (current)"], [1]),
    ("United States", ["United States (Business)", "United States (selected)"], [1]),
    ("United States", ["United States (current) (selected)"], [0]),
    ("Canada", ["加拿大 (当前)", "Canada. Selected"], [1]),
    # ... and a row pending registration is never one to choose, whatever its name.
    ("Mexico", ["Mexico (pending registration)", "Canada"], []),
    ("Mexico", ["Mexico (Pending  Registration)"], []),
    ("Acme Goods EU", ["Acme Goods EU (pending registration)", "Acme Goods EU"], [1]),
])
def test_names_match_exactly_after_stripping_markers(wanted: str, offered: list[str],
                                                     hits: list[int]) -> None:
    assert exact_matches(wanted, offered) == hits


@pytest.mark.parametrize(("label", "name"), [
    ("Acme Goods (current)", "Acme Goods"),
    ("Acme Goods (CURRENT)", "Acme Goods"),
    ("Acme Goods( current )", "Acme Goods"),
    ("Acme  Goods\n(current)", "Acme Goods"),
    ("United States (selected)", "United States"),
    ("United States (Selected)", "United States"),
    ("United States (current) (selected)", "United States"),
    ("加拿大 (当前)", "加拿大"),
    ("加拿大（当前）", "加拿大"),  # full-width parentheses
    ("Germany. Selected", "Germany"),
    ("Germany .selected", "Germany"),
    ("Mexico (pending registration)", "Mexico"),
    ("Mexico (Pending\tregistration)", "Mexico"),
    ("VRINDA ENTERPRISE  .", "VRINDA ENTERPRISE"),  # a header name's trailing dot
    ("United States (Business)", "United States (Business)"),  # a name, not a marker
    ("Current Goods", "Current Goods"),
    ("(current)", "(current)"),  # a marker alone is not stripped to nothing
])
def test_markers_are_stripped_from_the_end(label: str, name: str) -> None:
    assert strip_markers(label) == name


@pytest.mark.parametrize(("label", "pending"), [
    ("Mexico (pending registration)", True),
    ("Mexico (PENDING REGISTRATION)", True),
    ("Mexico ( pending  registration )", True),
    ("Mexico (current)", False),
    ("Pending Registration Goods", False),
])
def test_pending_rows_are_recognised(label: str, pending: bool) -> None:
    assert is_pending(label) is pending


def test_normalise_collapses_whitespace_and_folds_case() -> None:
    assert normalise("\tAcme \n Goods\u2009EU ") == "acme goods eu"


@pytest.mark.parametrize(("text", "parsed"), [
    ("Acme Goods | United States", ("Acme Goods", "United States")),
    ("  Acme   Goods|Canada ", ("Acme Goods", "Canada")),
    ("A | B | Germany", ("A | B", "Germany")),
    ("Acme Goods - United States", ("Acme Goods", "United States")),
    ("Acme Goods United States", ("Acme Goods", "United States")),  # the configured pair
    ("acme goods  united states", ("Acme Goods", "United States")),
    ("Acme Goods Outlet Canada", None),  # a space cannot be split
    ("Acme Goods Outlet | Canada", ("Acme Goods Outlet", "Canada")),
    ("Acme Goods", ("Acme Goods", None)),
    ("United States", None),
    (" | United States", None),
    ("Acme Goods | ", None),
])
def test_header_text_forms(text: str, parsed: tuple[str, str | None] | None) -> None:
    assert parse_header_text(text, "Acme Goods", "United States") == parsed


def _header(account: str | None, market: str | None) -> Seen:
    return Seen("header", account, market, f"{account} / {market}")


PICKED = Seen("picker", "Acme Goods", "United States", "Acme Goods / United States")
SAVED = Seen("saved sign-in", "Acme Goods", "United States", "Acme Goods / United States")
URL_US = Seen("url", None, "United States", "mons_sel_mkid=ATVPDKIKX0DER")


@pytest.mark.parametrize(("account", "market", "seen", "reason", "by"), [
    ("Acme Goods", "United States", [_header("Acme Goods", "United States")], None, "header"),
    ("acme goods", "united  states", [_header("Acme Goods.", "United States")], None, "header"),
    ("Acme Goods", "United States", [_header("Acme Goods Outlet", "United States")],
     "wrong_account", "none"),
    ("Acme Goods", "United States", [_header("Acme Goods", "United States (Business)")],
     "wrong_account", "none"),
    ("Acme Goods", "United States", [_header("Acme Goods", "Canada"), PICKED],
     "wrong_account", "none"),
    ("Acme Goods", None, [_header("Acme Goods", "Canada")], None, "header"),
    (None, "Canada", [_header("Acme Goods Outlet", "Canada")], None, "header"),
    (None, "United States", [URL_US], None, "url"),
    # Nothing on the page: this run's read-back on the picker, or the saved sign-in's.
    ("Acme Goods", "United States", [], "account_unconfirmed", "none"),
    ("Acme Goods", "United States", [PICKED], None, "picker"),
    ("Acme Goods", "United States", [SAVED], None, "none"),
    ("Acme Goods", "United States", [PICKED, URL_US], None, "picker"),
    # The oldest header names only the marketplace; the account comes from elsewhere.
    ("Acme Goods", "United States", [_header(None, "United States")], "account_unconfirmed",
     "none"),
    ("Acme Goods", "United States", [_header(None, "United States"), SAVED], None, "none"),
    ("Acme Goods", "United States", [_header(None, "www.amazon.ca"), PICKED],
     "wrong_account", "none"),
    ("Acme Goods", "United States", [Seen("url", None, "id A2EUQ1WTGCTBG2"), PICKED],
     "wrong_account", "none"),
    (None, None, [], None, "none"),
    (None, None, [_header("Acme Goods Outlet", "Canada")], None, "none"),
])
def test_verdict(account: str | None, market: str | None, seen: list[Seen],
                 reason: str | None, by: str) -> None:
    found = verdict(account, market, seen, header_text=None)
    assert (found.reason, found.confirmed_by) == (reason, by)
    if reason == "wrong_account":
        assert found.message.startswith("signed in to ") and found.contradicted_by in seen


def test_marketplace_table() -> None:
    assert marketplaces.by_name("Deutschland") == marketplaces.by_host("www.amazon.de")
    assert marketplaces.by_host("amazon.es") == marketplaces.by_id("A1RKKUPIHCS9HS")
    assert marketplaces.by_name("united  states") == marketplaces.by_id("ATVPDKIKX0DER")
    assert marketplaces.by_name("United States (Business)") is None
    assert marketplaces.by_host("www.amazon.example") is None


# -- real Chromium against the sandbox ----------------------------------------------------------


def config_for(make_config: Any, account_name: str | None, marketplace: str | None,
               **overrides: Any) -> Any:
    """A config for the current scenario that asks for this account and marketplace."""
    account = make_config().accounts[0].model_dump()
    account.update(account_name=account_name, marketplace=marketplace)
    return make_config(accounts=[account], **overrides)


def step_names(result: RunResult) -> list[str]:
    return [step["name"] for flow in result.data["flows"].values() for step in flow["steps"]]


def selected(sandbox: Sandbox) -> list[dict[str, str] | None]:
    return sandbox.state()["selected"]


def confirmation(result: RunResult) -> tuple[str, dict[str, Any]]:
    obs = result.data["observations"]
    return obs["account_confirmed_by"], obs["account_confirmation"]


def test_prefix_sharing_accounts_and_a_saved_state_in_another_account(
        sandbox: Sandbox, make_config: Any, receiver: Receiver) -> None:
    sandbox.reset("accounts-prefix")
    # Configured in other case and spacing: the step names must come from the page.
    first = run(config_for(make_config, "acme  goods", "united states"), flows=["login"])
    assert first.status == "ok", first.data["errors"]
    assert selected(sandbox) == [{"account": "Acme Goods", "marketplace": "United States"}]
    names = step_names(first)
    assert "select account: Acme Goods / United States" in names
    # The 2022+ header: the store and the country in two spans.
    assert "account in the header: Acme Goods / United States" in names
    assert first.data["observations"]["account"] == "Acme Goods / United States"
    by, how = confirmation(first)
    assert by == "header" and how["account"] == how["marketplace"] == "header"
    assert how["seen"]["picker"] == "Acme Goods / United States"
    posts = sandbox.state()["counters"]["password_posts"]

    # The saved browser state lands in "Acme Goods"; this run is for the Outlet: the header
    # check sees it and switches through the picker, without signing in again.
    second = run(config_for(make_config, "Acme Goods Outlet", "Canada"), flows=["login"])
    assert second.status == "ok", second.data["errors"]
    names = step_names(second)
    assert "switch account: the header shows Acme Goods / United States" in names
    assert "select account: Acme Goods Outlet / Canada" in names
    assert names[-1] == "account in the header: Acme Goods Outlet / Canada"
    assert selected(sandbox) == [{"account": "Acme Goods Outlet", "marketplace": "Canada"}]
    assert sandbox.state()["counters"]["password_posts"] == posts
    assert confirmation(second)[0] == "header"

    # Landing in the Outlet again, for an account/marketplace pair no account offers:
    # caught by the header check, the picker cannot fix it, nothing else runs.
    third = run(config_for(make_config, "Acme Goods EU", "United States"),
                flows=["login", "dashboard"])
    assert (third.status, third.exit_code) == ("needs_person", 3)
    [error] = third.data["errors"]
    assert error["reason"] == "account_picker"
    assert "'Germany'" in error["message"] and "exactly 'United States'" in error["message"]
    assert "switch account: the header shows Acme Goods Outlet / Canada" in step_names(third)
    assert third.data["flows"]["dashboard"]["status"] == "skipped"
    assert third.data["observations"]["unshipped"] is None
    assert selected(sandbox) == [{"account": "Acme Goods Outlet", "marketplace": "Canada"}]
    failed = [s for s in third.data["flows"]["login"]["steps"] if s["outcome"] == "failed"]
    assert failed and (third.folder / failed[-1]["screenshot"]).is_file()
    assert len(receiver.messages("sms")) == 1, receiver.messages()  # one owner text
    assert sandbox.state()["counters"]["password_posts"] == posts


def test_only_the_outlet_offered_stops_before_any_work(sandbox: Sandbox, make_config: Any,
                                                       receiver: Receiver) -> None:
    sandbox.reset("accounts-outlet-only")
    cfg = config_for(make_config, "Acme Goods", "United States",
                     flows=["login", "dashboard", "buyer_messages"])
    result = run(cfg)
    assert (result.status, result.exit_code) == ("needs_person", 3)
    [error] = result.data["errors"]
    assert error["reason"] == "account_picker"
    assert "'Acme Goods Outlet'" in error["message"]
    assert "none is exactly 'Acme Goods'" in error["message"]
    assert not any(name.startswith("select account") for name in step_names(result))
    state = sandbox.state()
    assert state["selected"] == [None], "nothing was selected on the picker"
    assert state["replies"] == [] and state["no_response"] == []
    assert all(status == "response_needed" for tid, status in state["threads"].items()
               if tid != "T-0998")
    obs = result.data["observations"]
    assert obs["unshipped"] is None and obs["buyer_messages"] is None
    assert {result.data["flows"][f]["status"] for f in ("dashboard", "buyer_messages")} == {
        "skipped"}
    failed = [s for s in result.data["flows"]["login"]["steps"] if s["outcome"] == "failed"]
    assert failed and (result.folder / failed[-1]["screenshot"]).is_file()
    assert len(receiver.messages("sms")) == 1, receiver.messages()  # one owner text


def test_current_picker_with_markers_a_pre_expanded_account_and_pending_rows(
        sandbox: Sandbox, make_config: Any, receiver: Receiver) -> None:
    sandbox.reset("accounts-markers")
    # The page opens with "Acme Goods (current)" expanded: clicking it would close it. Its
    # rows read "United States (Business)", "United States (current)", "Canada" and
    # "Mexico (pending registration)".
    first = run(config_for(make_config, "Acme Goods", "United States"), flows=["login"])
    assert first.status == "ok", first.data["errors"]
    assert selected(sandbox) == [{"account": "Acme Goods", "marketplace": "United States"}]
    names = step_names(first)
    assert "select account: Acme Goods / United States" in names
    assert confirmation(first)[0] == "header"
    assert sandbox.state()["counters"]["password_posts"] == 1

    # The saved state works in the United States; Mexico is pending registration: the
    # header check switches through the picker, which must not choose the pending row.
    second = run(config_for(make_config, "Acme Goods", "Mexico"), flows=["login"])
    assert (second.status, second.exit_code) == ("needs_person", 3)
    [error] = second.data["errors"]
    assert error["reason"] == "account_picker"
    assert "none is exactly 'Mexico'" in error["message"]
    assert "pending registration, never chosen: 'Mexico'" in error["message"]
    assert "switch account: the header shows Acme Goods / United States" in step_names(second)
    assert selected(sandbox) == [{"account": "Acme Goods", "marketplace": "United States"}]
    assert sandbox.state()["counters"]["password_posts"] == 1
    assert len(receiver.messages("sms")) == 1, receiver.messages()


def test_older_picker(sandbox: Sandbox, make_config: Any) -> None:
    sandbox.reset("picker-legacy")
    result = run(config_for(make_config, "Acme Goods", "Canada"), flows=["login"])
    assert result.status == "ok", result.data["errors"]
    assert selected(sandbox) == [{"account": "Acme Goods", "marketplace": "Canada"}]
    names = step_names(result)
    assert "select account: Acme Goods / Canada" in names
    # The older picker shows no selected state to read back: the header confirms it.
    by, how = confirmation(result)
    assert by == "header" and "picker" not in how["seen"]
    assert names[-1] == "account in the header: Acme Goods / Canada"


def test_older_header_one_text(sandbox: Sandbox, make_config: Any) -> None:
    sandbox.reset("header-partner")
    result = run(config_for(make_config, "Acme Goods", "Mexico"), flows=["login"])
    assert result.status == "ok", result.data["errors"]
    assert result.data["observations"]["account"] == "Acme Goods | Mexico"
    by, how = confirmation(result)
    assert by == "header" and how["account"] == how["marketplace"] == "header"
    assert "account in the header: Acme Goods | Mexico" in step_names(result)


def test_oldest_header_names_only_the_marketplace(sandbox: Sandbox, make_config: Any,
                                                  tmp_path: Path) -> None:
    sandbox.reset("header-select")
    # A sign-in: the picker's choice is read back, the header's <select> shows the host.
    first = run(config_for(make_config, "Acme Goods EU", "Spain"), flows=["login"])
    assert first.status == "ok", first.data["errors"]
    assert first.data["observations"]["account"] == "www.amazon.es"
    by, how = confirmation(first)
    assert (by, how["account"], how["marketplace"]) == ("picker", "picker", "header")
    cfg = config_for(make_config, "Acme Goods EU", "Spain")
    noted = saved_choice.load(saved_choice.choice_file(cfg.paths.state_dir, "test"))
    assert noted == ("Acme Goods EU", "Spain")

    # The saved sign-in: no picker, nothing on the page names the account; the choice
    # read back when it was saved stands in, and the header's host agrees.
    second = run(cfg, flows=["login"])
    assert second.status == "ok", second.data["errors"]
    by, how = confirmation(second)
    assert (by, how["account"], how["marketplace"]) == ("none", "saved sign-in", "header")
    assert sandbox.state()["counters"]["password_posts"] == 1

    # Asked for France: the header's host shows Spain, so it switches, exactly.
    third = run(config_for(make_config, "Acme Goods EU", "France"), flows=["login"])
    assert third.status == "ok", third.data["errors"]
    assert "switch account: the header shows www.amazon.es" in step_names(third)
    assert selected(sandbox) == [{"account": "Acme Goods EU", "marketplace": "France"}]
    assert third.data["observations"]["account"] == "www.amazon.fr"
    assert confirmation(third)[0] == "picker"
    assert sandbox.state()["counters"]["password_posts"] == 1


def test_header_without_switcher(sandbox: Sandbox, make_config: Any,
                                 receiver: Receiver) -> None:
    sandbox.reset("no-account-switcher")
    # An account is configured, and nothing on the page can confirm it: stop.
    stopped = run(config_for(make_config, "Acme Goods", "United States"), flows=["login"])
    assert (stopped.status, stopped.exit_code) == ("needs_person", 3)
    [error] = stopped.data["errors"]
    assert error["reason"] == "account_unconfirmed"
    assert "the header shows no account switcher" in error["message"]
    assert "account in the header: no account switcher" in step_names(stopped)
    assert confirmation(stopped)[0] == "none"
    assert len(receiver.messages("sms")) == 1, receiver.messages()  # one owner text
    # A single-account seller's config that names no account: nothing to confirm, go on
    # (with the saved state of the first run).
    ok = run(config_for(make_config, None, None), flows=["login"])
    assert ok.status == "ok", ok.data["errors"]
    assert "account in the header: no account switcher" in step_names(ok)
    assert ok.data["observations"]["account"] is None
    assert confirmation(ok)[0] == "none"
    assert sandbox.state()["counters"]["signins"] == 1
