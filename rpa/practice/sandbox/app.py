"""The sandbox Seller Central as a Starlette app: the gate, the signed-in pages, the wiring."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from rpa.practice.sandbox import auth, control, messaging, picker
from rpa.practice.sandbox.scenario import SECTIONS, STOPLIGHT, Scenario
from rpa.practice.sandbox.state import SandboxState, Session
from rpa.practice.sandbox.web import (
    CONTROL_PREFIX,
    HEALTH_PATH,
    ORDERS_PATH,
    PICKER_PATH,
    chrome_context,
    current_session,
    path_with_query,
    picker_url,
    redirect,
    render,
    sandbox,
    signin_url,
)
from rpa.practice.sandbox.wording import APP_WORDS, words

PUBLIC_PREFIXES = ("/ap/", "/errors/")
HANG_POLL_S = 0.05
HANG_LIMIT_S = 600.0  # a held request is let go at the latest then
ACTION_SUFFIXES = ("/reply", "/no-response-needed")


class Gate:
    """Runs before every page: counters, injected faults, sign-in and account selection."""

    def __init__(self, app: ASGIApp, state: SandboxState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        if scope["path"] == "/favicon.ico":
            await Response(status_code=404)(scope, receive, send)
            return
        response = await self._check(Request(scope))
        if response is None:
            await self.app(scope, receive, send)
        else:
            await response(scope, receive, send)

    async def _check(self, request: Request) -> Response | None:
        state, path = self.state, request.url.path
        state.bump("requests")
        slow_ms = state.faults.slow_ms
        if slow_ms > 0:
            await asyncio.sleep(slow_ms / 1000)
        # A request let go after a hang belongs to faults that are gone: it must not take
        # the one-shot faults set since (a CAPTCHA meant for the next sign-in, say).
        held = state.take_hang(path) or state.never_loads(path)
        if held:
            await _hold(state)
        if not held and state.take_http500(path):
            return render("error.html", status_code=500, heading="Internal Server Error",
                          detail="We're sorry, something went wrong on our end.")
        # The CAPTCHA is a page: a messaging app's data request does not take it.
        if (not held and request.method == "GET" and path != "/errors/validateCaptcha"
                and not path.startswith(messaging.API_PREFIX)
                and state.take_flag("captcha")):
            state.bump("captcha_pages_shown")
            return render("robot.html")
        if path.startswith(PUBLIC_PREFIXES):
            return None
        _, session = current_session(request)
        if session is None:
            return redirect(signin_url(_return_path(request)), status_code=302)
        _select_from_query(state, session, request)
        if path != PICKER_PATH and state.needs_picker and state.selection(session) is None:
            return redirect(picker_url(_return_path(request)), status_code=302)
        return None


async def _hold(state: SandboxState) -> None:
    """Keep a request unanswered until the faults are cleared or reset (or a long limit)."""
    generation = state.fault_generation
    loop = asyncio.get_running_loop()
    deadline = loop.time() + HANG_LIMIT_S
    while state.fault_generation == generation and loop.time() < deadline:
        await asyncio.sleep(HANG_POLL_S)


def _return_path(request: Request) -> str:
    if request.method == "GET":
        return path_with_query(request)
    path = request.url.path
    for suffix in ACTION_SUFFIXES:
        if path.endswith(suffix):
            return path[: -len(suffix)]
    return path


def _select_from_query(state: SandboxState, session: Session, request: Request) -> None:
    merchant = request.query_params.get("mons_sel_dir_mcid")
    market = request.query_params.get("mons_sel_mkid")
    if merchant and market:
        chosen = state.find_choice(merchant, market)
        if chosen is not None:
            with state.lock:
                session.merchant_id, session.marketplace_id = chosen[0].merchant_id, chosen[1].id


def _signed_in(request: Request) -> tuple[SandboxState, Session, dict[str, Any]]:
    state = sandbox(request)
    _, session = current_session(request)
    if session is None:
        raise HTTPException(status_code=401)
    return state, session, chrome_context(state, session)


async def to_home(request: Request) -> Response:
    return redirect("/home", status_code=302)


# The scenario's English status words as keys of the wording tables.
STATUS_KEYS = {"Good": "status_good", "Fair": "status_fair", "Poor": "status_poor",
               "Healthy": "status_healthy", "At Risk": "status_at_risk",
               "Unhealthy": "status_unhealthy"}
SECTION_KEYS = dict(zip(SECTIONS, ("section_customer_service", "section_policy",
                                   "section_shipping"), strict=True))


def _count(number: int, w: dict[str, str]) -> str:
    """A count written the locale's way: 1,234 · 1.234 · 1 234."""
    return f"{number:,}".replace(",", w["thousands"])


