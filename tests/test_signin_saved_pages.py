"""Sign-in variants seen in Amazon's saved pages (evidence S4, U19, U25): each signs in with
the password typed once, or stops for a person with a reason of its own and one owner text.

The browser tests run real Chromium against the sandbox, each on healthy.yaml with the
``signin`` block of one bundled scenario (or one written here). The first tests check the
sandbox itself: every sign-in variant's pages carry the hidden inputs Amazon's pages carry.
"""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from rpa.browser.selectors import Selectors
from rpa.practice.receiver import Receiver
from rpa.practice.sandbox import SandboxState, list_scenarios, load_scenario
from rpa.practice.sandbox.auth import signin_page
from rpa.practice.sandbox.scenario import SCENARIO_DIR
from rpa.run.orchestrator import run
from rpa.seller_central.signin import (
    NEEDS_PERSON,
    SELECTOR_KEYS,
    SELF_CLEARING,
    SIGNIN_STATES,
    plain_email,
)
from tests.conftest import Sandbox
from tests.test_signin_variants import (
    assert_signed_in_once,
    assert_stopped,
    counters,
    login_steps,
    use_variant,
)

NEW_SCENARIOS = ("signin-claim", "signin-switch-accounts", "signin-select-device-totp",
                 "signin-cvf-captcha", "signin-waf", "signin-waf-stuck", "signin-button-wall")
SHORT_WAIT_S = 2  # browser.challenge_wait_s for checks that never clear


def serve_signin(sandbox: Sandbox, tmp_path: Path, signin: dict[str, Any]) -> None:
    """Serve healthy.yaml with this ``signin`` block."""
    data = yaml.safe_load((SCENARIO_DIR / "healthy.yaml").read_text())
    data["signin"] = signin
    path = tmp_path / "variant.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    sandbox.reset(str(path))


def fetch(sandbox: Sandbox, path: str) -> tuple[str, str]:
    """The final address and the body of a GET (redirects followed)."""
    with urllib.request.urlopen(sandbox.url + path, timeout=10) as resp:
        return resp.geturl(), resp.read().decode()


# -- unit: the states and their order -------------------------------------------------------


def test_new_pages_are_known_states_in_the_right_order() -> None:
    sel = Selectors.load()
    assert all(key in sel for key in (*SIGNIN_STATES, *SELECTOR_KEYS))
    assert set(SELF_CLEARING) <= set(SIGNIN_STATES)
    assert not set(SELF_CLEARING) & set(NEEDS_PERSON)
    assert "mfa.select_device" not in NEEDS_PERSON  # chosen when the authenticator is offered
    order = SIGNIN_STATES.index
    # A CAPTCHA on a verification page's address is a CAPTCHA.
    assert order("challenge.captcha") < order("challenge.cvf_page")
    assert order("signin.account_chooser") < min(order("signin.email"), order("prompt.skip"))
    assert {r for r, _ in SELF_CLEARING.values()} == {"waf_challenge", "button_wall"}
    assert set(NEW_SCENARIOS) <= set(list_scenarios())


def test_emails_are_compared_trimmed_and_without_case() -> None:
    assert plain_email("  Seller@Example.COM \n") == "seller@example.com"
    assert plain_email("seller@example.com.au") != plain_email("seller@example.com")


# -- the sandbox carries the hidden inputs of Amazon's pages, in every sign-in variant --------


@pytest.mark.parametrize("name", [n for n in list_scenarios() if n.startswith("signin-")])
def test_every_signin_variant_has_amazons_hidden_inputs(name: str) -> None:
    state = SandboxState(load_scenario(name))
    if not state.scenario.signin.one_page:
        email_page = bytes(signin_page(state, "email", "/home").body).decode()
        hidden = re.search(r'<input type="password" id="ap-credential-autofill-hint" '
                           r'name="password"[^>]*style="display:none"', email_page)
        field = re.search(r'id="ap_email(_login)?"', email_page)
        assert hidden and field and hidden.start() < field.start(), name
        password_page = bytes(signin_page(state, "password", "/home",
                                          email="seller@example.com").body).decode()
        hidden_email = password_page.index('<input type="hidden" name="email" id="ap_email"')
        assert hidden_email < password_page.index('id="ap_password"'), name


def test_claim_page_is_served_as_saved(sandbox: Sandbox, tmp_path: Path) -> None:
    use_variant(sandbox, tmp_path, "signin-claim")
    url, page = fetch(sandbox, "/home")
    assert "/ax/claim?" in url
    assert 'form id="ap_login_form" name="signIn"' in page and 'id="ap_email_login"' in page
    assert 'aria-label="Enter your mobile number or email"' in page
    assert "Sign in or create account" in page and 'id="continue"' not in page


# -- browser: each variant ------------------------------------------------------------------


