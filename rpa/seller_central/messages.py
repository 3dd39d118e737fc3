"""Buyer-Seller Messaging: the needs-response inbox across its pages, and one thread.

Messaging v3 is a single-page app drawn inside components with open shadow roots (the
shared evidence notes, 4c). Everything here is read through Playwright's locators, which
see into open shadow roots; no script of our own walks the page. The app is entered the
way a person enters it, by the home page's own messaging link, since a cold deep link
leaves it unmounted (S2); its list is drawn only in a window at least 1600 px wide (S2);
and its actions change the page without loading another. So no click here waits for a
navigation: each waits for the state it should bring (the reply among the seller's
messages, the thread's status, the next page's rows) or for the page to say why not. The
older, server-drawn inbox is read by the same steps, its page loads being one more way for
that state to arrive.
"""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urljoin, urlparse

from loguru import logger
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator, Page, expect

from rpa.browser.selectors import declare
from rpa.errors import PageError
from rpa.messaging.replies import Message, ThreadView
from rpa.seller_central.signin import SIGNIN_STATES
from rpa.text import clean_line, clean_text

if TYPE_CHECKING:
    from rpa.seller_central.pages import SellerCentral

HOME_PATH = "/home"
INBOX_PATH = "/messaging/inbox-v3?fi=responseNeeded"
THREAD_PATH = "/messaging/thread/{thread_id}"
RESPONSE_NEEDED_VIEW = "responseneeded"  # the inbox address's ``fi``, case and dashes aside
MAX_INBOX_PAGES = 100
RESPONSE_NEEDED = "response needed"
STILL_NEEDED = re.compile(r"^\s*response needed\s*$", re.I)
# (The list pane is not drawn in a window narrower than about 1600 px, evidence S2: the
# browser's viewport, rpa.browser.chromium, is 1600 x 1000.)
ROW_LINK_WAIT_MS = 3000
# Longest name and other one-line field (subject, order, status) taken from a page: what a
# buyer writes there reaches the owner's texts and the buyer's reply.
NAME_LIMIT = 80
LINE_LIMIT = 200
# The pages a click may land on instead of the state it should bring.
LEFT_FOR = tuple(key for key in SIGNIN_STATES if key != "app.signed_in")


# The selectors.yaml keys this module asks for: a file without one of them is refused
# before any browser starts (declared to rpa.browser.selectors).
SELECTOR_KEYS: tuple[str, ...] = (
    "app.server_error",
    "app.signed_in",
    "inbox.empty",
    "inbox.entry_link",
    "inbox.filter_response_needed",
    "inbox.next_page",
    "inbox.row_buyer",
    "inbox.row_link",
    "inbox.row_order_id",
    "inbox.row_subject",
    "inbox.thread_row",
    "thread.buyer",
    "thread.detail",
    "thread.error",
    "thread.from_seller",
    "thread.message",
    "thread.message_text",
    "thread.message_time",
    "thread.no_response",
    "thread.order_id",
    "thread.reply_box",
    "thread.send",
    "thread.status",
    "thread.subject",
)
declare(__name__, SELECTOR_KEYS)


@dataclass
class InboxRow:
    thread_id: str
    buyer: str
    subject: str
    order_id: str
    href: str


def thread_id_from_href(href: str) -> str:
    """The thread id is the last segment of the thread's address."""
    return urlparse(href).path.rstrip("/").rsplit("/", 1)[-1]


def inbox_view(url: str) -> str:
    """The view an inbox address shows (its ``fi``), lower case without dashes: "" when
    it names none."""
    fi = (parse_qs(urlparse(url).query).get("fi") or [""])[0]
    return fi.replace("_", "").replace("-", "").lower()


# --- entering the messaging app ------------------------------------------------------------

# Pages (tabs) that entered the app through Seller Central's own link: there a thread's
# address, opened directly, finds the app mounted.
_entered: weakref.WeakSet[Page] = weakref.WeakSet()


def enter(sc: SellerCentral) -> str:
    """Open messaging as a person does: the home page, then the page's own messaging link,
    until the list (or its empty state) shows. Returns the key that showed
    (``inbox.thread_row`` or ``inbox.empty``)."""
    page = sc.page
    for _ in range(2):  # a second time only after signing in again on the way
        sc.open(HOME_PATH)
        _follow_entry_link(sc)
        shown = sc.sel.which(page, ["inbox.thread_row", "inbox.empty", *LEFT_FOR])
        if shown in ("inbox.thread_row", "inbox.empty"):
            _entered.add(page)
            return shown
        if shown == "app.server_error":
            raise PageError("Seller Central showed a server error instead of the inbox")
        sc.sign_in(shown)
    raise PageError("the inbox did not open after signing in again")


