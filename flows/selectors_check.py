"""``rpa selectors check --live``: which candidate of each selectors.yaml key resolves on
the live pages. Started by its command, not part of a routine.

Read-only by construction: the browser is guarded before its first page
(rpa.seller_central.selectcheck.read_only), then the sign-in of the ``login`` flow runs
and the pages are opened and read; every request that could change something but signing
in is stopped, and run.json's ``stopped_requests`` lists what was.
"""

from __future__ import annotations

from flows.login import login
from rpa.run.context import RunContext
from rpa.run.registry import flow, plan
from rpa.seller_central.selectcheck import check_pages, needed, read_only


@flow("selectors_check", listed=False)
def selectors_check(ctx: RunContext) -> None:
    """Sign in and open each page without acting; note which candidate resolves every key."""
    guard = read_only(ctx)
    try:
        login(ctx)
        flows = [f.name for f in plan(ctx.config.flows)]
        ctx.observe("selectors_needed", sorted(
            key for key in ctx.selectors.keys if key.split(".", 1)[0] in needed(flows)))
        ctx.observe("selectors", check_pages(ctx))
    finally:
        ctx.observe("stopped_requests", list(guard.stopped))
