"""The "Select an account" page: the account and marketplace a session works in.

Sellers with several accounts (or one account in several marketplaces) are sent here after
signing in, and come here again through the header's account switcher. The choice is kept
on the session; the header then shows it as "<account> | <marketplace>".
"""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from rpa.practice.sandbox.web import (
    PICKER_PATH,
    chrome_context,
    current_session,
    redirect,
    render,
    safe_return,
    sandbox,
    signin_url,
)

NO_CHOICE = "Choose an account and a marketplace."


def _form_value(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


async def picker(request: Request) -> Response:
    """Show the accounts (GET) or keep the chosen account and marketplace (POST)."""
    state = sandbox(request)
    _, session = current_session(request)
    if session is None:
        return redirect(signin_url(PICKER_PATH), status_code=302)
    error = None
    if request.method == "POST":
        form = await request.form()
        return_to = safe_return(_form_value(form, "returnTo"))
        chosen = state.find_choice(_form_value(form, "merchantId"),
                                   _form_value(form, "marketplaceId"))
        if chosen is not None:
            with state.lock:
                session.merchant_id, session.marketplace_id = (chosen[0].merchant_id,
                                                               chosen[1].id)
            return redirect(return_to)
        error = NO_CHOICE
    else:
        return_to = safe_return(request.query_params.get("returnTo"))
    accounts = [{"name": a.name, "merchantId": a.merchant_id,
                 "marketplaces": [{"name": m.name, "id": m.id} for m in a.marketplaces]}
                for a in state.scenario.accounts]
    return render("picker.html", status_code=400 if error else 200, accounts=accounts,
                  return_to=return_to, error=error, **chrome_context(state, session))


ROUTES = [
    Route(PICKER_PATH, picker, methods=["GET", "POST"]),
]
