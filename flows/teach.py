"""``rpa teach KEY``: point a selectors.yaml key at the element a person clicks in a
visible browser; the candidates that find exactly it go to the local overlay
(selectors.local.yaml) once the person says so. Started by its command, not part of a
routine.

Read-only by construction, as ``rpa selectors check --live``: the browser is guarded
before its first page, and the page takes no click while the key is taught. What the
command asks comes in ``ctx.params``: ``key``, ``page`` (an address, for a key whose page
cannot be derived), ``decide`` (shown the proposal, answers "write", "up" for the element
around the one clicked, "again" or "stop"; without it nothing is written), ``person``
(acts in the page once it listens: a test's click; else a person clicks) and
``wait_s`` (how long a click is waited for).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from flows.login import login
from rpa.browser import overlay
from rpa.browser.pointing import Pointer
from rpa.errors import ConfigError, PageError
from rpa.run.context import RunContext
from rpa.run.pagesnaps import PRIVATE
from rpa.run.registry import flow
from rpa.seller_central.pages import SellerCentral
from rpa.seller_central.selectcheck import read_only
from rpa.seller_central.teach import Proposal, Teaching

WAIT_S = 600.0  # a person has ten minutes to click


@flow("teach", listed=False)
def teach(ctx: RunContext) -> None:
    """Point a key at the element a person clicks; write its candidates to the overlay."""
    key = str(ctx.params["key"])
    target = ctx.config.paths.selectors_overlay
    if target is None:
        raise ConfigError("no file for local selectors: set paths.selectors_overlay",
                          key="paths.selectors_overlay")
    read_only(ctx)
    login(ctx)
    teaching = Teaching(SellerCentral(ctx), key, PRIVATE)
    with ctx.step(f"open the page of {key}"):
        teaching.open(ctx.params.get("page"))
    pointer = Pointer(ctx.page)
    with ctx.step(f"show what {key} finds now") as step:
        found = teaching.show(pointer)
        step.name += ": " + (", ".join(f"{d} finds {n}" for d, n in found if n) or "nothing")
    proposal = _taught(ctx, teaching, pointer, found)
    ctx.observe("teach", proposal.as_dict() if proposal else {"key": key, "written": False})
    if proposal is None:
        return
    with ctx.step(f"write {key} to {Path(target).name}", screenshot=False) as step:
        overlay.save(Path(target), key, proposal.kept, page=proposal.page,
                     taught=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                     element=proposal.element)
        step.name += f": {', '.join(c.describe() for c in proposal.kept)}"
    ctx.observe("teach", {**proposal.as_dict(), "written": str(target)})


def _taught(ctx: RunContext, teaching: Teaching, pointer: Pointer,
            found: list[tuple[str, int]]) -> Proposal | None:
    """Wait for the click, propose, and go on as the person decides: the proposal to
    write, or None."""
    decide = ctx.params.get("decide")
    person = ctx.params.get("person")
    wait_ms = float(ctx.params.get("wait_s") or WAIT_S) * 1000
    with ctx.step(f"click the element {teaching.key} should find") as step:
        try:
            picked, element = pointer.wait(wait_ms, person)
        except Exception as err:  # noqa: BLE001 - a timeout of Playwright's own kind
            stop = PageError(f"no element was clicked within {wait_ms / 1000:.0f} s")
            stop.retryable = False  # a person who did not click is not asked again unasked
            raise stop from err
        proposal = teaching.propose(pointer, picked, element, found)
        step.name += f": {proposal.element.splitlines()[0] if proposal.element else picked.tag}"
    while True:
        answer = decide(proposal) if decide else "stop"
        if answer == "write" and proposal.kept:
            return proposal
        if answer == "up":
            widened = pointer.widen()
            if widened is not None:
                with ctx.step("take the element around it") as step:
                    proposal = teaching.propose(pointer, *widened, found)
                    step.name += f": {proposal.element.splitlines()[0]}" \
                        if proposal.element else ""
            continue
        if answer == "again":
            with ctx.step(f"click the element {teaching.key} should find") as step:
                teaching.show(pointer)
                picked, element = pointer.wait(wait_ms, person)
                proposal = teaching.propose(pointer, picked, element, found)
            continue
        return None