def test_claim_email_page_then_password_signs_in_once(sandbox: Sandbox, make_config: Any,
                                                      tmp_path: Path) -> None:
    use_variant(sandbox, tmp_path, "signin-claim")
    result = run(make_config(), flows=["login"])
    assert_signed_in_once(result, sandbox)
    names = [s["name"] for s in login_steps(result)]
    assert names.index("sign in: email") < names.index("sign in: password")
    assert "sign in: email and password" not in names  # the hidden #ap_email is not a field


def test_switch_accounts_follows_the_exact_email_only(sandbox: Sandbox, make_config: Any,
                                                      tmp_path: Path) -> None:
    """Rows for xseller@… and …com.au around Seller@Example.com: the exact one, once."""
    use_variant(sandbox, tmp_path, "signin-switch-accounts")
    result = run(make_config(), flows=["login"])
    c = assert_signed_in_once(result, sandbox)  # a wrong row's password page would fail
    names = [s["name"] for s in login_steps(result)]
    assert "sign in: choose the remembered account" in names
    assert "sign in: email" not in names  # the remembered row led to the password page
    assert c["account_chooser_shown"] == 1


def test_switch_accounts_without_the_configured_email_stops(
        sandbox: Sandbox, make_config: Any, receiver: Receiver, tmp_path: Path) -> None:
    serve_signin(sandbox, tmp_path, {"account_chooser": [
        {"name": "Other Seller", "email": "xseller@example.com"},
        {"name": "Practice Seller AU", "email": "seller@example.com.au"}]})
    result = run(make_config(), flows=["login"])
    assert_stopped(result, receiver, "account_chooser", "/ap/signin")
    c = counters(sandbox)
    assert (c["password_posts"], c["signins"], c["account_chooser_shown"]) == (0, 0, 1)
    assert not any(s["name"] == "sign in: choose the remembered account"
                   for s in login_steps(result))


def test_device_choice_with_the_authenticator_chooses_it(sandbox: Sandbox, make_config: Any,
                                                         tmp_path: Path) -> None:
    """The text message is chosen already: a code typed without choosing would be refused."""
    use_variant(sandbox, tmp_path, "signin-select-device-totp")
    result = run(make_config(), flows=["login"])
    c = assert_signed_in_once(result, sandbox)
    names = [s["name"] for s in login_steps(result)]
    assert names.index("sign in: choose the authenticator app for the code") < names.index(
        "sign in: one-time code")
    assert (c["otp_pages_shown"], c["otp_failures"]) == (1, 0)


def test_waf_check_that_clears_itself_is_waited_for(sandbox: Sandbox, make_config: Any,
                                                    tmp_path: Path) -> None:
    use_variant(sandbox, tmp_path, "signin-waf")  # clears after 1.5 s
    result = run(make_config(), flows=["login"])
    c = assert_signed_in_once(result, sandbox)
    assert (c["challenge_pages_shown"], c["challenges_cleared"]) == (1, 1)
    wait = next(s for s in login_steps(result) if s["name"].startswith("sign in: wait for"))
    assert wait["outcome"] == "ok" and wait["seconds"] < 15


def test_waf_check_that_never_clears_stops_after_the_wait(
        sandbox: Sandbox, make_config: Any, receiver: Receiver, tmp_path: Path) -> None:
    use_variant(sandbox, tmp_path, "signin-waf-stuck")
    result = run(make_config(browser__challenge_wait_s=SHORT_WAIT_S), flows=["login"])
    stop = assert_stopped(result, receiver, "waf_challenge", "/ap/signin")
    assert "did not clear within 2 s" in stop["error"]
    c = counters(sandbox)
    assert (c["password_posts"], c["challenges_cleared"], c["signin_page_views"]) == (0, 0, 0)


def test_button_wall_is_not_clicked_and_stops_after_the_wait(
        sandbox: Sandbox, make_config: Any, receiver: Receiver, tmp_path: Path) -> None:
    use_variant(sandbox, tmp_path, "signin-button-wall")
    result = run(make_config(browser__challenge_wait_s=SHORT_WAIT_S), flows=["login"])
    assert_stopped(result, receiver, "button_wall", "/ap/signin")
    c = counters(sandbox)
    assert (c["password_posts"], c["challenges_cleared"], c["captcha_pages_shown"]) == (0, 0, 0)


def test_cvf_text_captcha_is_a_captcha_not_a_verification(
        sandbox: Sandbox, make_config: Any, receiver: Receiver, tmp_path: Path) -> None:
    use_variant(sandbox, tmp_path, "signin-cvf-captcha")
    result = run(make_config(), flows=["login"])
    assert_stopped(result, receiver, "captcha", "/ap/cvf/verify")
    c = counters(sandbox)
    assert (c["password_posts"], c["otp_pages_shown"], c["signins"]) == (1, 0, 0)
