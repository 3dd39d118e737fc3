"""The figures the seller checks: the home page (classic or modern) and Manage Orders'
Unshipped view. Account Health has a module of its own (:mod:`.health`).

Every figure is read on its own. One the page does not show, or shows in a way that cannot
be read with certainty, raises :class:`NotRead` with the reason, so the caller can report it
as not read and keep the others. Numbers and words are read in the session's language
(:mod:`.language`, :mod:`.locale`).

Each figure is read by selectors.yaml first and, where none of its selectors shows, by
the words a person reads beside it (:mod:`.labels`): a figure read that way is noted in
:attr:`Home.read_by`, so a reviewer knows which selector to fix.

*Unshipped* means the orders the seller still ships themselves (FBM Unshipped): the home
figure labelled Unshipped (classic left column, or the FBM Unshipped line of a modern Open
Orders card), never the Open Orders total; where the home page shows only the total, the
count of Manage Orders' Unshipped view.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator

from rpa.browser.selectors import declare
from rpa.errors import PageError, SelectorNotFound
from rpa.seller_central import beside, health, locale
from rpa.seller_central.health import AccountHealth
from rpa.seller_central.language import session_language

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
    "home.buyer_messages_count",
    "home.open_orders_total",
    "home.performance_details",
    "home.performance_status",
    "home.unshipped_count",
    "orders.unshipped_count",
    *health.SELECTOR_KEYS,
)
declare(__name__, SELECTOR_KEYS)
# How a figure read by its label is noted (Home.read_by, run.json's read_by).
LABEL = health.LABEL


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


def _text(loc: Locator) -> str:
    return " ".join(loc.inner_text().split())


def _label_pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    """Text that starts with one of ``words`` and goes on with no further word: 'Unshipped',
    'Unshipped: 3', 'Unshipped (3)', not 'Unshipped orders'."""
    either = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"^\s*(?:{either})(?:\s*$|\s*[:：(]|\s*\d)", re.I)


class _Figures:
    """What the pages with figures share: the run's page, its selectors and its language."""

    def __init__(self, sc: SellerCentral) -> None:
        self.sc = sc
        self.sel = sc.sel
        self.page = sc.page
        self.language = session_language(sc)
        # Figures read by the words beside their label: figure → "label".
        self.read_by: dict[str, str] = {}

    def _labels(self, figure: str) -> tuple[str, ...]:
        return locale.labels_for(locale.FIGURE_LABELS[figure], self.language)

    def _stops(self) -> tuple[str, ...]:
        """Every figure's labels: where a text beside one label turns to another."""
        return tuple(w for f in locale.FIGURE_LABELS for w in self._labels(f))

    def _shown(self, keys: list[str], figure: str, absent: str) -> str | None:
        """Wait until one of ``keys`` or the figure's label shows; the first key (in order)
        that shows, or None when only the label does. NotRead(``absent``) when nothing
        shows within the timeout."""
        waits = [self.sel.any_of(self.page, key) for key in keys]
        label = self.page.get_by_text(_label_pattern(self._labels(figure)))
        combined = label
        for loc in waits:
            combined = combined.or_(loc)
        try:
            combined.filter(visible=True).first.wait_for(state="visible",
                                                         timeout=self.sel.timeout_ms)
        except PlaywrightError as err:
            raise NotRead(figure, absent) from err
        for key in keys:
            if self.sel.present(self.page, key):
                return key
        return None

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

    def label_reads(self, figure: str) -> str | None:
        """What the words beside the figure's label read now, or None when they read no
        certain value (no waiting): ``rpa selectors check`` tells a figure its selectors
        miss but its label still gives."""
        words = self._labels(figure)
        found = beside.find_beside(self.page, words)
        if not found:
            return None
        try:
            if figure == PERFORMANCE:
                return beside.word_beside(found, words[0], self._stops())
            return str(beside.count_beside(found, self.language, words[0], self._stops()))
        except beside.NotBeside:
            return None

    def _count_by_label(self, figure: str, absent: str) -> int:
        words = self._labels(figure)
        found = beside.find_beside(self.page, words)
        if not found:
            raise NotRead(figure, absent)
        try:
            value = beside.count_beside(found, self.language, words[0], self._stops())
        except beside.NotBeside as err:
            raise NotRead(figure, f"no selector matched, and by its label: {err}") from err
        self.read_by[figure] = LABEL
        return value


class Home(_Figures):
    """The dashboard, classic or modern: the same intents, the layouts differ in selectors;
    a layout whose selectors are unknown is read by its labels."""

    def unshipped_count(self) -> int:
        """FBM Unshipped as the home page labels it.

        NotRead when the home page shows only the Open Orders total, or no orders widget:
        the count then lives on Manage Orders (:class:`UnshippedOrders`).
        """
        absent = "the home page shows no orders widget"
        key = self._shown(["home.unshipped_count", "home.open_orders_total"], UNSHIPPED,
                          absent)
        if key == "home.unshipped_count":
            return self._count(key, UNSHIPPED, "the home page shows no Unshipped figure")
        try:
            return self._count_by_label(UNSHIPPED, absent)
        except NotRead:
            if key == "home.open_orders_total":
                raise NotRead(UNSHIPPED,
                              "the home page shows only the Open Orders total") from None
            raise

    def buyer_messages_count(self) -> int:
        absent = "the home page shows no Buyer Messages widget"
        key = self._shown(["home.buyer_messages_count"], BUYER_MESSAGES, absent)
        if key is not None:
            return self._count(key, BUYER_MESSAGES, absent)
        return self._count_by_label(BUYER_MESSAGES, absent)

    def performance_label(self) -> str:
        """The Seller Performance words exactly as the page shows them ('Gut', 'At Risk')."""
        absent = "the home page shows no Seller Performance widget"
        key = self._shown(["home.performance_status"], PERFORMANCE, absent)
        if key is not None:
            label = _text(self._element(key, PERFORMANCE, absent))
            if not label:
                raise NotRead(PERFORMANCE, "the Seller Performance widget shows no status")
            return label
        words = self._labels(PERFORMANCE)
        found = beside.find_beside(self.page, words)
        if not found:
            raise NotRead(PERFORMANCE, absent)
        try:
            label = beside.word_beside(found, words[0], self._stops())
        except beside.NotBeside as err:
            raise NotRead(PERFORMANCE, f"no selector matched, and by its label: {err}") from err
        self.read_by[PERFORMANCE] = LABEL
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
        absent = "Manage Orders' Unshipped view shows no count"
        key = self._shown(["orders.unshipped_count"], UNSHIPPED, absent)
        if key is not None:
            return self._count(key, UNSHIPPED, absent)
        return self._count_by_label(UNSHIPPED, absent)
