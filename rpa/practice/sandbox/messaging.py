"""Buyer-Seller Messaging: the inbox and the thread pages, in the scenario's generation.

``v3`` (the default) serves a shell: Seller Central's navigation and the messaging app, a
single-page app (``templates/messaging.js``, its components in ``messaging_parts.js``)
that draws its list and the open thread inside open shadow roots from the JSON below
``/messaging/api/``, and sends a reply or "No response needed" as a request of its own,
the page staying where it is. ``legacy`` serves the older server-drawn pages, whose forms
load the next page.

Both write to the same state: a reply or a thread closed by one shows in the other.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from rpa.practice.sandbox.state import LiveThread, SandboxState, Session
from rpa.practice.sandbox.web import (
    INBOX_PATH,
    TEMPLATE_DIR,
    chrome_context,
    current_session,
    redirect,
    renamed,
    render,
    sandbox,
)

LEGACY_INBOX_PATH = "/messaging/inbox"
THREAD_PATH = "/messaging/thread/{thread_id}"
API_PREFIX = "/messaging/api"
PAGE_SIZE = 10
SNIPPET_CHARS = 80
MAX_REPLY = 4000
SENT_FLASH = "Your message has been sent."
NO_RESPONSE_FLASH = "Marked as no response needed."
EMPTY_REPLY = "Enter a message"
TOO_LONG = f"Your message is too long ({MAX_REPLY} characters at most)"
# The v3 app's views, by the ``fi`` the left nav puts in the address, in the nav's order.
VIEWS = {"all": "All messages", "responseNeeded": "Response needed",
         "sent": "Sent messages", "resolved": "Resolved"}
STATUS_WORDS = {"response_needed": "Response needed", "responded": "Responded",
                "no_response_needed": "Resolved"}


def _script(*names: str) -> Markup:
    """The v3 app's script files, in order, as one script element's text."""
    text = "\n".join((TEMPLATE_DIR / name).read_text(encoding="utf-8") for name in names)
    if "</script" in text.lower():
        raise ValueError(f"{', '.join(names)} must not close their own element")
    return Markup(text)


# The app's parts (components and helpers), then the app.
MESSAGING_JS = _script("messaging_parts.js", "messaging.js")


def _signed_in(request: Request) -> tuple[SandboxState, Session, dict[str, Any]]:
    state = sandbox(request)
    _, session = current_session(request)
    if session is None:  # the gate sends signed-out requests to sign-in first
        raise HTTPException(status_code=401)
    return state, session, chrome_context(state, session)


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def _v3(state: SandboxState) -> bool:
    return state.scenario.messaging.inbox == "v3"


def _snippet(live: LiveThread) -> str:
    text = " ".join(live.latest_buyer_text().split())
    return text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 1].rstrip() + "…"


def _day(iso: str) -> str:
    """``Nov 25, 2025`` from an ISO time."""
    return datetime.fromisoformat(iso).strftime("%b %d, %Y").replace(" 0", " ")


def status_label(live: LiveThread) -> str:
    """The thread's status as its page words it ("Resolved on Nov 25, 2025")."""
    words = STATUS_WORDS[live.status]
    if live.status == "no_response_needed" and live.closed_at:
        return f"{words} on {_day(live.closed_at)}"
    return words


def _view_key(fi: str) -> str:
    """The view ``fi`` names (``RESPONSE_NEEDED`` and ``response-needed`` too)."""
    key = fi.replace("_", "").replace("-", "").lower()
    return {k.lower(): k for k in (*VIEWS, "search")}.get(key, "responseNeeded")


def _filter(state: SandboxState, fi: str, ss: str) -> tuple[str, str, list[LiveThread]]:
    """The view's key, its heading and its threads, oldest first."""
    view = _view_key(fi)
    with state.lock:
        threads = list(state.threads)
    if view == "search":
        needle = ss.strip().lower()
        found = [t for t in threads if needle and needle in t.thread.order_id.lower()]
        return "search", f"Search results for {ss.strip()}", found
    wanted = {"all": None, "sent": "responded", "resolved": "no_response_needed",
              "responseNeeded": "response_needed"}[view]
    return view, VIEWS[view], [t for t in threads if wanted is None or t.status == wanted]


