"""Shared web helpers: templates, cookies, redirects and the sandbox state of a request."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from rpa.practice.sandbox.header import header_context
from rpa.practice.sandbox.state import SandboxState, Session

TEMPLATE_DIR = Path(__file__).with_name("templates")

SESSION_COOKIE = "session-id"
REMEMBER_COOKIE = "sc-remember-device"
PENDING_COOKIE = "ap-pending"
REMEMBER_MAX_AGE = 30 * 24 * 3600
KEEP_SIGNED_IN_MAX_AGE = 14 * 24 * 3600
PENDING_MAX_AGE = 15 * 60

CONTROL_PREFIX = "/__sandbox/"
PICKER_PATH = "/account-switcher/default/merchantMarketplace"
INBOX_PATH = "/messaging/inbox-v3"
HEALTH_PATH = "/performance/account/health"
ORDERS_PATH = "/orders-v3/unshipped"
ASSOC_HANDLE = "sc_na_amazon_v2"


def _asset(name: str) -> Markup:
    text = (TEMPLATE_DIR / name).read_text(encoding="utf-8")
    if "</script" in text.lower() or "</style" in text.lower():
        raise ValueError(f"{name} must not close its own element")
    return Markup(text)


ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)
ENV.globals["components_js"] = _asset("components.js")
ENV.globals["site_css"] = _asset("site.css")
ENV.globals["inbox_path"] = INBOX_PATH
ENV.globals["health_path"] = HEALTH_PATH
ENV.globals["orders_path"] = ORDERS_PATH
ENV.globals["picker_path"] = PICKER_PATH


def render(template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    html = ENV.get_template(template).render(**context)
    return HTMLResponse(html, status_code=status_code,
                        headers={"Cache-Control": "no-store"})


def sandbox(request: Request) -> SandboxState:
    state: SandboxState = request.app.state.sandbox
    return state


def current_session(request: Request) -> tuple[str | None, Session | None]:
    token = request.cookies.get(SESSION_COOKIE)
    return token, sandbox(request).session(token)


def path_with_query(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def safe_return(target: str | None, default: str = "/home") -> str:
    """A local path to go back to; anything else (absolute or protocol-relative) is refused."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    if target.startswith(CONTROL_PREFIX) or target.startswith("/ap/"):
        return default
    return target


def signin_url(return_to: str) -> str:
    query = urlencode({
        "openid.return_to": return_to,
        "openid.assoc_handle": ASSOC_HANDLE,
        "openid.mode": "checkid_setup",
        "pageId": ASSOC_HANDLE,
    })
    return f"/ap/signin?{query}"


def picker_url(return_to: str) -> str:
    return f"{PICKER_PATH}?{urlencode({'returnTo': return_to})}"


def redirect(url: str, status_code: int = 303) -> RedirectResponse:
    response = RedirectResponse(url, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    return response


def after_signin(state: SandboxState, session: Session, return_to: str) -> str:
    """Where a freshly signed-in browser goes: the picker when a choice is needed."""
    target = safe_return(return_to)
    if state.selection(session) is None and state.needs_picker:
        return picker_url(target)
    return target


def chrome_context(state: SandboxState, session: Session) -> dict[str, Any]:
    """What the signed-in top bar shows (its account switcher: rpa.practice.sandbox.header)."""
    return {"header": header_context(state, session), "signed_in_email": session.email,
            "storage_mark": state.storage_mark}


def renamed(response: Response, names: dict[str, str]) -> Response:
    """The page with the scenario's ids (and ``data-test`` names) renamed: a page Amazon
    changed (the legacy inbox among them: its list is drawn here, not by a script)."""
    if not names:
        return response
    html = bytes(response.body).decode("utf-8")
    for old, new in names.items():
        html = re.sub(rf'(\b(?:id|data-test|data-testid|value-test|button-test)=")'
                      rf'{re.escape(old)}"', rf'\g<1>{new}"', html)
    return HTMLResponse(html, status_code=response.status_code,
                        headers={"Cache-Control": "no-store"})
