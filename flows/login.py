"""Sign in to Seller Central and land on the configured account."""

from __future__ import annotations

from rpa.run.context import RunContext
from rpa.run.registry import flow
from rpa.seller_central.ngs import HOME_PATH
from rpa.seller_central.pages import SellerCentral
from rpa.seller_central.picker import AccountPicker


@flow("login")
def login(ctx: RunContext) -> None:
    """Sign in with password and one-time code (or the saved state), open the home page and
    confirm that the run works in the configured account and marketplace (from the header,
    the picker's choice read back, or the address; see rpa.seller_central.picker).

    The home page is opened with New Seller Central's opt-out flag (rpa.seller_central.ngs),
    so that an account moved to the NGS dashboard still shows the classic home."""
    sc = SellerCentral(ctx)
    with ctx.step("open Seller Central"):
        sc.goto(HOME_PATH)
        state = sc.where()  # inside the step: a page it cannot place gets its screenshot
    if state != "app.signed_in":
        sc.sign_in(state)
    with ctx.step("signed in"):
        sc.open(HOME_PATH)
    # Every run, a saved sign-in included: a saved browser state can land in another
    # account, and no later flow may work there.
    AccountPicker(sc).confirm_header()
    ctx.observe("signed_in", True)
