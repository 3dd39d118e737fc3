"""Read the three things the seller asks to check on the home page every time."""

from __future__ import annotations

from rpa.run.context import RunContext
from rpa.run.registry import flow
from rpa.seller_central.pages import SellerCentral

# Seller Central's wording over the years, mapped to the seller's three grades.
STATUS_WORDS = {
    "good": "good", "healthy": "good",
    "fair": "fair", "at risk": "fair",
    "poor": "poor", "unhealthy": "poor", "critical": "poor",
}


def normalise_status(label: str) -> str:
    """'Good'/'Healthy' → good, 'Fair'/'At Risk' → fair, 'Poor'/'Unhealthy' → poor."""
    key = " ".join(label.lower().replace("-", " ").split())
    return STATUS_WORDS.get(key, "unknown")


@flow("dashboard", needs=("login",))
def dashboard(ctx: RunContext) -> None:
    """Unshipped count, Seller Performance and Buyer Messages count, from either home layout."""
    sc = SellerCentral(ctx)
    with ctx.step("read home page") as step:
        home = sc.home()
        unshipped = home.unshipped_count()
        label = home.performance_label()
        messages = home.buyer_messages_count()
        step.name = (f"read home page: Unshipped {unshipped}, Seller Performance {label}, "
                     f"Buyer Messages {messages}")
    ctx.observe("unshipped", unshipped)
    ctx.observe("performance", {"status": normalise_status(label), "label": label, "areas": []})
    ctx.observe("buyer_messages", messages)
