"""When a page leaves its accessibility snapshot and scrubbed HTML in the evidence: a key
that resolved to nothing, a page the bot does not know, a figure not read (or read by its
label because its selectors found nothing). One pair a page address per run is enough.

:data:`PRIVATE` names the selectors.yaml keys whose elements hold buyer data, with the
placeholder they get in a snapshot (rpa.browser.pagesnap scrubs the rest).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loguru import logger

from rpa.browser import pagesnap
from rpa.errors import SelectorNotFound

if TYPE_CHECKING:
    from rpa.run.context import RunContext

PRIVATE = {
    "inbox.row_buyer": "[buyer name]",
    "inbox.row_subject": "[subject]",
    "inbox.row_order_id": "[order id]",
    "thread.buyer": "[buyer name]",
    "thread.subject": "[subject]",
    "thread.order_id": "[order id]",
    "thread.message_text": "[message]",
    "thread.reply_box": "[input]",
}
OBSERVATION = "page_snapshots"
# A person-needed stop that means the page is not one the bot knows.
UNKNOWN_PAGE = ("unknown_page", "signin_loop")


def wanted(err: BaseException) -> bool:
    """Whether a step that failed with ``err`` should leave the page's snapshot."""
    return isinstance(err, SelectorNotFound) or getattr(err, "reason", None) in UNKNOWN_PAGE


def keep(ctx: RunContext, why: str) -> list[str]:
    """Save the run's page as a snapshot (accessibility tree and scrubbed HTML), noted in
    run.json's ``observations.page_snapshots`` (page, why, files); the paths inside the run
    folder, or none when the page cannot be read or this run saved its address before."""
    if ctx.session is None:
        return []
    page = ctx.session.page
    try:
        snap = pagesnap.take(page, ctx.selectors, PRIVATE)
    except Exception as err:  # noqa: BLE001 - evidence must not hide what the run met
        logger.warning("no snapshot of the page ({}): {}", why,
                       (str(err).splitlines() or [type(err).__name__])[0])
        return []
    kept = list(ctx.observations.get(OBSERVATION) or [])
    if any(k["page"] == snap.path for k in kept):
        return []
    paths = ctx.evidence.page_snapshot(snap, f"{ctx.flow_name}-{why}")
    kept.append({"page": snap.path, "why": why, "flow": ctx.flow_name, "files": paths})
    ctx.observe(OBSERVATION, kept)
    logger.info("page {} kept as snapshot ({}): {}", snap.path, why, ", ".join(paths))
    return paths
