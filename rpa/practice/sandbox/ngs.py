"""New Seller Central ("NGS"): ``/home`` redirected to the "My business" dashboard.

With ``account_pages.ngs: redirect`` a signed-in ``GET /home`` goes to
``/amazonsell/business?ref=homepage_redirect_ngs`` unless its address carries
``ngs_do_not_redirect_flag=1``, which keeps the classic home; with ``always`` the flag is
ignored. The dashboard is a page of its own: ``casino-*`` components, a favourites bar and
channel tabs, none of the classic home's frame or figures. Its cards show decoy figures
labelled like the classic ones, which a bot must never read. Each time it is served,
``ngs_pages_shown`` is counted.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from rpa.practice.sandbox.state import SandboxState
from rpa.practice.sandbox.web import current_session, redirect, render, sandbox

NGS_PATH = "/amazonsell/business"
NGS_FLAG = "ngs_do_not_redirect_flag"
NGS_REDIRECT = f"{NGS_PATH}?ref=homepage_redirect_ngs"
COUNTER = "ngs_pages_shown"


class NgsRedirect:
    """Sends a signed-in ``GET /home`` to the NGS dashboard when the scenario says so (runs
    after the gate, so sign-in and the picker come first)."""

    def __init__(self, app: ASGIApp, state: SandboxState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/home" and scope["method"] == "GET":
            request = Request(scope)
            mode = self.state.scenario.account_pages.ngs
            kept = request.query_params.get(NGS_FLAG) == "1" and mode != "always"
            if mode != "off" and not kept and current_session(request)[1] is not None:
                await redirect(NGS_REDIRECT, status_code=302)(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def business(request: Request) -> Response:
    state = sandbox(request)
    _, session = current_session(request)
    chosen = state.selection(session) if session is not None else None
    state.bump(COUNTER)
    return render("ngs_business.html", store=chosen[0].name if chosen else "",
                  unshipped=state.unshipped + 97, buyer_messages=state.buyer_messages + 75)


ROUTES = [Route(NGS_PATH, business, methods=["GET"])]
