"""Read the three things the seller asks to check on the home page every time.

Each figure stands alone: it is recorded as soon as it is read, and one the page does not
show (or shows in a way that cannot be read with certainty) is recorded as not read, with
why, while the others are kept. The owner gets one text naming what was not read, and the
flow goes on; a page that does not load at all is still a technical error (retried).
A figure read by the words beside its label, because none of its selectors showed, is
named in the ``read_by`` observation (``{"unshipped": "label"}``): its selector wants fixing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from loguru import logger

from rpa.owner import escalate
from rpa.run import pagesnaps
from rpa.run.context import RunContext
from rpa.run.registry import flow
from rpa.seller_central.home import (
    BUYER_MESSAGES,
    FIGURE_NAMES,
    PERFORMANCE,
    UNSHIPPED,
    NotRead,
    UnshippedOrders,
)
from rpa.seller_central.locale import UNKNOWN, status_of
from rpa.seller_central.pages import SellerCentral

T = TypeVar("T")


def _read(read: Callable[[], T], not_read: dict[str, str], *, final: bool = True) -> T | None:
    """The figure ``read`` returns, or None with the reason noted in ``not_read``.

    ``final=False`` when another place will be read next (no warning for that yet).
    """
    try:
        return read()
    except NotRead as err:
        if final:
            logger.warning("{}", err)
        else:
            logger.info("{}; reading it elsewhere", err)
        not_read[err.figure] = err.reason
        return None


def _shown(value: Any) -> str:
    return "not read" if value is None else str(value)


def owner_text(not_read: dict[str, str], perf: dict[str, Any] | None,
               found: dict[str, Any]) -> str:
    """One text about the home page's figures: what was not read and why, what was."""
    problems = [f"{FIGURE_NAMES[k]} not read ({why})" for k, why in not_read.items()]
    if perf is not None and perf.get("status") == UNKNOWN:
        problems.append(f"Seller Performance shows \"{perf['label']}\", a wording the bot "
                        "does not know: please check Account Health")
    read = [f"{FIGURE_NAMES[k]} {v}" for k, v in found.items() if v is not None]
    text = "Home page: " + "; ".join(problems) + "."
    return text + (f" Read: {', '.join(read)}." if read else "")


@flow("dashboard", needs=("login",))
def dashboard(ctx: RunContext) -> None:
    """Unshipped, Seller Performance and Buyer Messages, each read (or reported as not read)."""
    sc = SellerCentral(ctx)
    not_read: dict[str, str] = {}
    perf: dict[str, Any] | None = None
    unshipped: int | None = None
    read_by: dict[str, str] = {}
    with ctx.step("read home page") as step:
        home = sc.home()
        language = home.language
        unshipped_home: dict[str, str] = {}
        unshipped = _read(home.unshipped_count, unshipped_home, final=False)
        if unshipped is not None:
            ctx.observe(UNSHIPPED, unshipped)
            ctx.observe("unshipped_from", "home page")
        label = _read(home.performance_label, not_read)
        if label is not None:
            perf = {"status": status_of(label, language), "label": label, "areas": []}
        ctx.observe(PERFORMANCE, perf)
        messages = _read(home.buyer_messages_count, not_read)
        ctx.observe(BUYER_MESSAGES, messages)
        read_by.update(home.read_by)
        if not_read or home.read_by:  # a selector found nothing: what the page is made of
            pagesnaps.keep(ctx, "home figures not read by their selectors")
        step.name = (f"read home page: Unshipped {_shown(unshipped)}, Seller Performance "
                     f"{_shown(label)}, Buyer Messages {_shown(messages)}")
    if unshipped is None:
        # The home page shows only the Open Orders total (or nothing readable): the
        # Unshipped count is the one of Manage Orders' Unshipped view.
        with ctx.step("read Unshipped on Manage Orders") as step:
            orders = UnshippedOrders(sc)
            unshipped = _read(lambda: orders.open().count(), not_read)
            read_by.update(orders.read_by)
            if unshipped is None or orders.read_by:
                pagesnaps.keep(ctx, "Unshipped not read by its selectors")
            if unshipped is None:
                not_read[UNSHIPPED] = (f"home page: {unshipped_home[UNSHIPPED]}; "
                                       f"Manage Orders: {not_read[UNSHIPPED]}")
            step.name = f"read Unshipped on Manage Orders: {_shown(unshipped)}"
        ctx.observe(UNSHIPPED, unshipped)
        ctx.observe("unshipped_from", "Manage Orders" if unshipped is not None else None)
    ctx.observe("not_read", dict(not_read))
    if read_by:
        # Read by the words beside their labels: their selectors want fixing.
        ctx.observe("read_by", {**(ctx.observations.get("read_by") or {}), **read_by})
    unknown = perf is not None and perf["status"] == UNKNOWN
    if not (not_read or unknown):
        if not ctx.dry_run:
            escalate.resolve_findings(ctx, "home_page", "every figure read")
        return
    known = label if perf is not None and perf["status"] != UNKNOWN else None
    found = {UNSHIPPED: unshipped, PERFORMANCE: known, BUYER_MESSAGES: messages}
    text = owner_text(not_read, perf, found)
    if ctx.dry_run:
        with ctx.step("would tell the owner what was not read (dry run)", screenshot=False):
            return
    # A finding (F…): said once while the same figures stay unread, acknowledged by an
    # answer, told afresh once they were read again.
    signature = "|".join([*sorted(not_read), f"unknown:{perf['label']}" if unknown and perf
                          else ""])
    code, state = escalate.finding(
        ctx, "home_page", signature, summary=f"{{code}}: {text}",
        details=(f"{{code}}: {text}\nRun {ctx.run_id}.\n\nAnswer with the code {{code}} to "
                 "acknowledge it; it is not texted again while it stands."))
    ctx.observe("home_page_finding", code)
    if state != "new" and (ctx.ledger.escalation(code) or {}).get("notified_at"):
        with ctx.step(f"figures not read: owner told before ({code}, {state})",
                      screenshot=False):
            return
    with ctx.step(f"tell the owner what was not read ({code})", screenshot=False) as step:
        if not escalate.notify(ctx, code):
            step.outcome = "undelivered"
