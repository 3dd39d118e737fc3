"""New Seller Central end to end: real Chromium against the sandbox.

An account moved to NGS has ``/home`` redirected to the "My business" dashboard
(``/amazonsell/business``); ``ngs_do_not_redirect_flag=1`` keeps the classic home. The bot
opens the home page with the flag, recognises the dashboard when a redirect dropped the flag
(after a switch through the picker), and never reads figures from it: the sandbox's
dashboard shows decoy figures (Unshipped 97, Buyer Messages 77, Seller Performance Poor).
The dashboard shows no account switcher: the account is confirmed by the picker's choice,
read back, or on a later run by the choice the saved sign-in was left in.
"""

from __future__ import annotations

from typing import Any

from rpa.practice.receiver import Receiver
from rpa.run.orchestrator import RunResult, run
from tests.conftest import Sandbox

NGS_SHOWN = "ngs_pages_shown"


def _config(make_config: Any, account_name: str, marketplace: str) -> Any:
    account = make_config().accounts[0].model_dump()
    account.update(account_name=account_name, marketplace=marketplace)
    return make_config(accounts=[account], flows=["login", "dashboard"])


def _steps(result: RunResult) -> list[str]:
    return [step["name"] for flow in result.data["flows"].values() for step in flow["steps"]]


def _ngs_shown(sandbox: Sandbox) -> int:
    return int(sandbox.state()["counters"].get(NGS_SHOWN, 0))


def test_classic_home_through_the_flag_also_after_a_redirect(
        sandbox: Sandbox, make_config: Any) -> None:
    sandbox.reset("ngs-home")
    first = run(_config(make_config, "Acme Goods", "United States"))
    assert first.status == "ok", first.data["errors"]
    obs = first.data["observations"]
    assert (obs["unshipped"], obs["buyer_messages"]) == (0, 2)
    assert obs["performance"]["label"] == "Good" and obs["not_read"] == {}
    assert obs["account_confirmed_by"] == "header"
    assert _ngs_shown(sandbox) == 0, "the home page is always opened with the flag"

    # The saved state works in Acme Goods; this run is for the Outlet. The switch through
    # the picker ends on /home without the flag, which shows the NGS dashboard: the bot
    # recognises it, opens the classic home and confirms the account in its header.
    second = run(_config(make_config, "Acme Goods Outlet", "Canada"))
    assert second.status == "ok", second.data["errors"]
    assert _ngs_shown(sandbox) == 1
    names = _steps(second)
    assert "New Seller Central shown: open the classic home" in names
    assert "account in the header: Acme Goods Outlet / Canada" in names
    obs = second.data["observations"]
    assert (obs["unshipped"], obs["buyer_messages"]) == (0, 2)
    assert obs["unshipped_from"] == "home page" and obs["not_read"] == {}
    assert sandbox.state()["counters"]["password_posts"] == 1


def test_ngs_dashboard_despite_the_flag_is_never_read(
        sandbox: Sandbox, make_config: Any, receiver: Receiver) -> None:
    sandbox.reset("ngs-flag-ignored")
    result = run(_config(make_config, "Acme Goods", "Canada"))
    assert result.status == "ok", result.data["errors"]
    assert _ngs_shown(sandbox) >= 2
    obs = result.data["observations"]
    # The dashboard has no account switcher; the picker's choice, read back, confirms it.
    assert obs["account_confirmed_by"] == "picker" and obs["account"] is None
    # Its figures are decoys: none of them is taken.
    assert obs["performance"] is None and obs["buyer_messages"] is None
    for figure in ("performance", "buyer_messages"):
        assert "New Seller Central" in obs["not_read"][figure]
        assert "ngs_do_not_redirect_flag=1" in obs["not_read"][figure]
    # Unshipped comes from Manage Orders, a page of its own.
    assert (obs["unshipped"], obs["unshipped_from"]) == (0, "Manage Orders")
    assert "read home page: Unshipped not read, Seller Performance not read, Buyer Messages " \
           "not read" in _steps(result)
    texts = " ".join(receiver.messages())
    assert "Seller Performance not read" in texts and "97" not in texts

    # The next run signs in with the saved state: no picker, and the dashboard shows
    # nothing of the account. The choice read back when the state was saved stands in.
    again = run(_config(make_config, "Acme Goods", "Canada"))
    assert again.status == "ok", again.data["errors"]
    obs = again.data["observations"]
    assert obs["account_confirmed_by"] == "none"
    assert obs["account_confirmation"]["account"] == "saved sign-in"
    assert sandbox.state()["counters"]["password_posts"] == 1
    # Asked for another marketplace on that sign-in, nothing confirms it: a stop.
    other = run(_config(make_config, "Acme Goods", "United States"))
    assert (other.status, other.exit_code) == ("needs_person", 3)
    assert [e["reason"] for e in other.data["errors"]] == ["account_unconfirmed"]
    assert other.data["flows"]["dashboard"]["status"] == "skipped"
