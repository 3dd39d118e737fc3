"""Seller Central for one account: navigation, where the browser is, and the way to each page.

Locators come from selectors.yaml by key. Every page may bounce to sign-in when the
session expires; :meth:`SellerCentral.open` signs in again (:mod:`.signin`) and returns
to the page asked for. The page objects themselves live in :mod:`.home` (dashboard and
Account Health) and :mod:`.messages` (Buyer Messages).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlparse

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page

from rpa.browser.selectors import declare
from rpa.errors import NeedsPerson, PageError, SelectorNotFound
from rpa.seller_central.home import Home
from rpa.seller_central.messages import Inbox, ThreadPage
from rpa.seller_central.signin import SIGNED_IN_LOOKALIKES, SIGNIN_STATES, SignIn

if TYPE_CHECKING:
    from rpa.run.context import RunContext


# The selectors.yaml keys this module asks for: a file without one of them is refused
# before any browser starts (declared to rpa.browser.selectors).
SELECTOR_KEYS: tuple[str, ...] = (
    "app.signed_in",
)
declare(__name__, SELECTOR_KEYS)


class SellerCentral:
    """The Seller Central site for one account, driven through the run's page."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.sel = ctx.selectors
        self.base = ctx.account.base_url

    @property
    def page(self) -> Page:
        return self.ctx.page

    # --- navigation ------------------------------------------------------------------
    def goto(self, path: str) -> None:
        try:
            resp = self.page.goto(self.base + path, wait_until="domcontentloaded")
        except PlaywrightError as err:
            raise PageError(f"could not load {path}: {str(err).splitlines()[0]}") from err
        if resp is not None and resp.status >= 500:
            raise PageError(f"HTTP {resp.status} from {path}")

    def where(self, timeout_ms: int | None = None) -> str:
        """Which known page the browser shows now."""
        if self._signed_in_now():
            return "app.signed_in"  # the common case, in one round trip
        try:
            return self.sel.which(self.page, SIGNIN_STATES, timeout_ms=timeout_ms)
        except SelectorNotFound as err:
            raise NeedsPerson(f"an unknown page is shown at {self.page.url}",
                              reason="unknown_page", url=self.page.url) from err

    def _signed_in_now(self) -> bool:
        """Whether the signed-in frame shows and none of the pages that look like it (the
        first match of each visible, as ``Selectors.present`` asks): two round trips.

        Both run in Playwright's own script world, as waits and clicks do. A check in the
        page's world (``evaluate_all``) would set Playwright's selector script up a second
        time on every page load, about 40 ms of the page's CPU each time.
        """
        return (self.sel.present(self.page, "app.signed_in")
                and not self.sel.present_any(self.page, SIGNED_IN_LOOKALIKES))

    def open(self, path: str) -> None:
        """Open ``path`` signed in: sign in first if Seller Central asks, then come back."""
        self.goto(path)
        state = self.where()
        if state == "app.signed_in":
            return
        self.sign_in(state)
        if urlparse(self.page.url).path != urlparse(self.base + path).path:
            self.goto(path)
            if self.where() != "app.signed_in":
                raise PageError(f"{path} did not open after signing in")

    # --- sign-in ---------------------------------------------------------------------
    def sign_in(self, state: str | None = None) -> None:
        """Walk the sign-in pages until signed in (see :class:`~.signin.SignIn`)."""
        SignIn(self).run(state)

    # --- pages -----------------------------------------------------------------------
    def inbox(self) -> Inbox:
        return Inbox(self)

    def thread(self, thread_id: str) -> ThreadPage:
        return ThreadPage(self, thread_id).open()

    def home(self) -> Home:
        self.open("/home")
        return Home(self)
