"""Sign-in pages: email, password, one-time code, the intrusion check, sign-out, picker."""

from __future__ import annotations

from urllib.parse import urlencode

import pyotp
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from rpa.practice.sandbox.state import PendingSignIn, SandboxState, new_token
from rpa.practice.sandbox.web import (
    KEEP_SIGNED_IN_MAX_AGE,
    PENDING_COOKIE,
    PENDING_MAX_AGE,
    PICKER_PATH,
    REMEMBER_COOKIE,
    REMEMBER_MAX_AGE,
    SESSION_COOKIE,
    after_signin,
    chrome_context,
    current_session,
    redirect,
    render,
    safe_return,
    sandbox,
    signin_url,
)

UNKNOWN_EMAIL = "We cannot find an account with that email address"
WRONG_PASSWORD = "Your password is incorrect"
WRONG_OTP = "The One Time Password (OTP) you entered is not valid. Please try again."
WRONG_CVF = "Invalid code. Please check your code and try again."


def _form_value(form: FormData, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None


def _hidden_fields(return_to: str) -> dict[str, str]:
    """The opaque fields a real sign-in form carries; fresh per page, never checked."""
    return {"appActionToken": new_token(), "workflowState": new_token(24),
            "metadata1": "ECdITeCs:" + new_token(32), "openid.return_to": return_to}


def signin_page(step: str, return_to: str, status_code: int = 200, email: str = "",
                error: str | None = None) -> Response:
    return render("signin.html", status_code=status_code, step=step, email=email,
                  error=error, hidden=_hidden_fields(return_to))


def mfa_page(state: SandboxState, return_to: str, error: str | None = None) -> Response:
    state.bump("otp_pages_shown")
    return render("mfa.html", error=error, return_to=return_to)


def _set_session_cookie(response: Response, token: str, keep: bool) -> None:
    response.set_cookie(SESSION_COOKIE, token, max_age=KEEP_SIGNED_IN_MAX_AGE if keep else None,
                        path="/", httponly=True, samesite="lax")


def _signed_in(state: SandboxState, email: str, return_to: str, keep: bool) -> Response:
    token = state.create_session(email)
    session = state.session(token)
    assert session is not None
    response = redirect(after_signin(state, session, return_to))
    _set_session_cookie(response, token, keep)
    response.delete_cookie(PENDING_COOKIE, path="/")
    return response


def _return_to(request: Request, form: FormData | None = None) -> str:
    raw = _form_value(form, "openid.return_to") if form is not None else None
    return safe_return(raw or request.query_params.get("openid.return_to"))


async def signin_get(request: Request) -> Response:
    sandbox(request).bump("signin_page_views")
    return signin_page("email", _return_to(request))


async def signin_post(request: Request) -> Response:
    state = sandbox(request)
    form = await request.form()
    return_to = _return_to(request, form)
    if "otpCode" in form:
        return _verify_otp(request, state, form, return_to)
    seller = state.scenario.seller
    email = (_form_value(form, "email") or "").strip()
    password = _form_value(form, "password")
    if password is not None:
        state.bump("password_posts")
    if email.lower() != seller.email.lower():
        return signin_page("email", return_to, email=email, error=UNKNOWN_EMAIL)
    if password is None:
        return signin_page("password", return_to, email=email)
    if password != seller.password:
        return signin_page("password", return_to, email=email, error=WRONG_PASSWORD)
    keep = _form_value(form, "rememberMe") == "true"
    if state.take_flag("cvf"):
        return _to_second_step(state, "/ap/cvf/verify", email, return_to, keep)
    if state.device_remembered(request.cookies.get(REMEMBER_COOKIE), email):
        return _signed_in(state, email, return_to, keep)
    return _to_second_step(state, "/ap/mfa", email, return_to, keep)


def _to_second_step(state: SandboxState, path: str, email: str, return_to: str,
                    keep: bool) -> Response:
    token = state.add_pending(PendingSignIn(email=email, return_to=return_to, remember_me=keep))
    response = redirect(f"{path}?{urlencode({'openid.return_to': return_to})}")
    response.set_cookie(PENDING_COOKIE, token, max_age=PENDING_MAX_AGE, path="/",
                        httponly=True, samesite="lax")
    return response


def _verify_otp(request: Request, state: SandboxState, form: FormData,
                return_to: str) -> Response:
    pending = state.pending_signin(request.cookies.get(PENDING_COOKIE))
    if pending is None:
        return redirect(signin_url(return_to))
    code = (_form_value(form, "otpCode") or "").replace(" ", "").strip()
    valid = code.isdigit() and len(code) == 6 and pyotp.TOTP(
        state.scenario.seller.totp_secret).verify(code, valid_window=1)
    if state.take_flag("otp_reject_once"):
        valid = False
    if not valid:
        state.bump("otp_failures")
        return mfa_page(state, pending.return_to, error=WRONG_OTP)
    state.drop_pending(request.cookies.get(PENDING_COOKIE))
    response = _signed_in(state, pending.email, pending.return_to, pending.remember_me)
    if _form_value(form, "rememberDevice"):
        response.set_cookie(REMEMBER_COOKIE, state.remember_device(pending.email),
                            max_age=REMEMBER_MAX_AGE, path="/", httponly=True, samesite="lax")
    return response


async def mfa_get(request: Request) -> Response:
    state = sandbox(request)
    pending = state.pending_signin(request.cookies.get(PENDING_COOKIE))
    if pending is None:
        return redirect(signin_url(_return_to(request)))
    return mfa_page(state, pending.return_to)


def _masked(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


async def cvf_page(request: Request) -> Response:
    state = sandbox(request)
    pending = state.pending_signin(request.cookies.get(PENDING_COOKIE))
    if pending is None:
        return redirect(signin_url(_return_to(request)))
    error = WRONG_CVF if request.method == "POST" else None
    return render("cvf.html", masked_email=_masked(pending.email), error=error)


async def signout(request: Request) -> Response:
    token, _ = current_session(request)
    sandbox(request).end_session(token)
    response = redirect(signin_url("/home"), status_code=302)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


async def robot_check(request: Request) -> Response:
    sandbox(request).bump("captcha_pages_shown")
    return render("robot.html")


async def picker(request: Request) -> Response:
    state = sandbox(request)
    _, session = current_session(request)
    if session is None:
        return redirect(signin_url(PICKER_PATH), status_code=302)
    error = None
    if request.method == "POST":
        form = await request.form()
        return_to = safe_return(_form_value(form, "returnTo"))
        chosen = state.find_choice(_form_value(form, "merchantId") or "",
                                   _form_value(form, "marketplaceId") or "")
        if chosen is not None:
            with state.lock:
                session.merchant_id, session.marketplace_id = (chosen[0].merchant_id,
                                                               chosen[1].id)
            return redirect(return_to)
        error = "Choose an account and a marketplace."
    else:
        return_to = safe_return(request.query_params.get("returnTo"))
    accounts = [{"name": a.name, "merchantId": a.merchant_id,
                 "marketplaces": [{"name": m.name, "id": m.id} for m in a.marketplaces]}
                for a in state.scenario.accounts]
    return render("picker.html", status_code=400 if error else 200, accounts=accounts,
                  return_to=return_to, error=error, **chrome_context(state, session))


ROUTES = [
    Route("/ap/signin", signin_get, methods=["GET"]),
    Route("/ap/signin", signin_post, methods=["POST"]),
    Route("/ap/mfa", mfa_get, methods=["GET"]),
    Route("/ap/cvf/verify", cvf_page, methods=["GET", "POST"]),
    Route("/ap/signout", signout, methods=["GET", "POST"]),
    Route("/errors/validateCaptcha", robot_check, methods=["GET", "POST"]),
    Route(PICKER_PATH, picker, methods=["GET", "POST"]),
]
