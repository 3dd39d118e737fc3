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

from rpa.practice.sandbox import auth, control, messaging, ngs, picker
from rpa.practice.sandbox.scenario import (
    CLASSIC_WORDS,
    DEFAULT_RATING,
    MODERN_WORDS,
    POLICY,
    SECTIONS,
    STOPLIGHT,
    Metric,
    Scenario,
)
from rpa.practice.sandbox.state import SandboxState, Session
from rpa.practice.sandbox.web import (
    CONTROL_PREFIX,
    HEALTH_PATH,
    ORDERS_PATH,
    chrome_context,
    current_session,
    path_with_query,
    picker_url,
    redirect,
    renamed,
    render,
    sandbox,
    signin_url,
)
from rpa.practice.sandbox.wording import APP_WORDS, words

PUBLIC_PREFIXES = ("/ap/", "/ax/", "/errors/")  # the sign-in pages and challenges
# Requests that change nothing; any other to a page after sign-in is a write (state.writes).
READ_METHODS = ("GET", "HEAD", "OPTIONS")
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
        if request.method not in READ_METHODS and path not in picker.PICKER_PATHS:
            state.record_write(request.method, path)
        _, session = current_session(request)
        if session is None:
            return redirect(signin_url(_return_path(request)), status_code=302)
        _select_from_query(state, session, request)
        if (path not in picker.PICKER_PATHS and state.needs_picker
                and state.selection(session) is None):
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


# --- Home, Account Health and Manage Orders, drawn as public evidence shows them ----------
# The language each page names in <html lang> (Seller Central follows the session's
# language, which the page says).
HTML_LANG = {"en": "en-US", "de": "de-DE", "fr": "fr-FR", "it": "it-IT", "es": "es-ES",
             "ja": "ja-JP"}
# Classic dashboard: each metric's row id as public code reads it (evidence U12, U13); the
# customer-service metrics are the summary rows of its customer-satisfaction section.
ROW_IDS = {"late_shipment_rate": "shipping-late-shipment-rate-row",
           "pre_fulfillment_cancel_rate": "shipping-cancellation-rate-row",
           "valid_tracking_rate": "shipping-view-tracking-rate-row",
           "on_time_delivery_rate": "unit-on-time-delivery-rate-row",
           "policy_compliance": "policies-product-warning-row"}
SECTION_IDS = dict(zip(SECTIONS, ("customer-satisfaction-section", "policy-compliance-section",
                                  "shipping-performance-section"), strict=True))
ROWS_IDS = {SECTIONS[0]: "customer-satisfaction-content-rows-section"}
PROGRAM_CODES = dict(zip(SECTIONS, ("CUSTOMER_SERVICE", "POLICY", "SHIPPING"), strict=True))
AHR_BADGES = {"Good": "great", "Fair": "at-risk", "Poor": "critical"}
BADGE_TYPES = {"Good": "success", "Fair": "warning", "Poor": "error"}
GLYPHS = {"Good": "\u2713", "Fair": "!", "Poor": "\u2717"}
WORST = ("Poor", "Fair", "Good")


def _page_context(state: SandboxState, w: dict[str, str]) -> dict[str, Any]:
    """What every page after sign-in drawn here shares: its language and first paint."""
    return {"w": w, "html_lang": HTML_LANG.get(state.scenario.locale, "en-US"),
            "first_paint_ms": state.scenario.after_signin.first_paint_ms}


def _other_status(status: str) -> str:
    return "Fair" if status == "Good" else "Good"


