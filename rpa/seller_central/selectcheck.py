"""``rpa selectors check --live``: sign in to the configured account, open the pages the
flows read and act on nothing, and say for each selectors.yaml key which candidate
resolves it, that only its label reads it (the words beside a figure's label, where its
selectors find nothing), or that nothing does.

Read-only by construction: :func:`read_only` puts a guard on the browser before its first
page (rpa.browser.readonly) that stops every request that could change something, but the
sign-in forms and the account picker; the check itself only opens addresses and reads.
:func:`check_pages` opens each page and tries every key; the flow ``selectors_check``
(``flows/selectors_check.py``) runs both, and the command reads its rows.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlparse

from playwright.sync_api import Error as PlaywrightError

from rpa.browser.readonly import ReadOnly
from rpa.browser.selectors import declare
from rpa.errors import SelectorNotFound
from rpa.run.context import RunContext
from rpa.seller_central.health import AccountHealth
from rpa.seller_central.home import (
    BUYER_MESSAGES,
    PERFORMANCE,
    UNSHIPPED,
    Home,
    UnshippedOrders,
)
from rpa.seller_central.messages import THREAD_PATH, enter, thread_id_from_href
from rpa.seller_central.ngs import HOME_PATH
from rpa.seller_central.pages import SellerCentral
from rpa.seller_central.picker import PICKER_PATH

# Which page each namespace lives on; keys inside a row are checked within the first row.
PAGES = {
    "app": HOME_PATH,
    "home": HOME_PATH,
    "health": "/performance/account/health",
    "orders": "/orders-v3/unshipped",
    "inbox": "/messaging/inbox-v3?fi=all",
    "thread": THREAD_PATH,  # the first thread the inbox lists
}
# What shows once a page has drawn what the check reads (a single-page app draws after its
# address has loaded): waited for, any of them, before the keys are looked for; none
# showing is no error (a changed page is what the check is for), its keys are read as
# they are.
DRAWN = {
    PAGES["inbox"]: ["inbox.thread_row", "inbox.empty"],
    THREAD_PATH: ["thread.detail", "thread.message"],
}
# Keys looked for inside one row (the first) rather than on the whole page.
ROW_OF = {
    **{f"health.metric_{k}": "health.metric_row" for k in ("name", "value", "target",
                                                         "status")},
    **{f"inbox.row_{k}": "inbox.thread_row" for k in ("link", "buyer", "subject",
                                                      "order_id")},
    **{k: "thread.message" for k in ("thread.message_text", "thread.message_time")},
}
# Keys that only show in some states (a seller's message, a confirmation, an error, a
# second inbox page, an empty inbox, the header's account switcher): reported, but their
# absence is not a failure.
STATEFUL = {"thread.from_seller", "thread.sent", "thread.error", "inbox.next_page",
            "app.server_error", "orders.row",
            "inbox.empty", "app.account_switcher", "app.ngs_home"}
# Keys that only some page variants have: an Unshipped figure on the home page (classic,
# or a modern Open Orders card with its breakdown) or only the Open Orders total; a
# metric's status badge (the newer Account Health page; the classic one shows words).
VARIANTS = {"home.unshipped_count", "home.open_orders_total", "health.metric_status"}
# The header's switcher shows one generation: two spans, one text, or the marketplace host.
VARIANTS |= {"app.header_store", "app.header_country", "app.header_label",
             "app.header_marketplace"}
NOT_NOW = "(not on this page now)"
NO_THREAD = "(not checked: the inbox lists no thread)"
# A key that finds some of the page's rows and misses others the page names.
MISSES = "misses "
LABEL = "label fallback"
# The namespaces each flow reads: a key of theirs that nothing resolves fails the check.
FLOW_NAMESPACES = {
    "login": ("app",),
    "dashboard": ("home", "orders"),
    "performance": ("home", "health"),
    "buyer_messages": ("inbox", "thread"),
    "answers": ("inbox", "thread"),
}
# Figures read by the words beside their label where their selectors find nothing, and a
# metric's parts read by the words in its row.
LABELLED = {"home.unshipped_count": UNSHIPPED, "home.performance_status": PERFORMANCE,
            "home.buyer_messages_count": BUYER_MESSAGES, "orders.unshipped_count": UNSHIPPED}
METRIC_PARTS = {f"health.metric_{p}": p for p in ("name", "value", "target", "status")}
# The only requests that may change something: the sign-in forms and the account pickers
# (choosing the account the session works in; the older picker and the address Amazon
# redirects to, evidence S5, U16, S3), and AWS WAF's browser check (a token, nothing of
# the seller's).
SIGNIN_PATHS = ("/ap/", "/ax/", PICKER_PATH, "/global-picker", "/authorization/select-account")
WAF_HOST = ".awswaf.com"


def may_write(url: str) -> bool:
    """Whether a request that could change something may go to ``url``."""
    parts = urlparse(url)
    return parts.path.startswith(SIGNIN_PATHS) or parts.hostname is not None and (
        parts.hostname.endswith(WAF_HOST))


def read_only(ctx: RunContext) -> ReadOnly:
    """Guard the run's browser (launched here when it is not yet): from now on it sends no
    request that could change anything but signing in."""
    return ReadOnly(may_write).install(ctx.page.context)


def needed(flows: list[str]) -> set[str]:
    """The namespaces the given flows read."""
    return {ns for name in flows for ns in FLOW_NAMESPACES.get(name, ())}
# The selectors.yaml keys this module names itself (it checks every key of the file);
# ``rpa selectors check`` refuses a file without one of them before any browser starts.
SELECTOR_KEYS: tuple[str, ...] = (
    "app.account_switcher",
    "app.header_country",
    "app.header_label",
    "app.header_marketplace",
    "app.header_store",
    "app.ngs_home",
    "app.server_error",
    "health.metric_row",
    "health.metric_status",
    "home.buyer_messages_count",
    "home.open_orders_total",
    "home.performance_status",
    "home.unshipped_count",
    "inbox.empty",
    "inbox.next_page",
    "inbox.row_link",
    "inbox.thread_row",
    "orders.row",
    "orders.unshipped_count",
    "thread.detail",
    "thread.error",
    "thread.from_seller",
    "thread.message",
    "thread.message_text",
    "thread.message_time",
    "thread.sent",
)
declare(__name__, SELECTOR_KEYS, check_only=True)


def check_pages(ctx: RunContext) -> list[list[str | None]]:
    """Open each page and note which candidate resolves every selectors.yaml key: a row
    ``[key, page, how]`` each, ``how`` the candidate, the label fallback, "not on this page
    now" (a key only some states or layouts show), "misses …" (rows the page names that
    no candidate finds) or None when nothing resolves it."""
    sc = SellerCentral(ctx)
    rows: list[list[str | None]] = []
    keys = sorted(ctx.selectors.keys)
    first_thread = ""
    for template in dict.fromkeys(PAGES.values()):
        path = template
        if template == THREAD_PATH:
            if not first_thread:
                rows += [[key, "a thread", NO_THREAD] for key in keys
                         if PAGES.get(key.split(".", 1)[0]) == template]
                continue
            path = THREAD_PATH.format(thread_id=first_thread)
        with ctx.step(f"check selectors on {path}"):
            if template == PAGES["inbox"]:
                # messaging through the home page's link: a cold deep link stays empty
                try:
                    enter(sc)
                except SelectorNotFound:  # a changed list: its keys are checked as they are
                    pass
            sc.open(path)
            if template in DRAWN:
                try:
                    ctx.selectors.which(ctx.page, DRAWN[template])
                except SelectorNotFound:
                    pass
            by_label = _by_label(sc, template)
            for key in keys:
                ns = key.split(".", 1)[0]
                if PAGES.get(ns) != template:
                    continue
                scope = ctx.page
                if key in ROW_OF:
                    if not ctx.selectors.present(ctx.page, ROW_OF[key]):
                        rows.append([key, path, f"(not checked: no {ROW_OF[key]} found)"])
                        continue
                    scope = ctx.selectors.any_of(ctx.page, ROW_OF[key]).first  # type: ignore
                found = ctx.selectors.check(scope, key) or by_label(key)
                if found and key == "health.metric_row":
                    found = _rows_missed(sc, found)
                rows.append([key, path, found or (NOT_NOW if key in STATEFUL | VARIANTS else None)])
            if template == PAGES["inbox"]:
                first_thread = first_thread_id(sc)
    for key in keys:
        if key.split(".", 1)[0] not in PAGES:
            rows.append([key, "sign-in pages", ctx.selectors.won.get(key)
                         or "(not shown this run)"])
    return rows


def first_thread_id(sc: SellerCentral) -> str:
    """The id of the first thread the inbox page shown lists ('' when none)."""
    sel, page = sc.sel, sc.page
    if not sel.present(page, "inbox.thread_row"):
        return ""
    row = sel.any_of(page, "inbox.thread_row").first
    href = sel.any_of(row, "inbox.row_link").first.get_attribute("href")
    return thread_id_from_href(href or "")


def _by_label(sc: SellerCentral, template: str) -> Callable[[str], str | None]:
    """For the page shown: whether the label fallback reads a key its selectors miss
    ("label fallback (reads 3)"), or None."""
    if template in (HOME_PATH, PAGES["orders"]):
        figures = Home(sc) if template == HOME_PATH else UnshippedOrders(sc)

        def figure(key: str) -> str | None:
            if key not in LABELLED or PAGES[key.split(".", 1)[0]] != template:
                return None
            value = figures.label_reads(LABELLED[key])
            return f"{LABEL} (reads {value})" if value is not None else None
        return figure
    if template == PAGES["health"]:
        read = _parts_by_words(sc)

        def part(key: str) -> str | None:
            value = read.get(METRIC_PARTS.get(key, ""))
            return f"{LABEL} (reads {value})" if value is not None else None
        return part
    return lambda key: None


def _parts_by_words(sc: SellerCentral) -> dict[str, str]:
    """The parts of the first metric row read by the words in the row rather than by
    selectors.yaml (name, value, target, status → what they read)."""
    if not sc.sel.present(sc.page, "health.metric_row"):
        return {}
    health = AccountHealth(sc)
    try:
        area = health.area(sc.sel.any_of(sc.page, "health.metric_row").first)
    except PlaywrightError:
        return {}
    return {p: getattr(area, p) for p in METRIC_PARTS.values()
            if health.read_by.get(f"health.{area.name or area.key}.{p}")}


def _rows_missed(sc: SellerCentral, found: str) -> str:
    """``found``, or what health.metric_row misses: the metrics the page names whose row
    no candidate finds (the check fails on it)."""
    missed = [area.name for area in AccountHealth(sc).missed()]
    if not missed:
        return found
    return (f"{MISSES}the row of {', '.join(repr(m) for m in missed)} (finds others by "
            f"{found})")
