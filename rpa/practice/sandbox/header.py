"""What the signed-in header's account switcher shows, in the generation the scenario asks for.

- ``switcher`` (2022+): inside ``#navbar``, ``.dropdown-account-switcher-header-label`` holds
  the store name and the country in two spans; its flyout links to the picker ("See all").
- ``partner`` (older): ``#partner-switcher .partner-dropdown-button`` with one text,
  "<b>store</b> | country".
- ``select`` (oldest): ``<select id="sc-mkt-picker-switcher-select">`` listing the account's
  marketplaces by retail host ("www.amazon.es"); choosing one switches the marketplace.

Nothing is shown while the session has chosen no account, or when the scenario's header has
no switcher (``account_switcher: false``).
"""

from __future__ import annotations

from typing import Any

from rpa.practice.sandbox.state import SandboxState, Session

# Retail hosts by marketplace id, as the oldest header lists them (public ids).
HOSTS: dict[str, str] = {
    "ATVPDKIKX0DER": "www.amazon.com", "A2EUQ1WTGCTBG2": "www.amazon.ca",
    "A1AM78C64UM0Y8": "www.amazon.com.mx", "A2Q3Y263D00KWC": "www.amazon.com.br",
    "A1F83G8C2ARO7P": "www.amazon.co.uk", "A1PA6795UKMFR9": "www.amazon.de",
    "A13V1IB3VIYZZH": "www.amazon.fr", "APJ6JRA9NG5V4": "www.amazon.it",
    "A1RKKUPIHCS9HS": "www.amazon.es", "A1805IZSGTT6HS": "www.amazon.nl",
    "A1VC38T7YXB528": "www.amazon.co.jp",
}


def header_context(state: SandboxState, session: Session) -> dict[str, Any] | None:
    """The header switcher's contents for the template, or None when it shows none."""
    chosen = state.selection(session)
    if chosen is None or not state.scenario.account_switcher:
        return None
    account, market = chosen
    markets = [{"id": m.id, "host": HOSTS.get(m.id, m.name), "selected": m.id == market.id}
               for m in account.marketplaces]
    return {"kind": state.scenario.account_pages.header, "store": account.name,
            "country": market.name, "merchant_id": account.merchant_id, "markets": markets}