async def home(request: Request) -> Response:
    state, _, chrome = _signed_in(request)
    scenario = state.scenario
    shown = scenario.after_signin
    w = _page_words(state)
    template = ("home_labels.html" if shown.home_ids == "unknown"
                else "home_modern.html" if scenario.layout == "modern" else "home_classic.html")
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
    # The page whose ids are unknown: one Account Health tile, or two that disagree (the
    # same label beside two statuses) when the scenario asks for an ambiguous page.
    tiles = [{"overall": overall, "rating": scenario.rating,
              "stoplight": STOPLIGHT[scenario.overall]}]
    if "seller_performance" in shown.ambiguous:
        other = _other_status(scenario.overall)
        words = MODERN_WORDS if scenario.layout == "modern" else CLASSIC_WORDS
        tiles.append({"overall": w[STATUS_KEYS[words[other]]],
                      "rating": DEFAULT_RATING[other], "stoplight": STOPLIGHT[other]})
    page = render(template, missing=scenario.missing_widgets, ambiguous=shown.ambiguous,
                  unshipped=_count(scenario.unshipped_count, w),
                  unshipped_alt=_count(scenario.unshipped_count + 7, w),
                  pending=_count(orders.fbm_pending, w),
                  open_orders_total=_count(scenario.open_orders_total, w),
                  open_orders_lines=breakdown,
                  buyer_messages=_count(state.buyer_messages, w),
                  buyer_messages_alt=_count(state.buyer_messages + 5, w),
                  overall=overall, rating=scenario.rating, health_tiles=tiles,
                  stoplight=STOPLIGHT[scenario.overall], **_page_context(state, w), **chrome)
    return renamed(page, shown.renamed)


def _metric(m: Metric, w: dict[str, str]) -> dict[str, Any]:
    return {"key": m.key, "name": m.name, "value": m.value, "target": m.target,
            "status": m.status, "status_label": w[STATUS_KEYS[m.status]],
            "row_id": ROW_IDS.get(m.key, ""), "badge_type": BADGE_TYPES[m.status],
            "glyph": GLYPHS[m.status]}


async def account_health(request: Request) -> Response:
    state, _, chrome = _signed_in(request)
    scenario = state.scenario
    shown = scenario.after_signin
    w = _page_words(state)
    sections = []
    for title in SECTIONS:
        metrics = [m for m in scenario.metrics if m.section == title]
        if not metrics:
            continue
        worst = next(s for s in WORST if any(m.status == s for m in metrics))
        sections.append({
            "id": SECTION_IDS[title], "rows_id": ROWS_IDS.get(title, ""),
            "heading": w[SECTION_KEYS[title]], "code": PROGRAM_CODES[title],
            "policy": title == POLICY, "badge_type": BADGE_TYPES[worst],
            "status_label": w[STATUS_KEYS[worst]],
            "metrics": [_metric(m, w) for m in metrics]})
    template = "health_ahd.html" if shown.health_layout == "ahd" else "health.html"
    page = render(template, overall=w[STATUS_KEYS[scenario.overall_label]],
                  stoplight=STOPLIGHT[scenario.overall], rating=scenario.rating,
                  badge=AHR_BADGES[scenario.overall], badge_type=BADGE_TYPES[scenario.overall],
                  late_ms=shown.health_late_ms, sections=sections,
                  **_page_context(state, w), **chrome)
    return renamed(page, shown.renamed)


async def unshipped_orders(request: Request) -> Response:
    state, _, chrome = _signed_in(request)
    scenario = state.scenario
    w = _page_words(state)
    orders = sorted(scenario.unshipped_orders, key=lambda o: o.ship_by)
    count = scenario.unshipped_count
    return render("orders.html", orders=orders, count=_count(count, w),
                  count_word=w["order_one"] if count == 1 else w["order_many"],
                  pending=_count(scenario.open_orders.fbm_pending, w),
                  **_page_context(state, w), **chrome)


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
        routes=[*control.ROUTES, *auth.ROUTES, *picker.ROUTES, *ngs.ROUTES, *ROUTES],
        # The NGS redirect runs inside the gate: after sign-in and the picker.
        middleware=[Middleware(Gate, state=live), Middleware(ngs.NgsRedirect, state=live)],
        exception_handlers={404: not_found, 401: not_found, 405: not_found},
    )
    app.state.sandbox = live
    return app
