"""Buyer-Seller Messaging: the needs-response inbox across its pages, and one thread."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from loguru import logger
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page

from rpa.browser.selectors import declare
from rpa.errors import PageError
from rpa.messaging.replies import Message, ThreadView
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
# before any browser starts (declared to rpa.browser.selectors).
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
    return _first(sel.texts(scope, key), key)


def _first(texts: list[str], key: str) -> str:
    """The first of ``texts`` (those ``key`` matched) that is not blank, cleaned as
    :func:`_text` says."""
    limit = NAME_LIMIT if key.endswith("buyer") else LINE_LIMIT
    for text in texts:
        if text.strip():
            return clean_line(text, limit)
    return ""


# Playwright's idea of visible, for the page script below.
VISIBLE_JS = """
  const visible = (el) => {
    if (!el) return false;
    if (el.checkVisibility && !el.checkVisibility()) return false;
    if (getComputedStyle(el).visibility !== 'visible') return false;
    const box = el.getBoundingClientRect();
    return box.width > 0 && box.height > 0;
  };
"""

# The thread page's fields read at once (ThreadPage._read_at_once), by their thread.* key.
THREAD_FIELDS = ("detail", "message", "message_text", "message_time", "from_seller", "buyer",
                 "order_id", "subject", "status")
# Each key's candidates resolved as Playwright resolves them: css by querySelectorAll from
# the scope, "xpath=" from the scope node, the union in page order; texts are innerText
# (Playwright's all_inner_texts); null while the thread (its first match) is not visible,
# as Playwright sees it. A selector the page cannot take throws: read key by key.
READ_THREAD_JS = """
(keys) => {""" + VISIBLE_JS + """  const find = (root, sels) => {
    const found = new Set();
    for (let sel of sels) {
      if (sel.startsWith('xpath=')) {
        const doc = root.ownerDocument || root;
        const res = doc.evaluate(sel.slice(6), root, null,
                                 XPathResult.ORDERED_NODE_SNAPSHOT_TYPE, null);
        for (let i = 0; i < res.snapshotLength; i++) {
          if (res.snapshotItem(i).nodeType === 1) found.add(res.snapshotItem(i));
        }
        continue;
      }
      if (sel.startsWith('css=')) sel = sel.slice(4);
      root.querySelectorAll(sel).forEach((el) => found.add(el));
    }
    return [...found].sort((a, b) => (a === b ? 0
      : (a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING ? -1 : 1)));
  };
  const texts = (root, sels) => find(root, sels).map((el) => el.innerText);
  if (!visible(find(document, keys.detail)[0])) return null;
  const nodes = find(document, keys.message);
  const within = (sels) => {
    const found = new Set();
    for (const node of nodes) find(node, sels).forEach((el) => found.add(el));
    return [...found].map((el) => el.innerText);
  };
  return {seller: nodes.map((node) => find(node, keys.from_seller).length > 0),
          bodies: within(keys.message_text), times: within(keys.message_time),
          buyer: texts(document, keys.buyer),
          order_id: texts(document, keys.order_id), subject: texts(document, keys.subject),
          status: texts(document, keys.status)};
}
"""


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

        One round trip once the thread shows: every field is read by one evaluate call
        when selectors.yaml gives the thread's keys as CSS (else key by key, as before);
        with ``header=False`` the buyer, order and subject of the last read are kept.
        """
        shown = self._read_at_once(header)
        if shown is None:  # not showing yet (or not plain CSS): wait for it, read again
            self.sel.wait(self.page, "thread.detail")
            shown = self._read_at_once(header) or self._read_by_key(header)
        senders, bodies, times = shown["seller"], shown["bodies"], shown["times"]
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
            buyer=prev.buyer if prev else _first(shown["buyer"], "thread.buyer"),
            order_id=prev.order_id if prev else _first(shown["order_id"], "thread.order_id"),
            subject=prev.subject if prev else _first(shown["subject"], "thread.subject"),
            messages=messages, status=_first(shown["status"], "thread.status"),
            url=self.sc.base + self.path)
        return self.last

    def _read_at_once(self, header: bool) -> dict[str, Any] | None:
        """Every field of the thread page in one evaluate call, when the thread shows;
        None when it does not (yet), a key is not plain CSS or the page cannot take a
        selector."""
        keys = {name: self.sel.plain(f"thread.{name}") for name in THREAD_FIELDS}
        if not header:
            for name in ("buyer", "order_id", "subject"):
                keys[name] = []
        if any(sels is None for sels in keys.values()):
            return None
        try:
            shown = self.page.evaluate(READ_THREAD_JS, keys)
        except PlaywrightError as err:
            logger.debug("thread page read key by key: {}", str(err).splitlines()[0])
            return None
        return dict(shown) if isinstance(shown, dict) else None

    def _read_by_key(self, header: bool) -> dict[str, Any]:
        """The same fields through Playwright's locators, a few round trips per field."""
        page = self.page
        nodes = self.sel.any_of(page, "thread.message").all()
        out: dict[str, Any] = {
            "seller": [bool(self.sel.any_of(node, "thread.from_seller").count())
                       for node in nodes],
            "bodies": self.sel.texts(self.sel.any_of(page, "thread.message"),
                                     "thread.message_text"),
            "times": self.sel.texts(self.sel.any_of(page, "thread.message"),
                                    "thread.message_time")}
        for name in ("buyer", "order_id", "subject", "status"):
            out[name] = (self.sel.texts(page, f"thread.{name}")
                         if header or name == "status" else [])
        return out

    def _act(self, key: str) -> str:
        """Click an action and wait for the page that follows; returns where the browser is."""
        try:
            with self.page.expect_navigation(wait_until="domcontentloaded"):
                self.sel.click(self.page, key)  # waits for the button, as a person would
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
        self.sel.fill(self.page, "thread.reply_box", text)
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
