"""Working in the configured account: the "Select an account" page, and the check on every run.

The picker (sources U2-U10, S3, S5, U16 of the evidence study; each key in selectors.yaml
names its own):

- the current one (``/account-switcher/default/merchantMarketplace``) lists accounts as
  ``.full-page-account-switcher-account`` rows; an account opened (its label
  ``…-label-expanded[data-test=current-account]``) nests its marketplaces below it in the
  same markup. Clicking an opened account closes it again, so an account already open (the
  page may open with the target account expanded) is never clicked. The chosen row carries
  ``full-page-account-switcher-account-selected``. Confirming is a ``kat-button`` whose real
  button lives in its open shadow root.
- the older one (``#picker-container``): columns of ``button.picker-button`` named by
  ``.picker-name``, accounts first, then the chosen account's marketplaces; confirmed by
  ``button.picker-switch-accounts-button``. It shows no selected state the evidence
  confirms, so its choice is not read back: the account check after it must confirm it.

Names are read from the page and matched exactly after the page's markers are stripped
(:mod:`.labels`): "Acme Goods (current)" is Acme Goods, "Acme Goods Outlet" is not, and a row
"(pending registration)" is never chosen. None or several equal is a stop for a person.
After choosing, the current picker's choice is read back from the page before confirming.

On every run the login flow checks the account (:meth:`AccountPicker.confirm_header`) from
whatever the page offers: the header (:mod:`.account_header`), this run's picker read-back,
the marketplace id in the address, or the choice the saved sign-in was left in
(:mod:`.saved_choice`); the verdict is :func:`.account_check.verdict`. Another account shown
is switched through the picker (exact matching and read-back again), or stops the run;
nothing that confirms the configured account stops it too. run.json says how it was
confirmed (``observations.account_confirmed_by`` and ``account_confirmation``).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlparse

from playwright.sync_api import Error as PlaywrightError

from rpa.browser.selectors import declare
from rpa.errors import NeedsPerson, SelectorNotFound
from rpa.seller_central import marketplaces, saved_choice
from rpa.seller_central.account_check import (
    HEADER,
    PICKER,
    SAVED,
    URL,
    Seen,
    expected_label,
    verdict,
)
from rpa.seller_central.account_header import read_header
from rpa.seller_central.labels import exact_matches, normalise, not_one, same_name, strip_markers

if TYPE_CHECKING:
    from pathlib import Path

    from playwright.sync_api import Locator, Page

    from rpa.browser.selectors import Scope
    from rpa.seller_central.pages import SellerCentral

__all__ = ["AccountPicker", "PICKER_PATH", "exact_matches", "normalise"]

# Where the current picker lives (S3 §4a-bis, U5); a switch opens it directly, since the
# header's own flyout ignores scripted clicks (U11).
PICKER_PATH = "/account-switcher/default/merchantMarketplace"
# The address parameter naming the marketplace after a switch (U5, S6).
URL_MARKETPLACE = "mons_sel_mkid"

# The selectors.yaml keys this module asks for: a file without one of them is refused
# before any browser starts (declared to rpa.browser.selectors).
SELECTOR_KEYS: tuple[str, ...] = (
    "app.account_switcher",
    "app.header_country",
    "app.header_label",
    "app.header_marketplace",
    "app.header_store",
    "app.signed_in",
    "picker.account",
    "picker.account_group",
    "picker.account_name",
    "picker.confirm",
    "picker.expanded_account",
    "picker.heading",
    "picker.legacy_column",
    "picker.legacy_confirm",
    "picker.legacy_item",
    "picker.legacy_name",
    "picker.marketplace",
    "picker.selected",
)
declare(__name__, SELECTOR_KEYS)


class AccountPicker:
    """The account and marketplace picker, and the account check that may lead to it."""

    def __init__(self, sc: SellerCentral) -> None:
        self.sc = sc
        self.ctx = sc.ctx
        self.sel = sc.sel

    @property
    def page(self) -> Page:
        return self.sc.page

    # --- the picker page -------------------------------------------------------------
    def pick(self) -> None:
        """Choose the configured account and marketplace on the 'Select an account' page."""
        acc = self.ctx.account
        if not acc.account_name or not acc.marketplace:
            raise NeedsPerson("Seller Central asks to select an account, and the config names "
                              "none (accounts[].account_name / marketplace)",
                              reason="account_picker", url=self.page.url)
        with self.ctx.step("account picker: choose the configured account"):
            kind = self._kind()
            if kind == "picker.legacy_item":
                chosen = self._choose_legacy(acc.account_name, acc.marketplace)
                confirm_key = "picker.legacy_confirm"
            else:
                self._choose(acc.account_name, acc.marketplace)
                chosen = self._read_back(acc.account_name, acc.marketplace)
                confirm_key = "picker.confirm"
        with self.ctx.step(f"select account: {chosen[0]} / {chosen[1]}"):
            confirm = self._find(confirm_key, "the picker shows no 'Select account' button")
            with self.page.expect_navigation(wait_until="domcontentloaded"):
                confirm.click()
        # Only a choice read back counts for the account check (not the older picker's).
        self.sc.picked = chosen if kind != "picker.legacy_item" else None
        state = self.sc.where()
        if state == "picker.heading":
            with self.ctx.step("account picker: selection not taken"):
                raise NeedsPerson("the account picker is still shown after 'Select account'",
                                  reason="account_picker", url=self.page.url)
        if state == "app.signed_in":
            url_seen = self._url_seen()  # before leaving the address that carries it
            if self.sc.on_ngs():
                with self.ctx.step("New Seller Central shown: open the classic home"):
                    self.sc.leave_ngs()
            self.confirm_header(switch=False, url_seen=url_seen)

    def _kind(self) -> str:
        """Which picker is shown: the current one (its account rows) or the older one."""
        try:
            return self.sel.which(self.page, ["picker.account_group", "picker.legacy_item"])
        except SelectorNotFound as err:
            raise NeedsPerson(f"the account picker lists no accounts ({err})",
                              reason="account_picker", url=self.page.url) from err

    def _choose(self, account: str, marketplace: str) -> None:
        groups = self._all(self.page, "picker.account_group")
        names = [self._label(group) for group in groups]
        hits = exact_matches(account, names)
        if len(hits) != 1:
            raise NeedsPerson(not_one("the account picker", account, names, hits),
                              reason="account_picker", url=self.page.url)
        group, name = groups[hits[0]], strip_markers(names[hits[0]])
        if not self._expanded(name):  # an open account closes when clicked again
            self._find("picker.account", f"account '{name}' cannot be opened",
                       scope=group).click()
            self._wait_expanded(name)
        self._find("picker.marketplace", f"the account picker shows no marketplaces for "
                   f"'{name}'", scope=group)
        rows = self._all(group, "picker.marketplace")
        labels = [self._label(row) for row in rows]
        hits = exact_matches(marketplace, labels)
        if len(hits) != 1:
            raise NeedsPerson(not_one(f"account '{name}'", marketplace, labels, hits),
                              reason="account_picker", url=self.page.url)
        self._find("picker.account", f"marketplace '{marketplace}' cannot be chosen",
                   scope=rows[hits[0]]).click()

    def _expanded(self, account: str) -> bool:
        """Whether the picker shows ``account`` opened now (its label marked expanded)."""
        return any(same_name(self._words(label), account)
                   for label in self._all(self.page, "picker.expanded_account"))

    def _wait_expanded(self, account: str) -> None:
        """Wait until the picker shows ``account`` opened; a stop when it opens another."""
        shown = self._words(self._find("picker.expanded_account",
                                       f"account '{account}' did not open"))
        if not self._expanded(account):
            raise NeedsPerson(f"after opening '{account}', the account picker shows "
                              f"'{shown}' opened", reason="account_picker", url=self.page.url)

    def _read_back(self, account: str, marketplace: str) -> tuple[str, str]:
        """What the picker shows as chosen; a stop unless it is the configured choice."""
        accounts = [strip_markers(self._words(loc))
                    for loc in self._all(self.page, "picker.expanded_account")]
        markets = [strip_markers(self._label(loc))
                   for loc in self._all(self.page, "picker.selected")]
        shown = (f"{' / '.join(accounts) or 'no account'} with "
                 f"{' / '.join(markets) or 'no marketplace'}")
        if (len(accounts) != 1 or len(markets) != 1 or not same_name(accounts[0], account)
                or not same_name(markets[0], marketplace)):
            raise NeedsPerson(f"after choosing, the account picker shows {shown} selected, "
                              f"expected {expected_label(account, marketplace)}",
                              reason="account_picker", url=self.page.url)
        return accounts[0], markets[0]

    def _choose_legacy(self, account: str, marketplace: str) -> tuple[str, str]:
        """The older picker: the account in the first column, then its marketplace in the
        column that opens beside it. Returns the names as the page shows them."""
        first = self.sel.any_of(self.page, "picker.legacy_column").first
        name = self._pick_item(first, account, "the account picker")
        column = self.sel.any_of(self.page, "picker.legacy_column").nth(1)
        self._find("picker.legacy_item", f"the account picker shows no marketplaces for "
                   f"'{name}'", scope=column)
        market = self._pick_item(column, marketplace, f"account '{name}'")
        return name, market

    def _pick_item(self, column: Locator, wanted: str, what: str) -> str:
        items = self._all(column, "picker.legacy_item")
        labels = [self._legacy_name(item) for item in items]
        hits = exact_matches(wanted, labels)
        if len(hits) != 1:
            raise NeedsPerson(not_one(what, wanted, labels, hits), reason="account_picker",
                              url=self.page.url)
        items[hits[0]].click()
        return strip_markers(labels[hits[0]])

    def _legacy_name(self, item: Locator) -> str:
        found = self._all(item, "picker.legacy_name")
        return self._words(found[0] if found else item)

    # --- the account check -----------------------------------------------------------
    def confirm_header(self, *, switch: bool = True, url_seen: Seen | None = None) -> None:
        """Check the run works in the configured account and marketplace, or stop.

        With ``switch``, a page showing another account is switched through the picker
        once (exact matching and read-back as for the picker at sign-in).
        """
        acc = self.ctx.account
        reading = read_header(self.sel, self.page, acc.account_name, acc.marketplace)
        seen = [s for s in (reading.seen, self._picker_seen(), url_seen or self._url_seen(),
                            self._saved_seen()) if s is not None]
        found = verdict(acc.account_name, acc.marketplace, seen, header_text=reading.text)
        shown = reading.text if reading.text is not None else "no account switcher"
        self.ctx.observe("account", reading.text)
        self.ctx.observe("account_confirmed_by", found.confirmed_by)
        self.ctx.observe("account_confirmation", {
            **found.parts, "seen": {s.source: s.text for s in seen},
            "verdict": found.reason or "confirmed"})
        if found.reason is None:
            with self.ctx.step(f"account in the header: {shown}"):
                self._note_choice()
            return
        if (switch and found.reason == "wrong_account" and acc.account_name
                and acc.marketplace):
            source = found.contradicted_by
            where = (f"the header shows {shown}" if source is None or source.source == HEADER
                     else f"the {source.source} shows {source.text}")
            with self.ctx.step(f"switch account: {where}"):
                self.sc.goto(PICKER_PATH)
                self._find("picker.heading", "the account picker did not open")
            self.pick()
            return
        with self.ctx.step(f"account in the header: {shown}"):
            raise NeedsPerson(found.message, reason=found.reason, url=self.page.url)

    def _picker_seen(self) -> Seen | None:
        if self.sc.picked is None:
            return None
        account, marketplace = self.sc.picked
        return Seen(PICKER, account, marketplace, f"{account} / {marketplace}")

    def _url_seen(self) -> Seen | None:
        """The marketplace id the address carries, against the configured marketplace's
        (known from the marketplace table); nothing when either is not known."""
        query = parse_qs(urlparse(self.page.url).query)
        ids = query.get(URL_MARKETPLACE) or []
        wanted = marketplaces.by_name(self.ctx.account.marketplace)
        if len(ids) != 1 or wanted is None:
            return None
        same = ids[0].strip() == wanted.id
        return Seen(URL, None, self.ctx.account.marketplace if same else f"id {ids[0]}",
                    f"{URL_MARKETPLACE}={ids[0]}")

    def _saved_seen(self) -> Seen | None:
        """The choice the saved sign-in was left in, when this run signed in with it (typed
        no password) and it names exactly the configured account and marketplace."""
        acc = self.ctx.account
        if self.sc.password_typed or not acc.account_name or not acc.marketplace:
            return None
        noted = saved_choice.load(self._choice_file())
        if noted is None or not (same_name(noted[0], acc.account_name)
                                 and same_name(noted[1], acc.marketplace)):
            return None
        return Seen(SAVED, noted[0], noted[1], f"{noted[0]} / {noted[1]}")

    def _note_choice(self) -> None:
        """Keep the choice read back in this run for the runs that reuse its sign-in; a new
        sign-in without one leaves nothing noted."""
        path = self._choice_file()
        if self.sc.picked is not None:
            saved_choice.save(path, *self.sc.picked,
                              datetime.now(timezone.utc).isoformat(timespec="seconds"))
        elif self.sc.password_typed:
            saved_choice.drop(path)

    def _choice_file(self) -> Path:
        return saved_choice.choice_file(self.ctx.config.paths.state_dir, self.ctx.account.name)

    # --- helpers ---------------------------------------------------------------------
    def _find(self, key: str, missing: str, *, scope: Scope | None = None) -> Locator:
        """Wait for ``key``; a page without it is one a person must look at."""
        try:
            return self.sel.find(self.page if scope is None else scope, key)
        except SelectorNotFound as err:
            raise NeedsPerson(f"{missing} ({err})", reason="account_picker",
                              url=self.page.url) from err

    def _all(self, scope: Scope, key: str) -> list[Locator]:
        """Every element the first matching candidate of ``key`` finds now (no waiting)."""
        for loc in self.sel.candidates(scope, key):
            try:
                if loc.count():
                    return loc.all()
            except PlaywrightError:
                continue
        return []

    def _label(self, row: Locator) -> str:
        """A picker row's label (its own label element, else its words)."""
        found = self._all(row, "picker.account_name")
        return self._words(found[0] if found else row)

    @staticmethod
    def _words(loc: Locator) -> str:
        return " ".join(loc.inner_text().split())
