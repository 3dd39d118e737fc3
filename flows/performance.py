"""When Seller Performance is not Good: open the details and report what is not Good.

Only a label that was read and understood leads anywhere: Good needs nothing; Fair or Poor
(in any of their wordings and languages) opens Account Health and texts the owner the areas
that are not Good. A label that was not read, or whose wording the bot does not know, was
already reported by the dashboard: the details are not opened, so they are never summarised
as if the label had been "not Good".
"""

from __future__ import annotations

from rpa.run.context import RunContext
from rpa.run.registry import flow
from rpa.seller_central.locale import GOOD, UNKNOWN, status_of
from rpa.seller_central.pages import SellerCentral


def summary_text(label: str, areas: list[dict[str, str]]) -> str:
    """One line for the owner: the overall grade and each area with value and target."""
    parts = [f"{a['name']} {a['value']} (target {a['target']})" for a in areas]
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
        with ctx.step("Seller Performance is Good: nothing to report", screenshot=False):
            pass
        return
    if perf.get("status") == UNKNOWN:
        with ctx.step(f"Seller Performance shows \"{perf.get('label')}\", a wording the bot "
                      "does not know: details not opened", screenshot=False):
            pass
        return
    language = ctx.account.language
    sc = SellerCentral(ctx)
    with ctx.step("open performance details") as step:
        health = sc.home().open_performance_details()
        overall = health.overall()
        areas = [a.as_dict() for a in health.areas()
                 if status_of(a.status, language) != GOOD]
        step.name = f"performance details: {overall}, {len(areas)} area(s) not Good"
    perf.update({"areas": areas, "details_label": overall})
    ctx.observe("performance", perf)
    text = summary_text(perf.get("label") or overall, areas)
    details = text + "\n" + "\n".join(
        f"- {a['name']}: {a['value']} (target {a['target']}), status {a['status']}"
        for a in areas)
    with ctx.step("alert the owner", screenshot=False) as step:
        if not ctx.alert(text, details=details):
            step.outcome = "undelivered"
