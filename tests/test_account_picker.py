"""Exact account and marketplace picking, and the header check on every run.

The matching and the header verdict are pure functions, tested first; then real Chromium
against the sandbox: prefix-sharing accounts with "Acme Goods Outlet" listed first, a
sign-in that offers only the Outlet, a saved browser state that lands in another account,
and a header without an account switcher.
"""

from __future__ import annotations

from typing import Any

import pytest

from rpa.practice.receiver import Receiver
from rpa.run.orchestrator import RunResult, run
from rpa.seller_central.picker import (
    exact_matches,
    header_problem,
    normalise,
    parse_switcher,
)
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
])
def test_names_match_exactly_after_normalising(wanted: str, offered: list[str],
                                               hits: list[int]) -> None:
    assert exact_matches(wanted, offered) == hits


def test_normalise_collapses_whitespace_and_folds_case() -> None:
    assert normalise("\tAcme \n Goods\u2009EU ") == "acme goods eu"


@pytest.mark.parametrize(("label", "parsed"), [
    ("Acme Goods | United States", ("Acme Goods", "United States")),
    ("  Acme   Goods|Canada ", ("Acme Goods", "Canada")),
    ("A | B | Germany", ("A | B", "Germany")),
    ("United States", None),
    (" | United States", None),
    ("Acme Goods | ", None),
])
def test_switcher_label_parses(label: str, parsed: tuple[str, str] | None) -> None:
    assert parse_switcher(label) == parsed


@pytest.mark.parametrize(("account", "market", "label", "reason"), [
    ("Acme Goods", "United States", "Acme Goods | United States", None),
    ("acme goods", "united  states", "Acme Goods | United States", None),
    ("Acme Goods", "United States", "Acme Goods Outlet | United States", "wrong_account"),
    ("Acme Goods", "United States", "Acme Goods | United States (Business)", "wrong_account"),
    ("Acme Goods", "United States", "Acme Goods | Canada", "wrong_account"),
    ("Acme Goods", None, "Acme Goods | Canada", None),
    (None, "Canada", "Acme Goods Outlet | Canada", None),
    ("Acme Goods", "United States", None, "account_unconfirmed"),
    ("Acme Goods", "United States", "United States", "account_unconfirmed"),
    (None, None, None, None),
    (None, None, "Acme Goods Outlet | Canada", None),
])
def test_header_verdict(account: str | None, market: str | None, label: str | None,
                        reason: str | None) -> None:
    problem = header_problem(account, market, label)
    assert (problem[0] if problem else None) == reason
    if reason == "wrong_account":
        assert problem is not None and problem[1].startswith(f"signed in to {label}, expected ")


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


def test_prefix_sharing_accounts_and_a_saved_state_in_another_account(
        sandbox: Sandbox, make_config: Any, receiver: Receiver) -> None:
    sandbox.reset("accounts-prefix")
    # Configured in other case and spacing: the step names must come from the page.
    first = run(config_for(make_config, "acme  goods", "united states"), flows=["login"])
    assert first.status == "ok", first.data["errors"]
    assert selected(sandbox) == [{"account": "Acme Goods", "marketplace": "United States"}]
    names = step_names(first)
    assert "select account: Acme Goods / United States" in names
    assert "account in the header: Acme Goods | United States" in names
    assert first.data["observations"]["account"] == "Acme Goods | United States"
    posts = sandbox.state()["counters"]["password_posts"]

    # The saved browser state lands in "Acme Goods"; this run is for the Outlet: the header
    # check sees it and switches through the picker, without signing in again.
    second = run(config_for(make_config, "Acme Goods Outlet", "Canada"), flows=["login"])
    assert second.status == "ok", second.data["errors"]
    names = step_names(second)
    assert "switch account: the header shows Acme Goods | United States" in names
    assert "select account: Acme Goods Outlet / Canada" in names
    assert names[-1] == "account in the header: Acme Goods Outlet | Canada"
    assert selected(sandbox) == [{"account": "Acme Goods Outlet", "marketplace": "Canada"}]
    assert sandbox.state()["counters"]["password_posts"] == posts

    # Landing in the Outlet again, for an account/marketplace pair no account offers:
    # caught by the header check, the picker cannot fix it, nothing else runs.
    third = run(config_for(make_config, "Acme Goods EU", "United States"),
                flows=["login", "dashboard"])
    assert (third.status, third.exit_code) == ("needs_person", 3)
    [error] = third.data["errors"]
    assert error["reason"] == "account_picker"
    assert "'Germany'" in error["message"] and "exactly 'United States'" in error["message"]
    assert "switch account: the header shows Acme Goods Outlet | Canada" in step_names(third)
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


def test_header_without_switcher(sandbox: Sandbox, make_config: Any,
                                 receiver: Receiver) -> None:
    sandbox.reset("no-account-switcher")
    # An account is configured, and nothing on the page can confirm it: stop.
    stopped = run(config_for(make_config, "Acme Goods", "United States"), flows=["login"])
    assert (stopped.status, stopped.exit_code) == ("needs_person", 3)
    [error] = stopped.data["errors"]
    assert error["reason"] == "account_unconfirmed"
    assert "account in the header: no account switcher" in step_names(stopped)
    assert len(receiver.messages("sms")) == 1, receiver.messages()  # one owner text
    # A single-account seller's config that names no account: nothing to confirm, go on
    # (with the saved state of the first run).
    ok = run(config_for(make_config, None, None), flows=["login"])
    assert ok.status == "ok", ok.data["errors"]
    assert "account in the header: no account switcher" in step_names(ok)
    assert ok.data["observations"]["account"] is None
    assert sandbox.state()["counters"]["signins"] == 1
