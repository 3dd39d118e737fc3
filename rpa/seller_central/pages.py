"""Page objects for Seller Central: each wraps one page and offers intents, not selectors.

Locators come from selectors.yaml by key. The sign-in routine lives here because every
page may bounce to sign-in when the session expires; :meth:`SellerCentral.open` signs in
again transparently and returns to the page asked for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from loguru import logger
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator, Page

from rpa.errors import NeedsPerson, PageError, SelectorNotFound
from rpa.seller_central.otp import fresh_code, totp
from rpa.seller_central.replies import Message, ThreadView

if TYPE_CHECKING:
    from rpa.run.context import RunContext

# Pages the sign-in routine recognises, in the order they are checked.
SIGNIN_STATES = [
    "challenge.captcha",
    "challenge.cvf",
    "mfa.select_device",
    "app.server_error",
    "picker.heading",
    "mfa.code",
    "signin.password",
    "signin.email",
    "signin.fixup_skip",
    "signin.use_password",
    "app.signed_in",
]
NEEDS_PERSON = {
    "challenge.captcha": ("captcha", "a CAPTCHA (Robot Check) is shown"),
    "challenge.cvf": ("verification", "Amazon sent a verification code by email/SMS"),
    "mfa.select_device": ("otp_device", "Amazon asks which device should get a code"),
}
# Pages drawn inside the signed-in frame that still are not a signed-in page.
SIGNED_IN_LOOKALIKES = ("app.server_error", "picker.heading", "challenge.captcha")
MAX_SIGNIN_PAGES = 12
MAX_OTP_TRIES = 2
ASSIST_MINUTES = 10


def parse_count(text: str) -> int:
    """The last whole number in a text such as 'Unshipped: 1,204'."""
    found = re.findall(r"\d[\d,]*", text)
    if not found:
        raise PageError(f"no number in {text!r}")
    return int(found[-1].replace(",", ""))


@dataclass
class Area:
    key: str
    name: str
    value: str
    target: str
    status: str

    def as_dict(self) -> dict[str, str]:
        return dict(self.__dict__)


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
        if (self.sel.present(self.page, "app.signed_in")
                and not self.sel.present_any(self.page, SIGNED_IN_LOOKALIKES)):
            return "app.signed_in"  # the common case, in a few round trips
        try:
            return self.sel.which(self.page, SIGNIN_STATES, timeout_ms=timeout_ms)
        except SelectorNotFound as err:
            raise NeedsPerson(f"an unknown page is shown at {self.page.url}",
                              reason="unknown_page", url=self.page.url) from err

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
        """Walk the sign-in pages (email, password, OTP, account picker) until signed in.

        With ``assist`` (a VA watching a visible browser), a page only a person can clear
        is left to the VA: the bot waits for the signed-in page, then saves the state.
        """
        try:
            self._sign_in(state)
        except NeedsPerson as err:
            if not self.ctx.assist:
                raise
            logger.warning("{} — finish the sign-in in the browser window; waiting up to "
                           "{} minutes", err, ASSIST_MINUTES)
            with self.ctx.step("signed in by the VA"):
                self.sel.find(self.page, "app.signed_in", timeout_ms=ASSIST_MINUTES * 60_000)
            if self.ctx.session is not None:
                self.ctx.session.save_state()

    def _sign_in(self, state: str | None = None) -> None:
        acc = self.ctx.account
        gen = totp(self.ctx.secret("totp_secret"))
        last_code: str | None = None
        otp_tries = 0
        password_tries = 0
        state = state or self.where()
        for _ in range(MAX_SIGNIN_PAGES):
            if state == "app.signed_in":
                if self.ctx.session is not None:
                    self.ctx.session.save_state()
                return
            if state in NEEDS_PERSON:
                reason, text = NEEDS_PERSON[state]
                raise NeedsPerson(f"sign-in stopped: {text}", reason=reason, url=self.page.url)
            if state == "app.server_error":
                raise PageError(f"Seller Central showed a server error at {self.page.url}")
            if state == "signin.email":
                with self.ctx.step("sign in: email"):
                    self.sel.find(self.page, "signin.email").fill(acc.email)
                    self._submit("signin.continue")
            elif state == "signin.password":
                password_tries += 1
                if password_tries > 1 and self.sel.present(self.page, "signin.error"):
                    raise NeedsPerson("Seller Central rejected the password",
                                      reason="password_rejected", url=self.page.url)
                with self.ctx.step("sign in: password"):
                    field = self.sel.find(self.page, "signin.password")
                    remember = self.sel.candidates(self.page, "signin.remember_me")[0]
                    if remember.count() and not remember.first.is_checked():
                        remember.first.check()
                    with self.ctx.private():
                        field.fill(self.ctx.secret("password"))
                        self._submit("signin.submit")
            elif state == "mfa.code":
                otp_tries += 1
                if otp_tries > MAX_OTP_TRIES:
                    raise NeedsPerson("Seller Central rejected the one-time code twice",
                                      reason="otp_rejected", url=self.page.url)
                with self.ctx.step("sign in: one-time code" + (" (again)" if last_code else "")):
                    code = fresh_code(gen, avoid=last_code)
                    last_code = code
                    field = self.sel.find(self.page, "mfa.code")
                    remember = self.sel.find(self.page, "mfa.remember_device", state="attached")
                    if not remember.is_checked():
                        remember.check()
                    with self.ctx.private():
                        field.fill(code)
                        self._submit("mfa.submit")
            elif state == "picker.heading":
                self.pick_account()
            elif state in ("signin.fixup_skip", "signin.use_password"):
                with self.ctx.step("sign in: skip prompt"):
                    self._submit(state)
            state = self.where()
        raise NeedsPerson("sign-in did not finish after many pages", reason="signin_loop",
                          url=self.page.url)

    def _submit(self, key: str) -> None:
        """Click and wait for the next page to load."""
        target = self.sel.find(self.page, key)
        with self.page.expect_navigation(wait_until="domcontentloaded"):
            target.click()

    def pick_account(self) -> None:
        """Choose the configured account and marketplace on the 'Select an account' page."""
        acc = self.ctx.account
        if not acc.account_name or not acc.marketplace:
            raise NeedsPerson("Seller Central asks to select an account, and the config names "
                              "none (accounts[].account_name / marketplace)",
                              reason="account_picker", url=self.page.url)
        with self.ctx.step(f"select account: {acc.account_name} / {acc.marketplace}"):
            try:
                self.sel.find(self.page, "picker.account", account=acc.account_name).click()
                self.sel.find(self.page, "picker.marketplace",
                              marketplace=acc.marketplace).click()
            except SelectorNotFound as err:
                raise NeedsPerson(f"account '{acc.account_name}' / marketplace "
                                  f"'{acc.marketplace}' is not offered on the picker",
                                  reason="account_picker", url=self.page.url) from err
            confirm = self.sel.find(self.page, "picker.confirm")
            with self.page.expect_navigation(wait_until="domcontentloaded"):
                confirm.click()

    # --- pages -----------------------------------------------------------------------
    def inbox(self) -> Inbox:
        return Inbox(self)

    def thread(self, thread_id: str) -> ThreadPage:
        return ThreadPage(self, thread_id).open()

    def home(self) -> Home:
        self.open("/home")
        return Home(self)


class Home:
    """The dashboard, classic or modern: the same intents, the layouts differ in selectors."""

    def __init__(self, sc: SellerCentral) -> None:
        self.sc = sc
        self.sel = sc.sel
        self.page = sc.page

    def _text(self, key: str) -> str:
        return " ".join(self.sel.find(self.page, key).inner_text().split())

    def unshipped_count(self) -> int:
        return parse_count(self._text("home.unshipped_count"))

    def buyer_messages_count(self) -> int:
        return parse_count(self._text("home.buyer_messages_count"))

    def performance_label(self) -> str:
        return self._text("home.performance_status")

    def open_performance_details(self) -> AccountHealth:
        link = self.sel.find(self.page, "home.performance_details")
        link.click()
        self.sel.find(self.page, "health.heading")
        return AccountHealth(self.sc)


class AccountHealth:
    """The Account Health page: overall status and each metric with value and target."""

    def __init__(self, sc: SellerCentral) -> None:
        self.sc = sc
        self.sel = sc.sel
        self.page = sc.page

    def overall(self) -> str:
        return " ".join(self.sel.find(self.page, "health.overall").inner_text().split())

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
        return " ".join(self.sel.find(row, key, timeout_ms=3000).inner_text().split())


# --- buyer-seller messaging ----------------------------------------------------------
INBOX_PATH = "/messaging/inbox-v3?fi=responseNeeded"
THREAD_PATH = "/messaging/thread/{thread_id}"
MAX_INBOX_PAGES = 100
RESPONSE_NEEDED = "response needed"


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
    """The first text ``key`` matches right now, whitespace normalised ("" when none)."""
    for text in sel.texts(scope, key):
        if text.strip():
            return " ".join(text.split())
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
            messages.append(Message(sender, body, " ".join(at.split())))
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
