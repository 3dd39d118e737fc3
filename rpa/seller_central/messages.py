"""Buyer-Seller Messaging: the needs-response inbox across its pages, and one thread."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page

from rpa.errors import PageError
from rpa.seller_central.replies import Message, ThreadView
from rpa.text import clean_line, clean_text

if TYPE_CHECKING:
    from rpa.seller_central.pages import SellerCentral

INBOX_PATH = "/messaging/inbox-v3?fi=responseNeeded"
THREAD_PATH = "/messaging/thread/{thread_id}"
MAX_INBOX_PAGES = 100
RESPONSE_NEEDED = "response needed"
# Longest name and other one-line field (subject, order, status) taken from a page: what a
# buyer writes there reaches the owner's texts and the buyer's reply.
NAME_LIMIT = 80
LINE_LIMIT = 200


# The selectors.yaml keys this module asks for: a file without one of them is refused
# before any browser starts (rpa.seller_central.selectors.declared_keys).
SELECTOR_KEYS: tuple[str, ...] = (
    "app.server_error",
    "app.signed_in",
    "inbox.empty",
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


class Inbox:
    """The needs-response view of Buyer Messages, read across all its pages."""

    def __init__(self, sc: SellerCentral) -> None:
        self.sc = sc
        self.sel = sc.sel

    def needing_response(self) -> list[InboxRow]:
        self.sc.open(INBOX_PATH)
        page = self.sc.page
        rows: list[InboxRow] = []
        seen: set[str] = set()
        for _ in range(MAX_INBOX_PAGES):
            self.sel.which(page, ["inbox.thread_row", "inbox.empty"])
            for row in self.sel.any_of(page, "inbox.thread_row").all():
                link = self.sel.find(row, "inbox.row_link", timeout_ms=3000)
                href = link.get_attribute("href") or ""
                tid = thread_id_from_href(href)
                if not tid or tid in seen:
                    continue
                seen.add(tid)
                rows.append(InboxRow(tid, _text(self.sel, row, "inbox.row_buyer"),
                                     _text(self.sel, row, "inbox.row_subject"),
                                     _text(self.sel, row, "inbox.row_order_id"), href))
            if not self.sel.present(page, "inbox.next_page"):
                return rows
            nxt = self.sel.find(page, "inbox.next_page")
            with page.expect_navigation(wait_until="domcontentloaded"):
                nxt.click()
            if self.sc.where() != "app.signed_in":
                raise PageError("the inbox's next page did not open")
        raise PageError(f"the inbox has more than {MAX_INBOX_PAGES} pages; stopped reading")


def _text(sel: Any, scope: Any, key: str) -> str:
    """The first text ``key`` matches right now, on one line, without hidden characters
    and bounded in length (a buyer's name or subject goes into the owner's texts and the
    buyer's reply): "" when none."""
    limit = NAME_LIMIT if key.endswith("buyer") else LINE_LIMIT
    for text in sel.texts(scope, key):
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
        self.sc.open(self.path)  # read() waits for the thread itself
        return self

    def read(self, *, header: bool = True) -> ThreadView:
        """The thread as shown: header fields and every message with its sender.

        Few round trips on purpose: all bodies and all times are read in one call each;
        with ``header=False`` the buyer, order and subject of the last read are kept.
        """
        page = self.page
        self.sel.wait(page, "thread.detail")
        nodes = self.sel.any_of(page, "thread.message").all()
        bodies = self.sel.texts(self.sel.any_of(page, "thread.message"), "thread.message_text")
        times = self.sel.texts(self.sel.any_of(page, "thread.message"), "thread.message_time")
        if len(bodies) != len(nodes):
            raise PageError(f"thread {self.thread_id}: {len(nodes)} messages but "
                            f"{len(bodies)} message texts")
        if len(times) != len(nodes):
            times = [""] * len(nodes)
        messages = []
        for node, body, at in zip(nodes, bodies, times, strict=True):
            sender = "seller" if self.sel.any_of(node, "thread.from_seller").count() else "buyer"
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

    def _act(self, key: str) -> str:
        """Click an action and wait for the page that follows; returns where the browser is."""
        button = self.sel.wait(self.page, key)
        try:
            with self.page.expect_navigation(wait_until="domcontentloaded"):
                button.click()
        except PlaywrightError as err:
            raise PageError(f"{key}: the page did not answer ({str(err).splitlines()[0]})"
                            ) from err
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
        """Type and send ``text``; returns the thread as the page shows it afterwards.

        The caller checks that the reply is there; this method never sends twice.
        """
        self.sel.wait(self.page, "thread.reply_box").fill(text)
        return self._back_on_thread(self._act("thread.send"), "sending")

    def mark_no_response(self) -> ThreadView:
        return self._back_on_thread(self._act("thread.no_response"), "'No response needed'")

    def error_text(self) -> str:
        return _text(self.sel, self.page, "thread.error")


def needs_response(view: ThreadView) -> bool:
    """Whether the page still lists the thread as needing a response."""
    if view.status:
        return view.status.lower() == RESPONSE_NEEDED
    return not view.answered
