"""Sign-in pages: email, password, one-time code, the intrusion check, prompts, sign-out.

The scenario's ``signin`` block picks the version served (one page or two, the /ax/claim
email page, the "Switch accounts" page, an OTP page without the remember-device box, an
image CAPTCHA, a device choice, a verification page or its CAPTCHA, a check before the
sign-in page (:mod:`.challenge`), prompts after sign-in) and its ``locale`` the words; the
ids stay Amazon's, and so do the hidden inputs Amazon's pages carry (a hidden password
field on the email page, the email in a hidden ``#ap_email`` on the password page).
"""

from __future__ import annotations

from urllib.parse import urlencode

import pyotp
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from rpa.practice.sandbox import challenge
from rpa.practice.sandbox.state import PendingSignIn, SandboxState, new_token
from rpa.practice.sandbox.web import (
    KEEP_SIGNED_IN_MAX_AGE,
    PENDING_COOKIE,
    PENDING_MAX_AGE,
    REMEMBER_COOKIE,
    REMEMBER_MAX_AGE,
    SESSION_COOKIE,
    after_signin,
    current_session,
    redirect,
    render,
    safe_return,
    sandbox,
    signin_url,
)
from rpa.practice.sandbox.wording import SIGNIN_WORDS, words

CAPTCHA_TEXT = "KXQWTP"  # what the CAPTCHA image on the password page shows
# Where each prompt after sign-in lives (Amazon's own address for the account fixup).
PROMPT_PATHS = {
    "passkey": "/ap/passkey/nudge",
    "add_mobile": "/ap/phone/add",
    "account_fixup": "/ap/accountfixup",
    "notice": "/ap/notice",
}
FIXUP_SKIP_ID = "ap-account-fixup-phone-skip-link"
CLAIM_PATH = "/ax/claim"
DEVICE_KINDS = {"totp": "TOTP", "sms": "SMS", "voice": "VOICE"}  # as the radios' values end