def _follow_entry_link(sc: SellerCentral) -> None:
    """Click the page's messaging link; one in a closed menu is followed by its address,
    from this page (as a click would). Only when the page has no such link on this site is
    the inbox's address opened directly: a cold deep link, which v3 may leave unmounted."""
    page = sc.page
    links = sc.sel.any_of(page, "inbox.entry_link")
    try:
        links.first.wait_for(state="attached", timeout=sc.sel.timeout_ms)
        found = True
    except PlaywrightError:
        found = False
    if found:
        shown = links.filter(visible=True).first
        if shown.count() and _on_site(sc, page.url, shown.get_attribute("href")):
            shown.click()  # a page load or the app's own routing: waited for by what shows
            return
        href = links.first.get_attribute("href")
        if _on_site(sc, page.url, href):
            try:
                page.goto(urljoin(page.url, href or ""), wait_until="domcontentloaded",
                          referer=page.url)
            except PlaywrightError as err:
                raise PageError(f"could not follow the messaging link: "
                                f"{str(err).splitlines()[0]}") from err
            return
    logger.warning("no messaging link on {}; opening the inbox by its address", HOME_PATH)
    sc.goto(INBOX_PATH)


def _on_site(sc: SellerCentral, here: str, href: str | None) -> bool:
    """Whether ``href`` (read on the page at ``here``) leads into this Seller Central."""
    if not href:
        return False
    target, base = urlparse(urljoin(here, href)), urlparse(sc.base)
    return (target.scheme, target.netloc) == (base.scheme, base.netloc)


class Inbox:
    """The needs-response view of Buyer Messages, read across all its pages."""

    def __init__(self, sc: SellerCentral) -> None:
        self.sc = sc
        self.sel = sc.sel

    @property
    def page(self) -> Page:
        return self.sc.page

    def open(self) -> None:
        """Enter messaging and show the Response needed view (the app may add the view to
        its address only once drawn; a view it did not open with is chosen in its nav)."""
        enter(self.sc)
        if inbox_view(self.page.url) == RESPONSE_NEEDED_VIEW:
            return
        self.sel.click(self.page, "inbox.filter_response_needed")
        try:
            self.page.wait_for_url(lambda url: inbox_view(url) == RESPONSE_NEEDED_VIEW,
                                   timeout=self.sel.timeout_ms)
        except PlaywrightError as err:
            raise PageError(f"the inbox did not show its Response needed view (at "
                            f"{self.page.url})") from err

    def needing_response(self) -> list[InboxRow]:
        self.open()
        page = self.page
        rows: list[InboxRow] = []
        seen: set[str] = set()
        for _ in range(MAX_INBOX_PAGES):
            self.sel.which(page, ["inbox.thread_row", "inbox.empty"])
            first_href = ""
            for row in self.sel.any_of(page, "inbox.thread_row").all():
                link = self.sel.find(row, "inbox.row_link", timeout_ms=ROW_LINK_WAIT_MS)
                href = link.get_attribute("href") or ""
                first_href = first_href or href
                tid = thread_id_from_href(href)
                if not tid or tid in seen:
                    continue
                seen.add(tid)
                rows.append(InboxRow(tid, _text(self.sel, row, "inbox.row_buyer"),
                                     _text(self.sel, row, "inbox.row_subject"),
                                     _text(self.sel, row, "inbox.row_order_id"), href))
            nxt = self._next_control()
            if nxt is None:
                return rows
            nxt.click()
            self._next_page_shows(first_href)
        raise PageError(f"the inbox has more than {MAX_INBOX_PAGES} pages; stopped reading")

    def _next_control(self) -> Locator | None:
        """The control to the next page, when there is one that can be used (v3 keeps it
        on the last page, disabled; the legacy inbox drops its link)."""
        nxt = self.sel.any_of(self.page, "inbox.next_page").filter(visible=True).first
        try:
            return nxt if nxt.count() and nxt.is_enabled() else None
        except PlaywrightError:
            return None

    def _next_page_shows(self, first_href: str) -> None:
        """Wait until the list no longer starts with the row it started with (the app
        draws the next page in place; the legacy inbox loads it)."""
        first = self.sel.any_of(self.sel.any_of(self.page, "inbox.thread_row").first,
                                "inbox.row_link").first
        try:
            expect(first).not_to_have_attribute("href", first_href,
                                                timeout=self.sel.timeout_ms)
        except AssertionError as err:
            raise PageError("the inbox's next page did not show") from err
        if self.sc.where() != "app.signed_in":
            raise PageError("the inbox's next page did not open")


def _text(sel: Any, scope: Any, key: str) -> str:
    """The first text ``key`` matches right now, on one line, without hidden characters
    and bounded in length (a buyer's name or subject goes into the owner's texts and the
    buyer's reply): "" when none."""
    return _first(sel.texts(scope, key), key)


def _first(texts: list[str], key: str) -> str:
    """The first of ``texts`` (those ``key`` matched) that is not blank, cleaned as
    :func:`_text` says."""
    limit = NAME_LIMIT if key.endswith("buyer") else LINE_LIMIT
    for text in texts:
        if text.strip():
            return clean_line(text, limit)
    return ""


def same_text(a: str, b: str) -> bool:
    """Texts equal once whitespace is normalised (a page may re-flow line breaks)."""
    return " ".join(a.split()) == " ".join(b.split())


