"""When Seller Performance is not Good: open the details and report what is not Good.

Only a label that was read and understood leads anywhere: Good needs nothing; Fair or Poor
(in any of their wordings and languages) opens Account Health and texts the owner the areas
that are not Good. A label that was not read, or whose wording the bot does not know, was
already reported by the dashboard: the details are not opened, so they are never summarised
as if the label had been "not Good". An area whose status the page does not show readably is
listed too, with why, never taken for Good; a value or target not read is said so.
"""

from __future__ import annotations

from typing import Any

from rpa.owner import escalate
from rpa.run import pagesnaps
from rpa.run.context import RunContext
from rpa.run.registry import flow
from rpa.seller_central.locale import GOOD, UNKNOWN, status_of
from rpa.seller_central.pages import SellerCentral


def _part(area: dict[str, Any], part: str) -> str:
    """An area's value or target, or 'not read' when the page did not show it readably."""
    return str(area.get(part) or "") or "not read"


def summary_text(label: str, areas: list[dict[str, Any]]) -> str:
    """One line for the owner: the overall grade and each area with value and target."""
    parts = [f"{a['name']} {_part(a, 'value')} (target {_part(a, 'target')})" for a in areas]
    listed = "; ".join(parts) if parts else "no area listed as not Good"
    return f"Seller Performance is {label}: {listed}."


@flow("performance", needs=("dashboard",))
def performance(ctx: RunContext) -> None:
    """Follow View Details / Go to Account Health, list every area not Good, alert the owner."""
    seen = ctx.observations.get("performance")
    if not seen:
        with ctx.step("Seller Performance was not read: details not opened", screenshot=False):
            pass
        return
    perf = dict(seen)
    if perf.get("status") == GOOD:
        with ctx.step("Seller Performance is Good: nothing to report", screenshot=False) as step:
            resolved = escalate.resolve_findings(ctx, "performance", "Seller Performance is "
                                                 "Good again")
            if resolved:
                step.name += f" (finding {', '.join(resolved)} no longer holds)"
        return
    if perf.get("status") == UNKNOWN:
        with ctx.step(f"Seller Performance shows \"{perf.get('label')}\", a wording the bot "
                      "does not know: details not opened", screenshot=False):
            pass
        return
    sc = SellerCentral(ctx)
    with ctx.step("open performance details") as step:
        health = sc.home().open_performance_details()
        # Every area not shown as Good: one whose status could not be read is listed too
        # (with why), never taken for Good.
        areas = [a.as_dict() for a in health.areas()
                 if status_of(a.status, health.language) != GOOD]
        overall = health.overall()
        if any(a.get("not_read") for a in areas) or overall is None:
            pagesnaps.keep(ctx, "Account Health not read in full")
        step.name = (f"performance details: {overall or 'overall status not read'}, "
                     f"{len(areas)} area(s) not Good")
    perf.update({"areas": areas, "details_label": overall})
    ctx.observe("performance", perf)
    if health.read_by:
        ctx.observe("read_by", {**(ctx.observations.get("read_by") or {}), **health.read_by})
    text = summary_text(perf.get("label") or overall or "not Good", areas)
    details = text + "\n" + "\n".join(
        f"- {a['name']}: {_part(a, 'value')} (target {_part(a, 'target')}), status "
        f"{a['status'] or 'not read'}"
        + "".join(f"; {part} not read: {why}" for part, why in
                  dict(a.get("not_read") or {}).items())
        for a in areas)
    if ctx.dry_run:
        with ctx.step("would alert the owner (dry run)", screenshot=False):
            return
    # Said once while it stands (a finding, F…); the owner's answer acknowledges it.
    # An area not read is another finding than the same area read: the owner is told
    # afresh once its figures show.
    signature = "|".join([str(perf.get("status")), *sorted(
        a["name"] + (" (not read)" if a.get("not_read") else "") for a in areas)])
    code, state = escalate.finding(
        ctx, "performance", signature, summary=f"{{code}}: {text}",
        details=(f"{{code}}: {details}\n\nAnswer with the code {{code}} to acknowledge it; "
                 "it is not texted again while it stands."))
    perf["finding"] = code
    ctx.observe("performance", perf)
    if state != "new" and (ctx.ledger.escalation(code) or {}).get("notified_at"):
        with ctx.step(f"owner told before ({code}, {state}): no new text", screenshot=False):
            return
    with ctx.step(f"alert the owner ({code})", screenshot=False) as step:
        if not escalate.notify(ctx, code):
            step.outcome = "undelivered"
