"""When Seller Performance is not Good: open the details and report what is not Good."""

from __future__ import annotations

from flows.dashboard import normalise_status
from rpa.run.context import RunContext
from rpa.run.registry import flow
from rpa.seller_central.pages import SellerCentral


def summary_text(label: str, areas: list[dict[str, str]]) -> str:
    """One line for the owner: the overall grade and each area with value and target."""
    parts = [f"{a['name']} {a['value']} (target {a['target']})" for a in areas]
    listed = "; ".join(parts) if parts else "no area listed as not Good"
    return f"Seller Performance is {label}: {listed}."


@flow("performance", needs=("dashboard",))
def performance(ctx: RunContext) -> None:
    """Follow View Details / Go to Account Health, list every area not Good, alert the owner."""
    perf = dict(ctx.observations.get("performance") or {})
    if perf.get("status") == "good":
        with ctx.step("Seller Performance is Good: nothing to report", screenshot=False):
            pass
        return
    sc = SellerCentral(ctx)
    with ctx.step("open performance details") as step:
        health = sc.home().open_performance_details()
        overall = health.overall()
        areas = [a.as_dict() for a in health.areas()
                 if normalise_status(a.status) != "good"]
        step.name = f"performance details: {overall}, {len(areas)} area(s) not Good"
    perf.update({"areas": areas, "details_label": overall})
    if perf.get("status") == "unknown":
        perf["status"] = normalise_status(overall)
    ctx.observe("performance", perf)
    text = summary_text(perf.get("label") or overall, areas)
    details = text + "\n" + "\n".join(
        f"- {a['name']}: {a['value']} (target {a['target']}), status {a['status']}"
        for a in areas)
    with ctx.step("alert the owner", screenshot=False):
        ctx.alert(text, details=details)
