"""The figures the seller checks: the home page (classic or modern), Manage Orders' Unshipped
view, and Account Health.

Every figure is read on its own. One the page does not show, or shows in a way that cannot
be read with certainty, raises :class:`NotRead` with the reason, so the caller can report it
as not read and keep the others. Numbers and words are read in the account's language
(:mod:`.locale`).

*Unshipped* means the orders the seller still ships themselves (FBM Unshipped): the home
figure labelled Unshipped (classic left column, or the FBM Unshipped line of a modern Open
Orders card), never the Open Orders total; where the home page shows only the total, the
count of Manage Orders' Unshipped view.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from loguru import logger
from playwright.sync_api import Locator

from rpa.browser.selectors import declare
from rpa.errors import PageError, SelectorNotFound
from rpa.seller_central import locale

if TYPE_CHECKING:
    from rpa.seller_central.pages import SellerCentral

ORDERS_PATH = "/orders-v3/unshipped"

# The three figures, by their observation key, as the owner reads them.
UNSHIPPED, PERFORMANCE, BUYER_MESSAGES = "unshipped", "performance", "buyer_messages"
FIGURE_NAMES = {UNSHIPPED: "Unshipped", PERFORMANCE: "Seller Performance",
                BUYER_MESSAGES: "Buyer Messages"}


# The selectors.yaml keys this module asks for: a file without one of them is refused
# before any browser starts (declared to rpa.browser.selectors).
SELECTOR_KEYS: tuple[str, ...] = (
    "health.heading",
    "health.metric_name",
    "health.metric_row",
    "health.metric_status",
    "health.metric_target",
    "health.metric_value",
    "health.overall",
    "home.buyer_messages_count",
    "home.open_orders_total",
    "home.performance_details",
    "home.performance_status",
    "home.unshipped_count",
    "orders.unshipped_count",
)
declare(__name__, SELECTOR_KEYS)


class NotRead(PageError):
    """A figure that is not on the page, or not readable with certainty; ``reason`` says why."""

    def __init__(self, figure: str, reason: str) -> None:
        super().__init__(f"{FIGURE_NAMES.get(figure, figure)} not read: {reason}")
        self.figure = figure
        self.reason = reason


def parse_count(text: str, language: str = "en") -> int:
    """The one whole number in ``text`` as ``language`` writes it ('Unshipped: 1,204' → 1204).

    Raises PageError when the text holds none, several, or one not written as a count.
    """
    try:
        return locale.parse_count(text, language)
    except locale.Unreadable as err:
        raise PageError(str(err)) from err


@dataclass
class Area:
    key: str
    name: str
    value: str
    target: str
    status: str

    def as_dict(self) -> dict[str, str]:
        return dict(self.__dict__)


def _text(loc: Locator) -> str:
    return " ".join(loc.inner_text().split())


class _Figures:
    """What the pages with figures share: the run's page, its selectors and its language."""

    def __init__(self, sc: SellerCentral) -> None:
        self.sc = sc
        self.sel = sc.sel
        self.page = sc.page
        self.language = sc.ctx.account.language

    def _element(self, key: str, figure: str, absent: str) -> Locator:
        try:
            return self.sel.find(self.page, key)
        except SelectorNotFound as err:
            raise NotRead(figure, absent) from err

    def _count(self, key: str, figure: str, absent: str) -> int:
        text = _text(self._element(key, figure, absent))
        try:
            return locale.parse_count(text, self.language)
        except locale.Unreadable as err:
            raise NotRead(figure, str(err)) from err


class Home(_Figures):
    """The dashboard, classic or modern: the same intents, the layouts differ in selectors."""

    def unshipped_count(self) -> int:
        """FBM Unshipped as the home page labels it.

        NotRead when the home page shows only the Open Orders total, or no orders widget:
        the count then lives on Manage Orders (:class:`UnshippedOrders`).
        """
        try:
            key = self.sel.which(self.page, ["home.unshipped_count", "home.open_orders_total"])
        except SelectorNotFound as err:
            raise NotRead(UNSHIPPED, "the home page shows no orders widget") from err
        if key != "home.unshipped_count":
            raise NotRead(UNSHIPPED, "the home page shows only the Open Orders total")
        return self._count(key, UNSHIPPED, "the home page shows no Unshipped figure")

    def buyer_messages_count(self) -> int:
        return self._count("home.buyer_messages_count", BUYER_MESSAGES,
                           "the home page shows no Buyer Messages widget")

    def performance_label(self) -> str:
        """The Seller Performance words exactly as the page shows them ('Gut', 'At Risk')."""
        label = _text(self._element("home.performance_status", PERFORMANCE,
                                    "the home page shows no Seller Performance widget"))
        if not label:
            raise NotRead(PERFORMANCE, "the Seller Performance widget shows no status")
        return label

    def open_performance_details(self) -> AccountHealth:
        link = self.sel.find(self.page, "home.performance_details")
        link.click()
        self.sel.find(self.page, "health.heading")
        return AccountHealth(self.sc)


class UnshippedOrders(_Figures):
    """Manage Orders' Unshipped view: its count is the FBM orders still to ship."""

    def open(self) -> UnshippedOrders:
        self.sc.open(ORDERS_PATH)
        return self

    def count(self) -> int:
        return self._count("orders.unshipped_count", UNSHIPPED,
                           "Manage Orders' Unshipped view shows no count")


class AccountHealth:
    """The Account Health page: overall status and each metric with value and target."""

    def __init__(self, sc: SellerCentral) -> None:
        self.sc = sc
        self.sel = sc.sel
        self.page = sc.page

    def overall(self) -> str:
        return _text(self.sel.find(self.page, "health.overall"))

    def areas(self) -> list[Area]:
        self.sel.find(self.page, "health.metric_row")
        rows = self.sel.any_of(self.page, "health.metric_row").all()
        out = []
        for row in rows:
            out.append(Area(
                key=row.get_attribute("data-metric") or "",
                name=self._cell(row, "health.metric_name"),
                value=self._cell(row, "health.metric_value"),
                target=self._cell(row, "health.metric_target"),
                status=self._cell(row, "health.metric_status"),
            ))
        logger.debug("account health shows {} metrics", len(out))
        return out

    def _cell(self, row: Locator, key: str) -> str:
        return _text(self.sel.find(row, key, timeout_ms=3000))
