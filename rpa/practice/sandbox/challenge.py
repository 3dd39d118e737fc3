"""Checks Amazon may put before its sign-in page: AWS WAF's script check and a button wall.

The WAF page shows nothing: a ``window.gokuProps`` object, a script loaded from an
``awswaf.com`` address and an empty ``#challenge-container``. The script earns a token,
which Amazon keeps in the ``aws-waf-token`` cookie, then reloads the page; here the token
comes after the scenario's ``clears_after_ms``, or never. The wall (its page names itself
``ue_sn = "opfcaptcha.amazon.com"``) says "Click the button below to continue shopping"
above a single button and clears when that is clicked. A browser that passed a challenge
is not shown it again until the sandbox is reset.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from rpa.practice.sandbox.state import SandboxState, new_token
from rpa.practice.sandbox.web import redirect, render, safe_return, sandbox, signin_url

WAF_COOKIE = "aws-waf-token"
WALL_COOKIE = "sc-wall-passed"
# The script's address carries the WAF's host name, as Amazon's does.
WAF_SCRIPT_PATH = "/ap/waf/sandbox.token.awswaf.com/challenge.js"
WAF_TOKEN_PATH = "/ap/waf/token"
WALL_ANSWER = "opf-wall"  # the hidden ``amzn`` value the wall's form sends back
TOKEN_MAX_AGE = 4 * 24 * 3600

# The sandbox's stand-in for the WAF's script: it asks the sandbox for a token after the
# delay the page names, or never when it names none.
WAF_SCRIPT = """(function () {
  "use strict";
  var props = window.gokuProps || {};
  window.AwsWafIntegration = {
    getToken: function () {
      return new Promise(function (resolve) {
        if (typeof props.clearsAfterMs !== "number") { return; }
        window.setTimeout(function () {
          fetch("TOKEN_PATH", {method: "POST", credentials: "same-origin"}).then(resolve);
        }, props.clearsAfterMs);
      });
    }
  };
}());
""".replace("TOKEN_PATH", WAF_TOKEN_PATH)


def pending(state: SandboxState, request: Request) -> Response | None:
    """The scenario's challenge page when this browser has not passed it, else None."""
    challenge = state.scenario.signin.challenge
    if challenge is None:
        return None
    cookie = WAF_COOKIE if challenge.kind == "waf" else WALL_COOKIE
    if state.challenge_passed(request.cookies.get(cookie)):
        return None
    state.bump("challenge_pages_shown")
    if challenge.kind == "waf":
        # What the real page holds is opaque; the sandbox adds when its check passes.
        props = {"key": new_token(32), "iv": new_token(9), "context": new_token(48),
                 "clearsAfterMs": challenge.clears_after_ms}
        return render("waf.html", status_code=202, props=props, script=WAF_SCRIPT_PATH)
    target = request.query_params.get("openid.return_to", "/home")
    return render("button_wall.html", answer=WALL_ANSWER, return_to=safe_return(target),
                  page_id=new_token(15))


def wall_answered(request: Request) -> Response | None:
    """The wall's button was clicked: passed, back to the sign-in page; None otherwise."""
    if request.query_params.get("amzn") != WALL_ANSWER:
        return None
    state = sandbox(request)
    response = redirect(signin_url(safe_return(request.query_params.get("openid.return_to"))),
                        status_code=302)
    response.set_cookie(WALL_COOKIE, state.pass_challenge(), max_age=TOKEN_MAX_AGE, path="/",
                        httponly=True, samesite="lax")
    return response


async def waf_script(request: Request) -> Response:
    return Response(WAF_SCRIPT, media_type="application/javascript",
                    headers={"Cache-Control": "no-store"})


async def waf_token(request: Request) -> Response:
    """The token the WAF's script earns, as a cookie (the page then reloads itself)."""
    response = JSONResponse({"ok": True})
    response.set_cookie(WAF_COOKIE, sandbox(request).pass_challenge(), max_age=TOKEN_MAX_AGE,
                        path="/", samesite="lax")
    return response


ROUTES = [
    Route(WAF_SCRIPT_PATH, waf_script, methods=["GET"]),
    Route(WAF_TOKEN_PATH, waf_token, methods=["POST"]),
]