def _form_value(form: FormData, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None


def _words(state: SandboxState) -> dict[str, str]:
    return words(SIGNIN_WORDS, state.scenario.locale)


def _hidden_fields(return_to: str) -> dict[str, str]:
    """The opaque fields a real sign-in form carries; fresh per page, never checked."""
    return {"appActionToken": new_token(), "workflowState": new_token(24),
            "metadata1": "ECdITeCs:" + new_token(32), "openid.return_to": return_to}


def signin_page(state: SandboxState, step: str, return_to: str, status_code: int = 200,
                email: str = "", error: str | None = None) -> Response:
    """The email step (the /ax/claim page when the scenario says so) or the password step
    (both on one page when the scenario says so)."""
    variant = state.scenario.signin
    if step == "email" and variant.claim and not variant.one_page:
        return render("claim.html", status_code=status_code, email=email, error=error,
                      hidden=_hidden_fields(return_to), w=_words(state))
    with_password = step == "password" or variant.one_page
    return render("signin.html", status_code=status_code, step=step, email=email,
                  error=error, hidden=_hidden_fields(return_to), one_page=variant.one_page,
                  captcha=CAPTCHA_TEXT if variant.captcha and with_password else "",
                  passkey=variant.claim, w=_words(state))


def mfa_page(state: SandboxState, return_to: str, error: str | None = None,
             device: str = "totp") -> Response:
    state.bump("otp_pages_shown")
    return render("mfa.html", error=error, return_to=return_to, select_device=False,
                  remember_box=state.scenario.signin.remember_device_box, device=device,
                  w=_words(state))


def chooser_page(state: SandboxState, request: Request, return_to: str) -> Response:
    """"Switch accounts": a link per remembered account, and "Add account"."""
    state.bump("account_chooser_shown")
    base = dict(request.query_params)
    base["openid.return_to"] = return_to

    def href(**extra: str) -> str:
        return f"/ap/signin?{urlencode({**base, **extra})}"

    rows = [{"name": r.name, "email": r.email, "href": href(switch_account=str(i))}
            for i, r in enumerate(state.scenario.signin.account_chooser)]
    return render("account_chooser.html", rows=rows, add_href=href(add_account="1"),
                  error=None, w=_words(state))


def _set_session_cookie(response: Response, token: str, keep: bool) -> None:
    response.set_cookie(SESSION_COOKIE, token, max_age=KEEP_SIGNED_IN_MAX_AGE if keep else None,
                        path="/", httponly=True, samesite="lax")


def _prompt_url(state: SandboxState, index: int, target: str) -> str:
    """The address of prompt ``index``, or ``target`` once every prompt was passed."""
    prompts = state.scenario.signin.prompts
    if index >= len(prompts):
        return target
    query = urlencode({"openid.return_to": target, "step": str(index)})
    return f"{PROMPT_PATHS[prompts[index].kind]}?{query}"


def _signed_in(state: SandboxState, email: str, return_to: str, keep: bool) -> Response:
    token = state.create_session(email)
    session = state.session(token)
    assert session is not None
    response = redirect(_prompt_url(state, 0, after_signin(state, session, return_to)))
    _set_session_cookie(response, token, keep)
    response.delete_cookie(PENDING_COOKIE, path="/")
    return response


def _return_to(request: Request, form: FormData | None = None) -> str:
    raw = _form_value(form, "openid.return_to") if form is not None else None
    return safe_return(raw or request.query_params.get("openid.return_to"))


async def signin_get(request: Request) -> Response:
    state = sandbox(request)
    wall = challenge.pending(state, request)
    if wall is not None:
        return wall
    state.bump("signin_page_views")
    return_to, variant, query = _return_to(request), state.scenario.signin, request.query_params
    remembered = variant.account_chooser
    chosen = query.get("switch_account", "")
    if chosen.isdigit() and int(chosen) < len(remembered):
        # A remembered account: its password page, the email kept in the hidden field.
        return signin_page(state, "password", return_to, email=remembered[int(chosen)].email)
    if remembered and "add_account" not in query:
        return chooser_page(state, request, return_to)
    if variant.claim and not variant.one_page:
        return redirect(f"{CLAIM_PATH}?{urlencode({'openid.return_to': return_to})}",
                        status_code=302)
    return signin_page(state, "email", return_to)


async def claim_get(request: Request) -> Response:
    state = sandbox(request)
    wall = challenge.pending(state, request)
    if wall is not None:
        return wall
    state.bump("signin_page_views")
    return signin_page(state, "email", _return_to(request))


async def claim_post(request: Request) -> Response:
    """The claim page's email: the password page when it is the seller's."""
    state = sandbox(request)
    form = await request.form()
    return_to = _return_to(request, form)
    email = (_form_value(form, "email") or "").strip()
    if email.lower() != state.scenario.seller.email.lower():
        return signin_page(state, "email", return_to, email=email,
                           error=_words(state)["unknown_email"])
    return signin_page(state, "password", return_to, email=email)


async def signin_post(request: Request) -> Response:
    state = sandbox(request)
    form = await request.form()
    return_to = _return_to(request, form)
    if "otpCode" in form:
        return _verify_otp(request, state, form, return_to)
    seller, variant, w = state.scenario.seller, state.scenario.signin, _words(state)
    email = (_form_value(form, "email") or "").strip()
    # The email page's hidden autofill field posts an empty password: no password given.
    password = _form_value(form, "password") or None
    if password is not None:
        state.bump("password_posts")
        state.note_device_data(_form_value(form, "deviceStorage") or "")
    if email.lower() != seller.email.lower():
        return signin_page(state, "email", return_to, email=email, error=w["unknown_email"])
    if password is None:
        return signin_page(state, "password", return_to, email=email)
    guess = (_form_value(form, "guess") or "").strip().upper()
    if variant.captcha and guess != CAPTCHA_TEXT:
        return signin_page(state, "password", return_to, email=email, error=w["wrong_captcha"])
    if password != seller.password:
        return signin_page(state, "password", return_to, email=email, error=w["wrong_password"])
    keep = _form_value(form, "rememberMe") == "true"
    if state.take_flag("cvf") or variant.verification or variant.cvf_captcha:
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
    if state.take_flag("otp_reject_once") or pending.device != "totp":
        valid = False  # a code sent by text or call is not the authenticator's
    if not valid:
        state.bump("otp_failures")
        return mfa_page(state, pending.return_to, error=_words(state)["wrong_otp"],
                        device=pending.device)
    state.drop_pending(request.cookies.get(PENDING_COOKIE))
    response = _signed_in(state, pending.email, pending.return_to, pending.remember_me)
    if _form_value(form, "rememberDevice"):
        response.set_cookie(REMEMBER_COOKIE, state.remember_device(pending.email),
                            max_age=REMEMBER_MAX_AGE, path="/", httponly=True, samesite="lax")
    return response


async def mfa_get(request: Request) -> Response:
    """The OTP page, or first the page choosing where a code is sent (when the scenario has it)."""
    state = sandbox(request)
    pending = state.pending_signin(request.cookies.get(PENDING_COOKIE))
    if pending is None:
        return redirect(signin_url(_return_to(request)))
    variant, w = state.scenario.signin, _words(state)
    if variant.select_device:
        token = new_token(12)
        devices = [{"kind": DEVICE_KINDS[kind], "value": f"{token}, {DEVICE_KINDS[kind]}",
                    "label": w[f"device_{kind}"]} for kind in variant.device_options]
        return render("mfa.html", error=None, return_to=pending.return_to, select_device=True,
                      remember_box=False, devices=devices, device="", w=w)
    return mfa_page(state, pending.return_to)


async def mfa_device_chosen(request: Request) -> Response:
    """A device was chosen: the sandbox 'sends' the code there and shows the OTP page."""
    state = sandbox(request)
    pending = state.pending_signin(request.cookies.get(PENDING_COOKIE))
    if pending is None:
        return redirect(signin_url(_return_to(request)))
    form = await request.form()
    chosen = (_form_value(form, "otpDeviceContext") or "").rpartition(",")[2].strip()
    device = next((k for k, v in DEVICE_KINDS.items() if v == chosen), "sms")
    with state.lock:
        pending.device = device
    return mfa_page(state, pending.return_to, device=device)


def _masked(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


async def cvf_page(request: Request) -> Response:
    state = sandbox(request)
    pending = state.pending_signin(request.cookies.get(PENDING_COOKIE))
    if pending is None:
        return redirect(signin_url(_return_to(request)))
    w = _words(state)
    error = w["wrong_cvf"] if request.method == "POST" else None
    variant = state.scenario.signin
    if variant.cvf_captcha:
        return await _cvf_captcha(request, state, pending.return_to)
    return render("cvf.html", masked_email=_masked(pending.email), error=error, w=w,
                  label=variant.verification_label, field_id=variant.verification_field_id)


async def _cvf_captcha(request: Request, state: SandboxState, return_to: str) -> Response:
    """The CVF page asking for a picture's characters; the right ones lead to the OTP page."""
    w = _words(state)
    if request.method == "POST":
        form = await request.form()
        if (_form_value(form, "cvf_captcha_input") or "").strip().upper() == CAPTCHA_TEXT:
            return redirect(f"/ap/mfa?{urlencode({'openid.return_to': return_to})}")
    error = w["wrong_captcha"] if request.method == "POST" else None
    state.bump("captcha_pages_shown")
    return render("cvf_captcha.html", captcha=CAPTCHA_TEXT, error=error, w=w)


async def prompt_page(request: Request) -> Response:
    """A prompt after sign-in (passkey, mobile number, account fixup, a notice)."""
    state = sandbox(request)
    _, session = current_session(request)
    target = _return_to(request)
    if session is None:
        return redirect(signin_url(target))
    prompts = state.scenario.signin.prompts
    try:
        index = int(request.query_params.get("step", "0"))
    except ValueError:
        index = -1
    if not 0 <= index < len(prompts) or PROMPT_PATHS[prompts[index].kind] != request.url.path:
        return redirect(target)  # an old or made-up prompt address: nothing to ask
    state.bump("prompts_shown")
    kind, w = prompts[index].kind, _words(state)
    return render("prompt.html", heading=w[f"{kind}_heading"], text=w[f"{kind}_text"],
                  action=w[f"{kind}_action"], way_on=prompts[index].way_on,
                  link_id=FIXUP_SKIP_ID if kind == "account_fixup" else "",
                  next_url=_prompt_url(state, index + 1, target), error=None, w=w)


async def signout(request: Request) -> Response:
    token, _ = current_session(request)
    sandbox(request).end_session(token)
    response = redirect(signin_url("/home"), status_code=302)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


async def robot_check(request: Request) -> Response:
    passed = challenge.wall_answered(request)
    if passed is not None:
        return passed
    sandbox(request).bump("captcha_pages_shown")
    return render("robot.html")


ROUTES = [
    Route("/ap/signin", signin_get, methods=["GET"]),
    Route("/ap/signin", signin_post, methods=["POST"]),
    Route(CLAIM_PATH, claim_get, methods=["GET"]),
    Route(CLAIM_PATH, claim_post, methods=["POST"]),
    Route("/ap/mfa", mfa_get, methods=["GET"]),
    Route("/ap/mfa", mfa_device_chosen, methods=["POST"]),
    Route("/ap/cvf/verify", cvf_page, methods=["GET", "POST"]),
    Route("/ap/signout", signout, methods=["GET", "POST"]),
    *(Route(path, prompt_page, methods=["GET"]) for path in PROMPT_PATHS.values()),
    Route("/errors/validateCaptcha", robot_check, methods=["GET", "POST"]),
    *challenge.ROUTES,
]
