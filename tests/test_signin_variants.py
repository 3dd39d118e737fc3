"""Sign-in as Amazon varies it: each variant signs in with one password entry, or stops at exit 3.

The browser tests run real Chromium against the sandbox, each on a scenario derived from
healthy.yaml with the ``signin`` block (and locale) of one bundled ``signin-*`` scenario.
The unit tests above them cover the ``url`` selector strategy and the rule that a sign-in
failing after its password was typed becomes "a person is needed", once per run.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from rpa.browser.selectors import Selectors, parse_selectors, url_matches
from rpa.errors import ConfigError, NeedsPerson, PageError
from rpa.practice.receiver import Receiver
from rpa.practice.sandbox import load_scenario
from rpa.practice.sandbox.scenario import SCENARIO_DIR
from rpa.run.orchestrator import RunResult, run
from rpa.seller_central.signin import NEEDS_PERSON, SIGNIN_STATES, SignIn
from tests.conftest import Sandbox

SIGNIN_SCENARIOS = ("signin-one-page", "signin-prompts", "signin-de", "signin-verification",
                    "signin-unknown-prompt", "signin-captcha", "signin-select-device")


# -- unit: the url strategy and the state order ------------------------------------------


def test_url_strategy_matches_the_path_only() -> None:
    assert url_matches("^/ap/cvf/", "https://sellercentral.amazon.com/ap/cvf/verify?x=1")
    assert url_matches("^/ap/accountfixup", "http://127.0.0.1:8000/ap/accountfixup")
    assert not url_matches("^/ap/cvf/", "https://sellercentral.amazon.com/ap/signin")
    assert not url_matches("cvf", "https://x.example/ap/signin?next=/ap/cvf/verify")


def test_url_strategy_is_validated_like_the_others() -> None:
    keys = parse_selectors({"p": {"page": [{"url": "^/ap/cvf/"}, {"css": "#x"}]}}, "t.yaml")
    assert keys["p.page"][0].strategy == "url" and keys["p.page"][0].describe() == (
        "url='^/ap/cvf/'")
    for bad, words in (({"url": "^/ap/(cvf"}, "bad regular expression"),
                       ({"url": "^/ap/", "exact": True}, "'exact' does not go with 'url'"),
                       ({"url": "^/ap/", "name": "x"}, "'name' goes with 'role'"),
                       ({"url": ""}, "non-empty")):
        with pytest.raises(ConfigError, match=words) as err:
            parse_selectors({"p": {"page": [bad]}}, "t.yaml")
        assert "t.yaml: p.page[0]" in str(err.value)


def test_signin_states_exist_and_verification_comes_before_the_otp_page() -> None:
    sel = Selectors.load()
    assert all(key in sel for key in SIGNIN_STATES)
    assert set(NEEDS_PERSON) <= set(SIGNIN_STATES)
    order = SIGNIN_STATES.index
    assert order("challenge.cvf_page") < order("mfa.code")
    assert order("challenge.cvf") < order("mfa.code")
    assert max(order("signin.email"), order("signin.password"), order("mfa.code")) < order(
        "prompt.skip")
    assert sel.keys["challenge.cvf_page"][0].strategy == "url"


def test_bundled_signin_scenarios_load_and_bad_ones_name_the_key(tmp_path: Path) -> None:
    loaded = {name: load_scenario(name) for name in SIGNIN_SCENARIOS}
    assert loaded["signin-one-page"].signin.one_page
    assert not loaded["signin-one-page"].signin.remember_device_box
    assert loaded["signin-de"].locale == "de"
    assert [p.kind for p in loaded["signin-prompts"].signin.prompts] == [
        "passkey", "add_mobile", "account_fixup", "notice"]
    data = yaml.safe_load((SCENARIO_DIR / "healthy.yaml").read_text())
    data["signin"] = {"prompts": [{"kind": "survey", "way_on": "Skip"}]}
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data))
    with pytest.raises(ValueError, match=r"signin\.prompts\.0\.kind"):
        load_scenario(bad)


# -- unit: a failure after the password is final for the run ------------------------------


class _Ctx(SimpleNamespace):
    """Just enough of a RunContext for SignIn: steps recorded by name, no browser."""

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        self.steps.append(name)
        yield


def _signin(**ctx: Any) -> SignIn:
    fields: dict[str, Any] = {"signin_failed": "", "assist": False, "session": None,
                              "steps": []}
    fields.update(ctx)
    sc = SimpleNamespace(ctx=_Ctx(**fields), sel=None, page=None)
    return SignIn(sc)  # type: ignore[arg-type]


def test_failure_after_the_password_needs_a_person_and_blocks_later_walks() -> None:
    walk = _signin()

    def timeout_after_password(state: str | None) -> None:
        walk.password_typed = True
        raise PlaywrightTimeout("Timeout 3000ms exceeded.\nwaiting for navigation")

    walk._pages = timeout_after_password  # type: ignore[method-assign]
    with pytest.raises(NeedsPerson) as err:
        walk.run("signin.password")
    assert err.value.reason == "signin_failed" and "TimeoutError" in str(err.value)
    assert isinstance(err.value.__cause__, PlaywrightTimeout)
    ctx = walk.ctx
    assert ctx.signin_failed and ctx.steps == ["sign in: stopped (signin_failed)"]

    again = _signin(signin_failed=ctx.signin_failed)
    again._pages = lambda state: pytest.fail("no second walk may start")  # type: ignore
    with pytest.raises(NeedsPerson) as err2:
        again.run()
    assert err2.value.reason == "signin_failed_earlier"


def test_failure_before_the_password_stays_technical_and_retryable() -> None:
    walk = _signin()

    def error_page(state: str | None) -> None:
        raise PageError("HTTP 500 from /ap/signin")

    walk._pages = error_page  # type: ignore[method-assign]
    with pytest.raises(PageError):
        walk.run()
    assert walk.ctx.signin_failed == "" and walk.ctx.steps == []


# -- browser: each variant ------------------------------------------------------------------


def use_variant(sandbox: Sandbox, tmp_path: Path, name: str) -> None:
    """Serve healthy.yaml with the sign-in block (and locale) of bundled scenario ``name``."""
    data = yaml.safe_load((SCENARIO_DIR / "healthy.yaml").read_text())
    bundled = yaml.safe_load((SCENARIO_DIR / f"{name}.yaml").read_text())
    data["signin"] = bundled["signin"]
    data["locale"] = bundled.get("locale", "en")
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    sandbox.reset(str(path))


def counters(sandbox: Sandbox) -> dict[str, int]:
    return sandbox.state()["counters"]


def login_steps(result: RunResult) -> list[dict[str, Any]]:
    return result.data["flows"]["login"]["steps"]


def assert_signed_in_once(result: RunResult, sandbox: Sandbox) -> dict[str, int]:
    assert result.status == "ok", result.data["errors"]
    assert result.data["flows"]["login"]["attempts"] == 1
    c = counters(sandbox)
    assert (c["password_posts"], c["signins"]) == (1, 1)
    return c


def assert_stopped(result: RunResult, receiver: Receiver, reason: str,
                   path: str) -> dict[str, Any]:
    """Exit 3 for ``reason``, not retried, the stopping page at ``path`` in a screenshot."""
    assert (result.exit_code, result.status) == (3, "needs_person"), result.data["errors"]
    login = result.data["flows"]["login"]
    assert login["status"] == "needs_person" and login["attempts"] == 1
    person = [e for e in result.data["errors"] if e["kind"] == "needs_person"]
    assert person and person[0]["reason"] == reason and path in person[0]["url"]
    stop = login["steps"][-1]
    assert stop["name"] == f"sign in: stopped ({reason})" and stop["outcome"] == "failed"
    assert "[url: " in stop["error"] and path in stop["error"]
    assert stop["screenshot"] and (result.folder / stop["screenshot"]).is_file()
    assert receiver.wait_for(1) and receiver.items
    assert len(receiver.messages("sms")) == 1, receiver.messages()  # one owner text
    return stop


def test_one_page_form_otp_without_box_and_a_skip_link(sandbox: Sandbox, make_config: Any,
                                                      tmp_path: Path) -> None:
    use_variant(sandbox, tmp_path, "signin-one-page")
    result = run(make_config(), flows=["login"])
    c = assert_signed_in_once(result, sandbox)
    names = [s["name"] for s in login_steps(result)]
    assert "sign in: email" not in names and "sign in: email and password" in names
    assert "sign in: one-time code" in names and c["otp_pages_shown"] == 1
    assert "sign in: pass the prompt (Skip)" in names and c["prompts_shown"] == 1


def test_prompts_passed_by_each_usual_link(sandbox: Sandbox, make_config: Any,
                                           tmp_path: Path) -> None:
    use_variant(sandbox, tmp_path, "signin-prompts")
    result = run(make_config(), flows=["login"])
    c = assert_signed_in_once(result, sandbox)
    assert c["prompts_shown"] == 4
    passed = [s["name"] for s in login_steps(result)
              if s["name"].startswith("sign in: pass the prompt")]
    assert passed == [f"sign in: pass the prompt ({w})" for w in
                      ("Use your password", "Remind me later", "Not now", "Continue")]


def test_german_signin_pages(sandbox: Sandbox, make_config: Any, tmp_path: Path) -> None:
    use_variant(sandbox, tmp_path, "signin-de")
    with urllib.request.urlopen(sandbox.url + "/ap/signin", timeout=10) as resp:
        page = resp.read().decode()
    assert "<title>Amazon Anmelden</title>" in page and 'id="ap_email"' in page
    assert "Email or mobile phone number" not in page
    result = run(make_config(), flows=["login"])
    c = assert_signed_in_once(result, sandbox)
    names = [s["name"] for s in login_steps(result)]
    assert "sign in: pass the prompt (Überspringen)" in names and c["prompts_shown"] == 1
    assert c["otp_pages_shown"] == 1 and c["otp_failures"] == 0


def test_verification_with_an_otp_label_is_not_taken_for_the_otp_page(
        sandbox: Sandbox, make_config: Any, receiver: Receiver, tmp_path: Path) -> None:
    use_variant(sandbox, tmp_path, "signin-verification")
    result = run(make_config(), flows=["login"])
    assert_stopped(result, receiver, "verification", "/ap/cvf/verify")
    assert not any(s["name"].startswith("sign in: one-time code") for s in login_steps(result))
    c = counters(sandbox)
    assert (c["password_posts"], c["signins"], c["otp_pages_shown"]) == (1, 0, 0)


def test_prompt_without_a_known_way_on_stops_as_unknown(
        sandbox: Sandbox, make_config: Any, receiver: Receiver, tmp_path: Path) -> None:
    use_variant(sandbox, tmp_path, "signin-unknown-prompt")
    result = run(make_config(), flows=["login"])
    assert_stopped(result, receiver, "unknown_page", "/ap/notice")
    c = counters(sandbox)
    assert (c["password_posts"], c["prompts_shown"]) == (1, 1)


def test_image_captcha_on_the_password_page_stops_before_the_password(
        sandbox: Sandbox, make_config: Any, receiver: Receiver, tmp_path: Path) -> None:
    use_variant(sandbox, tmp_path, "signin-captcha")
    result = run(make_config(), flows=["login"])
    assert_stopped(result, receiver, "captcha", "/ap/signin")
    assert counters(sandbox)["password_posts"] == 0


def test_device_choice_for_the_code_needs_a_person(
        sandbox: Sandbox, make_config: Any, receiver: Receiver, tmp_path: Path) -> None:
    use_variant(sandbox, tmp_path, "signin-select-device")
    result = run(make_config(), flows=["login"])
    assert_stopped(result, receiver, "otp_device", "/ap/mfa")
    c = counters(sandbox)
    assert (c["password_posts"], c["otp_pages_shown"], c["signins"]) == (1, 0, 0)


def test_hang_after_the_password_is_not_retried(sandbox: Sandbox, make_config: Any,
                                                receiver: Receiver) -> None:
    sandbox.fault(hang="/ap/mfa")  # the page after the password never answers
    cfg = make_config(browser__navigation_timeout_ms=3000)
    result = run(cfg, flows=["login", "dashboard"])
    assert_stopped(result, receiver, "signin_failed", "/ap/")
    c = counters(sandbox)
    assert (c["password_posts"], c["hangs_started"], c["signins"]) == (1, 1, 0)
    assert result.data["flows"]["dashboard"]["status"] == "skipped"
    password_step = next(s for s in login_steps(result) if s["name"] == "sign in: password")
    assert password_step["outcome"] == "failed" and "Timeout" in password_step["error"]


def test_bundled_scenario_whose_code_page_never_loads(sandbox: Sandbox, make_config: Any,
                                                      receiver: Receiver) -> None:
    """`rpa sandbox --scenario signin-never-loads`: what a VA practises on is what the bot
    meets: the page after the password never finishes loading; stopped, not retried."""
    sandbox.reset("signin-never-loads")
    try:
        result = run(make_config(browser__navigation_timeout_ms=3000),
                     flows=["login", "dashboard"])
        c = counters(sandbox)
    finally:
        sandbox.reset("healthy")  # lets the held request go
    assert_stopped(result, receiver, "signin_failed", "/ap/")
    assert (c["password_posts"], c["signins"]) == (1, 0) and c["hangs_started"] >= 1
    assert result.data["flows"]["dashboard"]["status"] == "skipped"
    # The text itself names the cause and the run, also when its short form is sent.
    assert "signin_failed" in receiver.messages("sms")[0]
    assert result.data["run_id"] in receiver.messages("sms")[0], receiver.messages("sms")


def test_hang_before_the_password_is_retried_and_signs_in_once(
        sandbox: Sandbox, make_config: Any, receiver: Receiver) -> None:
    """Nothing secret was sent yet: a sign-in page that never loads is a technical error,
    retried by the orchestrator; the retry signs in, typing the password once."""
    sandbox.fault(hang="/ap/signin", times=1)
    try:
        result = run(make_config(browser__navigation_timeout_ms=3000), flows=["login"])
        c = counters(sandbox)
    finally:
        sandbox.reset("healthy")  # lets the held request go
    assert result.status == "ok", result.data["errors"]
    assert result.data["flows"]["login"]["attempts"] == 2
    assert [e["kind"] for e in result.data["errors"]] == ["application"]
    assert (c["hangs_started"], c["password_posts"], c["signins"]) == (1, 1, 1)
    assert receiver.items == []
