"""Sign in to Seller Central and land on the configured account."""

from __future__ import annotations

from rpa.run.context import RunContext
from rpa.run.registry import flow
from rpa.seller_central.pages import SellerCentral
from rpa.seller_central.picker import AccountPicker


@flow("login")
def login(ctx: RunContext) -> None:
    """Sign in with password and one-time code (or the saved state), open the home page and
    confirm from its header that the run works in the configured account and marketplace."""
    sc = SellerCentral(ctx)
    with ctx.step("open Seller Central"):
        sc.goto("/home")
        state = sc.where()  # inside the step: a page it cannot place gets its screenshot
    if state != "app.signed_in":
        sc.sign_in(state)
    with ctx.step("signed in"):
        sc.open("/home")
    # Every run, a saved sign-in included: a saved browser state can land in another
    # account, and no later flow may work there.
    AccountPicker(sc).confirm_header()
    ctx.observe("signed_in", True)
