"""``rpa selectors check``: which candidate of each selectors.yaml key resolves on the live
pages, once signed in. Started by its command, not part of a routine."""

from __future__ import annotations

from rpa.run.context import RunContext
from rpa.run.registry import flow
from rpa.seller_central.selectcheck import check_pages


@flow("selectors_check", needs=("login",), listed=False)
def selectors_check(ctx: RunContext) -> None:
    """Open each page and note which candidate resolves every selectors.yaml key."""
    ctx.observe("selectors", check_pages(ctx))