class ThreadPage:
    """One conversation: read it, send a reply, or mark it as needing no response."""

    def __init__(self, sc: SellerCentral, thread_id: str) -> None:
        self.sc = sc
        self.sel = sc.sel
        self.thread_id = thread_id
        self.path = THREAD_PATH.format(thread_id=thread_id)
        self.last: ThreadView | None = None

    @property
    def page(self) -> Page:
        return self.sc.page

    def open(self) -> ThreadPage:
        """Open the thread by its address, once this tab has entered messaging through
        Seller Central's own link (read() waits for the thread itself)."""
        if self.page not in _entered:
            enter(self.sc)
        self.sc.open(self.path)
        return self

    def read(self, *, header: bool = True) -> ThreadView:
        """The thread as shown: header fields and every message with its sender.

        With ``header=False`` the buyer, order and subject of the last read are kept.
        """
        page = self.page
        self.sel.wait(page, "thread.detail")
        self.sel.wait(page, "thread.message")  # a thread shows at least the buyer's message
        nodes = self.sel.any_of(page, "thread.message")
        mine = self.sel.any_of(page, "thread.from_seller")
        count = nodes.count()
        senders = ([False] * count if not mine.count()  # none of ours on the page
                   else [bool(nodes.nth(i).and_(mine).count()) for i in range(count)])
        bodies = self.sel.texts(nodes, "thread.message_text")
        times = self.sel.texts(nodes, "thread.message_time")
        if len(bodies) != len(senders):
            raise PageError(f"thread {self.thread_id}: {len(senders)} messages but "
                            f"{len(bodies)} message texts")
        if len(times) != len(senders):
            times = [""] * len(senders)
        messages = []
        for seller, body, at in zip(senders, bodies, times, strict=True):
            sender = "seller" if seller else "buyer"
            # the buyer's words reach the owner; the seller's stay as sent, to compare
            text = clean_text(body) if sender == "buyer" else body
            messages.append(Message(sender, text, " ".join(at.split())))
        prev = self.last if not header else None
        self.last = ThreadView(
            thread_id=self.thread_id,
            buyer=prev.buyer if prev else _text(self.sel, page, "thread.buyer"),
            order_id=prev.order_id if prev else _text(self.sel, page, "thread.order_id"),
            subject=prev.subject if prev else _text(self.sel, page, "thread.subject"),
            messages=messages, status=_text(self.sel, page, "thread.status"),
            url=self.sc.base + self.path)
        return self.last

    def _settle(self, expected: Locator, action: str) -> str:
        """After a click: wait until ``expected`` shows (the state the click should bring),
        the thread shows an error, or another page (sign-in, a server error) took its place;
        returns where the browser is. Neither in time: the page is read as it is, and the
        caller decides from what it shows."""
        page = self.page
        outcome = expected.or_(self.sel.any_of(page, "thread.error"))
        for key in LEFT_FOR:
            outcome = outcome.or_(self.sel.any_of(page, key))
        try:
            outcome.filter(visible=True).first.wait_for(state="visible",
                                                        timeout=self.sel.timeout_ms)
        except PlaywrightError as err:
            logger.warning("thread {}: nothing showed after {} ({}); reading the page",
                           self.thread_id, action, str(err).splitlines()[0])
        return self.sc.where()

    def _back_on_thread(self, state: str, action: str) -> ThreadView:
        """After an action: sign in again if asked, come back, and read the thread."""
        if state == "app.server_error":
            raise PageError(f"Seller Central showed a server error after {action} on "
                            f"thread {self.thread_id}")
        if state != "app.signed_in":
            self.sc.sign_in(state)
            self.open()
        return self.read(header=False)

    def send(self, text: str) -> ThreadView:
        """Type and send ``text``; returns the thread as the page shows it afterwards, once
        one more message of the seller's shows (or the page says why not).

        The caller checks that the reply is there; this method never sends twice.
        """
        mine = self.sel.any_of(self.page, "thread.from_seller")
        before = mine.count()
        self.sel.fill(self.page, "thread.reply_box", text)
        self.sel.click(self.page, "thread.send")  # waits for the button, as a person would
        return self._back_on_thread(self._settle(mine.nth(before), "sending"), "sending")

    def mark_no_response(self) -> ThreadView:
        """Click "No response needed"; returns the thread once its status no longer says
        a response is needed (or the page says why not)."""
        self.sel.click(self.page, "thread.no_response")
        closed = self.sel.any_of(self.page, "thread.status").filter(has_not_text=STILL_NEEDED)
        state = self._settle(closed, "'No response needed'")
        return self._back_on_thread(state, "'No response needed'")

    def error_text(self) -> str:
        return _text(self.sel, self.page, "thread.error")


def needs_response(view: ThreadView) -> bool:
    """Whether the page still lists the thread as needing a response."""
    if view.status:
        return view.status.lower() == RESPONSE_NEEDED
    return not view.answered
