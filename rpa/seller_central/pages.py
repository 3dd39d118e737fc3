"""Seller Central for one account: navigation, where the browser is, and the way to each page.

Locators come from selectors.yaml by key. Every page may bounce to sign-in when the
session expires; :meth:`SellerCentral.open` signs in again (:mod:`.signin`) and returns
to the page asked for. The page objects themselves live in :mod:`.home` (dashboard and
Account Health) and :mod:`.messages` (Buyer Messages).

New Seller Central's dashboard (:mod:`.ngs`) is a signed-in page with a frame of its own:
:meth:`SellerCentral.where` places it as signed in, and :meth:`SellerCentral.home` never
reads figures from it.
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
from rpa.seller_central.ngs import HOME_PATH, NgsHome
from rpa.seller_central.signin import SIGNED_IN_LOOKALIKES, SIGNIN_STATES, SignIn

if TYPE_CHECKING:
    from rpa.run.context import RunContext


# The selectors.yaml keys this module asks for: a file without one of them is refused
# before any browser starts (declared to rpa.browser.selectors).
SELECTOR_KEYS: tuple[str, ...] = (
    "app.ngs_home",
    "app.signed_in",
)
declare(__name__, SELECTOR_KEYS)
SIGNED_IN = ("app.signed_in", "app.ngs_home")


class SellerCentral:
    """The Seller Central site for one account, driven through the run's page."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.sel = ctx.selectors
        self.base = ctx.account.base_url
        # Whether this run typed the password (a new session), and the account and
        # marketplace it chose and read back on the picker: what the account check may
        # rely on (rpa.seller_central.picker).
        self.password_typed = False
        self.picked: tuple[str, str] | None = None

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
            state = self.sel.which(self.page, [*SIGNIN_STATES, "app.ngs_home"],
                                   timeout_ms=timeout_ms)
        except SelectorNotFound as err:
            raise NeedsPerson(f"an unknown page is shown at {self.page.url}",
                              reason="unknown_page", url=self.page.url) from err
        return "app.signed_in" if state == "app.ngs_home" else state

    def on_ngs(self) -> bool:
        """Whether New Seller Central's dashboard is shown now (no waiting)."""
        return self.sel.present(self.page, "app.ngs_home")

    def leave_ngs(self) -> bool:
        """On New Seller Central's dashboard (a redirect that dropped the opt-out flag),
        open the classic home with the flag instead; whether it had to. Returns once the
        next page is placed (:meth:`where`)."""
        if not self.on_ngs():
            return False
        self.goto(HOME_PATH)
        self.where()
        return True

    def _signed_in_now(self) -> bool:
        """Whether a signed-in page shows (the classic frame, or New Seller Central's
        dashboard) and none of the pages that look like it (any visible match, as
        ``Selectors.present`` asks): two round trips.

        Both run in Playwright's own script world, as waits and clicks do. A check in the
        page's world (``evaluate_all``) would set Playwright's selector script up a second
        time on every page load, about 40 ms of the page's CPU each time.
        """
        return (self.sel.present_any(self.page, SIGNED_IN)
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
        walk = SignIn(self)
        try:
            walk.run(state)
        finally:
            self.password_typed = self.password_typed or walk.password_typed

    # --- pages -----------------------------------------------------------------------
    def inbox(self) -> Inbox:
        return Inbox(self)

    def thread(self, thread_id: str) -> ThreadPage:
        return ThreadPage(self, thread_id).open()

    def home(self) -> Home:
        """The classic home page (opened with New Seller Central's opt-out flag); on the
        NGS dashboard, a home whose figures are all "not read" (:class:`.ngs.NgsHome`)."""
        self.open(HOME_PATH)
        if self.on_ngs():
            return NgsHome(self)
        return Home(self)