def _page_words(state: SandboxState) -> dict[str, str]:
    return words(APP_WORDS, state.scenario.locale)


async def home(request: Request) -> Response:
    state, _, chrome = _signed_in(request)
    scenario = state.scenario
    w = _page_words(state)
    template = "home_modern.html" if scenario.layout == "modern" else "home_classic.html"
    orders = scenario.open_orders
    # The breakdown the modern Open Orders card may show beside its total.
    breakdown = [
        {"label": w["fbm_unshipped"] + ":", "value": _count(scenario.unshipped_count, w),
         "test": "fbm-unshipped"},
        {"label": w["fbm_pending"] + ":", "value": _count(orders.fbm_pending, w),
         "test": "fbm-pending"},
        {"label": w["fba_pending"] + ":", "value": _count(orders.fba_pending, w),
         "test": "fba-pending"},
    ] if orders.breakdown else []
    overall = scenario.performance_label or w[STATUS_KEYS[scenario.overall_label]]
    return render(template, w=w, missing=scenario.missing_widgets,
                  unshipped=_count(scenario.unshipped_count, w),
                  pending=_count(orders.fbm_pending, w),
                  open_orders_total=_count(scenario.open_orders_total, w),
                  open_orders_lines=breakdown,
                  buyer_messages=_count(state.buyer_messages, w),
                  overall=overall, rating=scenario.rating,
                  stoplight=STOPLIGHT[scenario.overall], **chrome)


async def account_health(request: Request) -> Response:
    state, _, chrome = _signed_in(request)
    scenario = state.scenario
    w = _page_words(state)
    sections = [(title, w[SECTION_KEYS[title]],
                 [{"key": m.key, "name": m.name, "value": m.value, "target": m.target,
                   "status": m.status, "status_label": w[STATUS_KEYS[m.status]]}
                  for m in scenario.metrics if m.section == title])
                for title in SECTIONS]
    return render("health.html", w=w, layout=scenario.layout,
                  overall=w[STATUS_KEYS[scenario.overall_label]],
                  stoplight=STOPLIGHT[scenario.overall], rating=scenario.rating,
                  sections=[s for s in sections if s[2]], **chrome)


async def unshipped_orders(request: Request) -> Response:
    state, _, chrome = _signed_in(request)
    scenario = state.scenario
    w = _page_words(state)
    orders = sorted(scenario.unshipped_orders, key=lambda o: o.ship_by)
    count = scenario.unshipped_count
    return render("orders.html", w=w, orders=orders, count=_count(count, w),
                  count_word=w["order_one"] if count == 1 else w["order_many"],
                  pending=_count(scenario.open_orders.fbm_pending, w), **chrome)


async def not_found(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    heading = "Page not found" if status == 404 else "Something went wrong"
    return render("error.html", status_code=status, heading=heading,
                  detail="Looking for something? We can't find that page.")


ROUTES = [
    Route("/", to_home, methods=["GET"]),
    Route("/gp/homepage.html", to_home, methods=["GET"]),
    Route("/home", home, methods=["GET"]),
    Route(HEALTH_PATH, account_health, methods=["GET"]),
    Route(ORDERS_PATH, unshipped_orders, methods=["GET"]),
    *messaging.ROUTES,
]


def create_app(scenario: str | Path | Scenario = "healthy",
               state: SandboxState | None = None) -> Starlette:
    """The sandbox app for a scenario (name, path or model), or around an existing state."""
    live = state if state is not None else SandboxState(scenario)
    app = Starlette(
        routes=[*control.ROUTES, *auth.ROUTES, *picker.ROUTES, *ROUTES],
        middleware=[Middleware(Gate, state=live)],
        exception_handlers={404: not_found, 401: not_found, 405: not_found},
    )
    app.state.sandbox = live
    return app