def _page_of(request: Request, count: int) -> tuple[int, int]:
    pages = max(1, math.ceil(count / PAGE_SIZE))
    try:
        page = min(max(1, int(request.query_params.get("page", "1"))), pages)
    except ValueError:
        page = 1
    return page, pages


def _row(live: LiveThread) -> dict[str, Any]:
    t = live.thread
    return {"id": t.thread_id, "buyer": t.buyer, "subject": t.subject,
            "order_id": t.order_id, "received": t.received.isoformat(),
            "received_text": t.received.strftime("%b %d, %Y %H:%M"),
            "snippet": _snippet(live), "status": live.status,
            "status_label": status_label(live)}


def _thread_data(live: LiveThread) -> dict[str, Any]:
    t = live.thread
    return {"id": t.thread_id, "buyer": t.buyer, "subject": t.subject,
            "order_id": t.order_id, "status": live.status,
            "status_label": status_label(live), "messages": [dict(m) for m in live.messages]}


def _thread_or_404(state: SandboxState, thread_id: str) -> LiveThread:
    live = state.thread(thread_id)
    if live is None:
        raise HTTPException(status_code=404)
    return live


# --- pages -----------------------------------------------------------------------------------


def _app_page(request: Request, chrome: dict[str, Any], state: SandboxState,
              thread_id: str | None) -> Response:
    """The v3 shell: the navigation and the app, which draws everything else."""
    variant = state.scenario.messaging
    config = {"view": _view_key(request.query_params.get("fi", "responseNeeded")),
              "has_view": "fi" in request.query_params,
              "search": request.query_params.get("ss", ""),
              "page": request.query_params.get("page", "1"), "thread": thread_id,
              "inbox_path": INBOX_PATH, "thread_path": THREAD_PATH, "api": API_PREFIX,
              "views": list(VIEWS.items()), "min_width": variant.list_min_width,
              "cold_deep_link": variant.cold_deep_link,
              "no_response_label": variant.no_response_label,
              "render_ms": variant.render_ms}
    return render("messaging_v3.html", config=config, messaging_js=MESSAGING_JS, **chrome)


