"""``rpa selectors check``: which candidate of each key resolves on the live pages.

:func:`check_pages` opens each page and tries every key; the flow ``selectors_check``
(``flows/selectors_check.py``) runs it after signing in, and the command reads its rows.
"""

from __future__ import annotations

from rpa.browser.selectors import declare
from rpa.run.context import RunContext
from rpa.seller_central.messages import THREAD_PATH, enter, thread_id_from_href
from rpa.seller_central.ngs import HOME_PATH
from rpa.seller_central.pages import SellerCentral

# Which page each namespace lives on; keys inside a row are checked within the first row.
PAGES = {
    "app": HOME_PATH,
    "home": HOME_PATH,
    "health": "/performance/account/health",
    "orders": "/orders-v3/unshipped",
    "inbox": "/messaging/inbox-v3?fi=all",
    "thread": THREAD_PATH,  # the first thread the inbox lists
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
    "home.open_orders_total",
    "home.unshipped_count",
    "inbox.empty",
    "inbox.next_page",
    "inbox.row_link",
    "inbox.thread_row",
    "orders.row",
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
    ``[key, page, candidate]`` each, the candidate None when nothing resolves it."""
    sc = SellerCentral(ctx)
    rows: list[list[str | None]] = []
    keys = sorted(ctx.selectors.keys)
    first_thread = ""
    for template in dict.fromkeys(PAGES.values()):
        path = template
        if template == THREAD_PATH:
            if not first_thread:
                continue
            path = THREAD_PATH.format(thread_id=first_thread)
        with ctx.step(f"check selectors on {path}"):
            if template == PAGES["inbox"]:
                enter(sc)  # messaging through the home page's link: a cold deep link stays empty
            sc.open(path)
            for key in keys:
                ns = key.split(".", 1)[0]
                if PAGES.get(ns) != template:
                    continue
                scope = ctx.page
                if key in ROW_OF:
                    scope = ctx.selectors.any_of(ctx.page, ROW_OF[key]).first  # type: ignore
                found = ctx.selectors.check(scope, key)
                rows.append([key, path, found or (NOT_NOW if key in STATEFUL | VARIANTS else None)])
            if template == PAGES["inbox"] and ctx.selectors.present(ctx.page, "inbox.thread_row"):
                row = ctx.selectors.any_of(ctx.page, "inbox.thread_row").first
                href = ctx.selectors.any_of(row, "inbox.row_link").first.get_attribute("href")
                first_thread = thread_id_from_href(href or "")
    for key in keys:
        if key.split(".", 1)[0] not in PAGES:
            rows.append([key, "sign-in pages", ctx.selectors.won.get(key)
                         or "(not shown this run)"])
    return rows
