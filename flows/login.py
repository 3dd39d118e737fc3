"""Sign in to Seller Central and land on the configured account."""

from __future__ import annotations

from rpa.run.context import RunContext
from rpa.run.registry import flow
from rpa.seller_central.pages import SellerCentral


@flow("login")
def login(ctx: RunContext) -> None:
    """Sign in with password and one-time code (or the saved state) and open the home page."""
    sc = SellerCentral(ctx)
    with ctx.step("open Seller Central"):
        sc.goto("/home")
    state = sc.where()
    if state != "app.signed_in":
        sc.sign_in(state)
    with ctx.step("signed in"):
        sc.open("/home")
    ctx.observe("signed_in", True)
