"""The "Select an account" page: the account and marketplace a session works in.

Sellers with several accounts (or one account in several marketplaces) are sent here after
signing in, and come here again to switch. Two generations (``account_pages.picker``):

- ``current`` (``/account-switcher/default/merchantMarketplace``): one row per account,
  ``.full-page-account-switcher-account > button.full-page-account-switcher-account-details
  > span.full-page-account-switcher-account-label``. Opening an account nests its
  marketplaces under it in the same markup and marks its label
  ``…-label-expanded[data-test="current-account"]``; clicking an opened account closes it.
  Closed, the account in use shows only its active marketplace. Labels carry "(current)",
  "(selected)" and "(pending registration)"; the chosen row gets
  ``full-page-account-switcher-account-selected``. Confirming is ``<kat-button
  data-test="confirm-selection" label="Select account">`` (its button in an open shadow root).
- ``legacy`` (``#picker-container``, also at ``/global-picker``): a column of
  ``button.picker-button`` accounts (names in ``.picker-name``), the chosen account's
  marketplaces in the next column, confirmed by ``button.picker-switch-accounts-button``.

Confirming keeps the choice on the session and goes back with ``mons_sel_dir_mcid`` and
``mons_sel_mkid`` in the address, as Seller Central does.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from rpa.practice.sandbox.scenario import Account
from rpa.practice.sandbox.state import SandboxState, Session
from rpa.practice.sandbox.web import (
    PICKER_PATH,
    chrome_context,
    current_session,
    redirect,
    render,
    safe_return,
    sandbox,
    signin_url,
)

LEGACY_PICKER_PATH = "/global-picker"
PICKER_PATHS = (PICKER_PATH, LEGACY_PICKER_PATH)
NO_CHOICE = "Choose an account and a marketplace."
CURRENT, PENDING = " (current)", " (pending registration)"


def _form_value(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _with_choice(return_to: str, merchant_id: str, marketplace_id: str) -> str:
    """The address to go back to, with the choice in it as Seller Central adds it."""
    query = urlencode({"mons_sel_dir_mcid": merchant_id, "mons_sel_mkid": marketplace_id})
    return f"{return_to}{'&' if '?' in return_to else '?'}{query}"


def _in_use(state: SandboxState, session: Session) -> tuple[str, str] | None:
    """The (merchant id, marketplace id) the picker marks "(current)": the session's
    choice, else the one the seller used last."""
    chosen = state.selection(session)
    if chosen is not None:
        return chosen[0].merchant_id, chosen[1].id
    last = state.scenario.account_pages.last_used
    if last is None:
        return None
    for account, market in state.scenario.choices:
        if account.name == last.account and market.name == last.marketplace:
            return account.merchant_id, market.id
    return None


def _rows(state: SandboxState, session: Session) -> list[dict[str, Any]]:
    """Each account with its marketplaces, their labels and states, for the page's script."""
    pages = state.scenario.account_pages
    in_use = _in_use(state, session)

    def account_row(account: Account) -> dict[str, Any]:
        current = in_use is not None and in_use[0] == account.merchant_id
        pending = pages.is_pending(account.name)
        label = account.name + (CURRENT if current else "") + (PENDING if pending else "")
        markets = [{
            "id": m.id, "name": m.name,
            "current": current and in_use is not None and in_use[1] == m.id,
            "pending": pages.is_pending(account.name, m.name),
        } for m in account.marketplaces]
        for m in markets:
            m["label"] = (str(m["name"]) + (CURRENT if m["current"] else "")
                          + (PENDING if m["pending"] else ""))
        return {"name": account.name, "merchantId": account.merchant_id, "label": label,
                "current": current, "pending": pending, "marketplaces": markets,
                "expanded": pages.expanded == account.name}

    return [account_row(a) for a in state.scenario.accounts]


async def picker(request: Request) -> Response:
    """Show the accounts (GET) or keep the chosen account and marketplace (POST)."""
    state = sandbox(request)
    _, session = current_session(request)
    if session is None:
        return redirect(signin_url(request.url.path), status_code=302)
    error = None
    if request.method == "POST":
        form = await request.form()
        return_to = safe_return(_form_value(form, "returnTo"))
        chosen = state.find_choice(_form_value(form, "merchantId"),
                                   _form_value(form, "marketplaceId"))
        pages = state.scenario.account_pages
        if chosen is not None and not (pages.is_pending(chosen[0].name)
                                       or pages.is_pending(chosen[0].name, chosen[1].name)):
            with state.lock:
                session.merchant_id, session.marketplace_id = (chosen[0].merchant_id,
                                                               chosen[1].id)
            return redirect(_with_choice(return_to, chosen[0].merchant_id, chosen[1].id))
        error = NO_CHOICE
    else:
        return_to = safe_return(request.query_params.get("returnTo"))
    legacy = state.scenario.account_pages.picker == "legacy"
    return render("picker_legacy.html" if legacy else "picker.html",
                  status_code=400 if error else 200, accounts=_rows(state, session),
                  action=request.url.path, return_to=return_to, error=error,
                  **chrome_context(state, session))


ROUTES = [Route(path, picker, methods=["GET", "POST"]) for path in PICKER_PATHS]
