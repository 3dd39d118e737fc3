"""Working in the configured account: the "Select an account" page and the header's switcher.

Account and marketplace names are compared exactly after normalisation (runs of whitespace
collapsed, case folded), never by substring: "Acme Goods" is not "Acme Goods Outlet", and
"United States" is not "United States (Business)". The names are read from the page and
the one equal to the configured name is chosen; none or several equal is a stop for a
person. After choosing, what the page says is selected is read back (on the picker before
confirming, then in the header's account switcher), and steps are named after what the page
shows, not after the configuration.

On every run the login flow checks the header's account switcher
(:meth:`AccountPicker.confirm_header`). A header showing another account (a saved browser
state can land there) is switched through the picker, with the same exact matching and
read-back; a header that cannot confirm the configured account stops the run. A header
without a switcher confirms nothing: that is accepted only when the configuration names no
account and marketplace (a single-account seller), and stops the run otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from playwright.sync_api import Error as PlaywrightError

from rpa.browser.selectors import declare
from rpa.errors import NeedsPerson, SelectorNotFound

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

    from rpa.browser.selectors import Scope
    from rpa.seller_central.pages import SellerCentral


def normalise(name: str) -> str:
    """A name as compared: runs of whitespace made one space, ends trimmed, case folded."""
    return " ".join(name.split()).casefold()


def same_name(a: str, b: str) -> bool:
    """Whether two names are equal after normalisation (never a substring test)."""
    return normalise(a) == normalise(b)


def exact_matches(wanted: str, offered: Sequence[str]) -> list[int]:
    """Positions of the offered names equal to ``wanted`` after normalisation."""
    key = normalise(wanted)
    return [i for i, name in enumerate(offered) if normalise(name) == key]


def parse_switcher(label: str) -> tuple[str, str] | None:
    """The header switcher's "<account> | <marketplace>" as (account, marketplace).

    The marketplace is what follows the last "|"; None when the text is not of that shape.
    """
    account, sep, marketplace = label.rpartition("|")
    account, marketplace = " ".join(account.split()), " ".join(marketplace.split())
    if not sep or not account or not marketplace:
        return None
    return account, marketplace


def expected_label(account: str | None, marketplace: str | None) -> str:
    """The configured account and marketplace, written the way the header shows them."""
    return " | ".join(part for part in (account, marketplace) if part)


def header_problem(account: str | None, marketplace: str | None,
                   label: str | None) -> tuple[str, str] | None:
    """Why the header's switcher text does not confirm the configured account, if it does not.

    Returns (reason, message), or None when the header confirms it (or nothing is
    configured to confirm). ``label`` is None when the header shows no switcher.
    """
    if not account and not marketplace:
        return None
    expected = expected_label(account, marketplace)
    if label is None:
        return ("account_unconfirmed",
                f"the header shows no account switcher, so the account cannot be confirmed "
                f"as {expected} (a seller with a single account may leave "
                f"accounts[].account_name and marketplace unset)")
    parsed = parse_switcher(label)
    if parsed is None:
        return ("account_unconfirmed",
                f"the header's account switcher shows '{label}', which is not "
                f"'<account> | <marketplace>'; expected {expected}")
    shown_account, shown_marketplace = parsed
    if ((account and not same_name(account, shown_account))
            or (marketplace and not same_name(marketplace, shown_marketplace))):
        return ("wrong_account", f"signed in to {label}, expected {expected}")
    return None


def _not_one(what: str, wanted: str, offered: Sequence[str], hits: Sequence[int]) -> str:
    listed = ", ".join(f"'{name}'" for name in offered) or "nothing"
    verdict = "none is" if not hits else f"{len(hits)} are"
    return f"{what} offers {listed}; {verdict} exactly '{wanted}'"


# The selectors.yaml keys this module asks for: a file without one of them is refused
# before any browser starts (declared to rpa.browser.selectors).
SELECTOR_KEYS: tuple[str, ...] = (
    "app.account_switcher",
    "app.signed_in",
    "picker.account",
    "picker.account_group",
    "picker.account_name",
    "picker.confirm",
    "picker.heading",
    "picker.marketplace",
    "picker.selected_account",
    "picker.selected_marketplace",
)
declare(__name__, SELECTOR_KEYS)


class AccountPicker:
    """The account and marketplace picker, and the header's switcher that shows the choice."""

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
            self._choose(acc.account_name, acc.marketplace)
            account, marketplace = self._read_back(acc.account_name, acc.marketplace)
        with self.ctx.step(f"select account: {account} / {marketplace}"):
            confirm = self._find("picker.confirm", "the picker shows no 'Select account' button")
            with self.page.expect_navigation(wait_until="domcontentloaded"):
                confirm.click()
        state = self.sc.where()
        if state == "picker.heading":
            with self.ctx.step("account picker: selection not taken"):
                raise NeedsPerson("the account picker is still shown after 'Select account'",
                                  reason="account_picker", url=self.page.url)
        if state == "app.signed_in":
            self.confirm_header(switch=False)

    def _choose(self, account: str, marketplace: str) -> None:
        self._find("picker.account_group", "the account picker lists no accounts")
        groups = self._all(self.page, "picker.account_group")
        names = [self._account_name(group) for group in groups]
        hits = exact_matches(account, names)
        if len(hits) != 1:
            raise NeedsPerson(_not_one("the account picker", account, names, hits),
                              reason="account_picker", url=self.page.url)
        group, name = groups[hits[0]], names[hits[0]]
        self._find("picker.account", f"account '{name}' cannot be opened", scope=group).click()
        self._find("picker.marketplace", f"the account picker shows no marketplaces for "
                   f"'{name}'", scope=group)
        markets = self._all(group, "picker.marketplace")
        market_names = [_text(m) for m in markets]
        hits = exact_matches(marketplace, market_names)
        if len(hits) != 1:
            raise NeedsPerson(_not_one(f"account '{name}'", marketplace, market_names, hits),
                              reason="account_picker", url=self.page.url)
        markets[hits[0]].click()

    def _read_back(self, account: str, marketplace: str) -> tuple[str, str]:
        """What the picker shows as selected; a stop unless it is the configured choice."""
        accounts = [_text(loc) for loc in self._all(self.page, "picker.selected_account")]
        markets = [_text(loc) for loc in self._all(self.page, "picker.selected_marketplace")]
        shown = (f"{' / '.join(accounts) or 'no account'} with "
                 f"{' / '.join(markets) or 'no marketplace'}")
        if (len(accounts) != 1 or len(markets) != 1 or not same_name(accounts[0], account)
                or not same_name(markets[0], marketplace)):
            raise NeedsPerson(f"after choosing, the account picker shows {shown} selected, "
                              f"expected {expected_label(account, marketplace)}",
                              reason="account_picker", url=self.page.url)
        return accounts[0], markets[0]

    def _account_name(self, group: Locator) -> str:
        found = self._all(group, "picker.account_name")
        return _text(found[0]) if found else ""

    # --- the header ------------------------------------------------------------------
    def header_label(self) -> str | None:
        """The header's account switcher text now, or None when the header shows none."""
        found = self._all(self.page, "app.account_switcher")
        return _text(found[0]) if found else None

    def confirm_header(self, *, switch: bool = True) -> None:
        """Check the header shows the configured account and marketplace, or stop.

        With ``switch``, a header showing another account is switched through the picker
        once (exact matching and read-back as for the picker at sign-in).
        """
        acc = self.ctx.account
        label = self.header_label()
        problem = header_problem(acc.account_name, acc.marketplace, label)
        shown = label if label is not None else "no account switcher"
        if problem is None:
            with self.ctx.step(f"account in the header: {shown}"):
                self.ctx.observe("account", label)
            return
        reason, message = problem
        if switch and reason == "wrong_account" and acc.account_name and acc.marketplace:
            with self.ctx.step(f"switch account: the header shows {shown}"):
                self._find("app.account_switcher", "the header's account switcher is gone").click()
                self._find("picker.heading", "the header's account switcher did not open the "
                           "account picker")
            self.pick()
            return
        with self.ctx.step(f"account in the header: {shown}"):
            raise NeedsPerson(message, reason=reason, url=self.page.url)

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


def _text(loc: Locator) -> str:
    return " ".join(loc.inner_text().split())