async def inbox(request: Request) -> Response:
    state, _, chrome = _signed_in(request)
    if _v3(state):
        return _app_page(request, chrome, state, None)
    fi = request.query_params.get("fi", "responseNeeded")
    ss = request.query_params.get("ss", "")
    view, heading, threads = _filter(state, fi, ss)
    page, pages = _page_of(request, len(threads))

    def link(number: int) -> str:
        params = {"fi": fi if view != "responseNeeded" else "responseNeeded"}
        if view == "search":
            params["ss"] = ss
        params["page"] = str(number)
        return f"{INBOX_PATH}?{urlencode(params)}"

    shown = threads[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
    shown_page = render("inbox_legacy.html", view=view, heading=heading,
                        rows=[_row(t) | {"received": t.thread.received} for t in shown],
                        page=page, pages=pages, total=len(threads),
                        needed=state.buyer_messages,
                        next_url=link(page + 1) if page < pages else None,
                        prev_url=link(page - 1) if page > 1 else None, search=ss, **chrome)
    # a page Amazon changed: the scenario's ids renamed (the list is drawn here)
    return renamed(shown_page, state.scenario.after_signin.renamed)


async def old_inbox(request: Request) -> Response:
    """``/messaging/inbox``: v3 draws only the navigation there; the legacy inbox lives
    on at the v3 address."""
    state, _, chrome = _signed_in(request)
    if _v3(state):
        return render("messaging_v3.html", config=None, messaging_js=Markup(""), **chrome)
    return redirect(f"{INBOX_PATH}?fi=responseNeeded", status_code=302)


def _legacy_thread(state: SandboxState, session: Session, chrome: dict[str, Any],
                   live: LiveThread, error: str | None = None, draft: str = "") -> Response:
    with state.lock:
        flash, session.flash = session.flash, None
        messages = list(live.messages)
    return render("thread_legacy.html", t=live.thread, status=live.status,
                  status_label=status_label(live), messages=messages, flash=flash,
                  error=error, draft=draft,
                  no_response_label=state.scenario.messaging.no_response_label, **chrome)


async def thread_page(request: Request) -> Response:
    state, session, chrome = _signed_in(request)
    live = _thread_or_404(state, request.path_params["thread_id"])
    state.bump("thread_pages_served")
    if _v3(state):
        return _app_page(request, chrome, state, live.thread_id)
    return _legacy_thread(state, session, chrome, live)


# --- actions: a form (legacy, the next page loads) or the app's request (v3, JSON) -------


async def thread_reply(request: Request) -> Response:
    state, session, chrome = _signed_in(request)
    live = _thread_or_404(state, request.path_params["thread_id"])
    as_json = _wants_json(request)
    form = await request.form()
    raw = form.get("text")
    text = raw.strip() if isinstance(raw, str) else ""
    problem = EMPTY_REPLY if not text else TOO_LONG if len(text) > MAX_REPLY else None
    if problem and as_json:
        return JSONResponse({"error": problem}, status_code=400)
    if problem:
        return _legacy_thread(state, session, chrome, live, error=problem,
                              draft=text[:MAX_REPLY] if text else "")
    state.reply(live.thread_id, text, via="app" if as_json else "form")
    if as_json:
        return JSONResponse({"flash": SENT_FLASH, "thread": _thread_data(live),
                             "needed": state.buyer_messages})
    with state.lock:
        session.flash = SENT_FLASH
    return redirect(THREAD_PATH.format(thread_id=live.thread_id))


async def thread_no_response(request: Request) -> Response:
    state, session, _ = _signed_in(request)
    live = _thread_or_404(state, request.path_params["thread_id"])
    as_json = _wants_json(request)
    state.mark_no_response(live.thread_id, via="app" if as_json else "form")
    if as_json:
        return JSONResponse({"flash": NO_RESPONSE_FLASH, "thread": _thread_data(live),
                             "needed": state.buyer_messages})
    with state.lock:
        session.flash = NO_RESPONSE_FLASH
    return redirect(THREAD_PATH.format(thread_id=live.thread_id))


# --- the v3 app's data -----------------------------------------------------------------------


async def api_threads(request: Request) -> Response:
    state, _, _ = _signed_in(request)
    state.bump("messaging_data_served")
    view, heading, threads = _filter(state, request.query_params.get("fi", "responseNeeded"),
                                     request.query_params.get("ss", ""))
    page, pages = _page_of(request, len(threads))
    first = (page - 1) * PAGE_SIZE
    shown = threads[first: first + PAGE_SIZE]
    return JSONResponse({"view": view, "heading": heading, "page": page, "pages": pages,
                         "total": len(threads), "first": first + 1 if shown else 0,
                         "last": first + len(shown), "needed": state.buyer_messages,
                         "rows": [_row(t) for t in shown]})


async def api_thread(request: Request) -> Response:
    state, _, _ = _signed_in(request)
    state.bump("messaging_data_served")
    live = _thread_or_404(state, request.path_params["thread_id"])
    return JSONResponse({"thread": _thread_data(live), "needed": state.buyer_messages})


ROUTES = [
    Route(LEGACY_INBOX_PATH, old_inbox, methods=["GET"]),
    Route(INBOX_PATH, inbox, methods=["GET"]),
    Route("/messaging/thread/{thread_id}", thread_page, methods=["GET"]),
    Route("/messaging/thread/{thread_id}/reply", thread_reply, methods=["POST"]),
    Route("/messaging/thread/{thread_id}/no-response-needed", thread_no_response,
          methods=["POST"]),
    Route(f"{API_PREFIX}/threads", api_threads, methods=["GET"]),
    Route(API_PREFIX + "/thread/{thread_id}", api_thread, methods=["GET"]),
]
