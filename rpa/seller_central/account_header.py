"""The header's account switcher: which account and marketplace the page says it works in.

Three generations are read (sources U5, U11, U22, U23 of the evidence study; the keys in
selectors.yaml name each one's source):

- 2022+: inside ``#navbar``, ``.dropdown-account-switcher-header-label`` holds the store
  name (``…-label-global``) and the country (``…-label-regional``) in two spans;
- older: ``#partner-switcher .partner-dropdown-button``, one text "store | country" with the
  store in ``span b``;
- oldest: ``<select id="sc-mkt-picker-switcher-select">`` whose chosen option is the
  marketplace's host ("www.amazon.es"); it names no account.

The header is read as it is now (no waiting: the signed-in frame it belongs to is already
shown). Whether what it says confirms the configured account is decided in
:mod:`.account_check`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from playwright.sync_api import Error as PlaywrightError

from rpa.seller_central import marketplaces
from rpa.seller_central.account_check import HEADER, Seen, parse_header_text
from rpa.seller_central.labels import strip_markers

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

    from rpa.browser.selectors import Scope, Selectors


@dataclass(frozen=True)
class HeaderReading:
    """What the header's switcher shows (``text``, None when the header shows none) and
    what that says about the account and marketplace (``seen``, None when nothing the bot
    can read)."""

    text: str | None
    seen: Seen | None


def read_header(sel: Selectors, page: Page, account: str | None,
                marketplace: str | None) -> HeaderReading:
    """Read the header now, for the configured ``account`` and ``marketplace``."""
    store = _first_text(sel, page, "app.header_store")
    country = _first_text(sel, page, "app.header_country")
    if store and country:
        return HeaderReading(f"{store} / {country}", Seen(
            HEADER, strip_markers(store), strip_markers(country), f"{store} / {country}"))
    label = _first_text(sel, page, "app.header_label")
    if label:
        parsed = parse_header_text(label, account, marketplace)
        if parsed is None and store:
            parsed = (strip_markers(store), None)
        return HeaderReading(label, Seen(HEADER, parsed[0], parsed[1], label)
                             if parsed else None)
    if store:
        return HeaderReading(store, Seen(HEADER, strip_markers(store), None, store))
    host = _first_text(sel, page, "app.header_marketplace")
    if host:
        return HeaderReading(host, _host_seen(host, marketplace))
    switcher = _first_text(sel, page, "app.account_switcher")
    if switcher is not None:
        return HeaderReading(switcher or "a switcher without words", None)
    return HeaderReading(None, None)


def _host_seen(host: str, marketplace: str | None) -> Seen | None:
    """The oldest header's marketplace host against the configured marketplace: the same
    marketplace, another one, or (a host or name the table does not know) nothing."""
    shown, wanted = marketplaces.by_host(host), marketplaces.by_name(marketplace)
    if shown is None or wanted is None or marketplace is None:
        return None
    return Seen(HEADER, None, marketplace if shown.id == wanted.id else host, host)


def _first_text(sel: Selectors, scope: Scope, key: str) -> str | None:
    """The words of the first element the first matching candidate of ``key`` finds now
    (None when no candidate finds one)."""
    for loc in sel.candidates(scope, key):
        try:
            if loc.count():
                return _words(loc.first)
        except PlaywrightError:
            continue
    return None


def _words(loc: Locator) -> str:
    return " ".join((loc.text_content() or "").split())
