"""Runs that do not finish cleanly: stuck pages, timeouts, and the owner told once a day."""

from __future__ import annotations

import socket
import threading
import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from rpa.practice.receiver import Receiver
from rpa.run.orchestrator import run
from tests.conftest import Sandbox

NAV_TIMEOUT_MS = 2000
ATTEMPTS = 2


def _hang_home_after_login(sandbox: Sandbox) -> Any:
    def hook(event: str, rec: Any) -> None:
        if event == "end" and rec.flow == "login" and rec.name == "signed in":
            sandbox.fault(hang="/home", times=10)
    return hook


def test_a_page_that_never_loads_ends_the_run_with_evidence_and_one_text(
        sandbox: Sandbox, make_config: Any, receiver: Receiver) -> None:
    cfg = make_config(signed_in=True, browser={"timeout_ms": NAV_TIMEOUT_MS,
                               "navigation_timeout_ms": NAV_TIMEOUT_MS},
                      retries={"attempts": ATTEMPTS}, flows=["login", "dashboard"])
    started = time.monotonic()
    first = run(cfg, on_step=_hang_home_after_login(sandbox))
    elapsed = time.monotonic() - started
    assert first.status == "failed" and first.exit_code == 1
    dash = first.data["flows"]["dashboard"]
    assert dash["status"] == "failed" and dash["attempts"] == ATTEMPTS
    assert all(e["kind"] == "application" for e in first.data["errors"])
    login_s = sum(s["seconds"] for s in first.data["flows"]["login"]["steps"])
    # attempts x navigation timeout, plus the failure screenshots' own deadlines and slack
    assert elapsed - login_s < ATTEMPTS * NAV_TIMEOUT_MS / 1000 + 20, elapsed
    failed = [s for s in dash["steps"] if s["outcome"] == "failed"]
    assert len(failed) == ATTEMPTS
    assert all(s["screenshot"] and (first.folder / s["screenshot"]).is_file() for s in failed)
    texts = receiver.messages("sms")
    assert len(texts) == 1
    assert "dashboard" in texts[0] and first.data["run_id"] in texts[0]
    assert texts[0].endswith("-MS")
    assert first.data["run_alert"]["delivered"] is True
    report = (first.folder / "report.html").read_text()
    assert "run-alert" in report

    sandbox.reset("healthy")
    second = run(cfg, on_step=_hang_home_after_login(sandbox))
    sandbox.reset("healthy")
    assert second.exit_code == 1
    assert second.data["run_alert"]["already_texted_by"] == first.data["run_id"]
    assert second.data["run_alert"]["sent"] is False
    assert len(receiver.messages("sms")) == 1, "the same cause is texted once a day"


def test_a_person_needed_is_texted_once_a_day_and_a_new_cause_again(
        sandbox: Sandbox, make_config: Any, receiver: Receiver) -> None:
    cfg = make_config(flows=["login"])
    sandbox.fault(captcha=True)
    first = run(cfg)
    assert first.exit_code == 3
    assert receiver.wait_for(1)
    sandbox.fault(captcha=True)
    second = run(cfg)
    assert second.exit_code == 3
    assert second.data["run_alert"]["already_texted_by"] == first.data["run_id"]
    assert len(receiver.messages("sms")) == 1
    sandbox.fault(cvf=True)
    third = run(cfg)
    assert third.exit_code == 3 and third.data["errors"][0]["reason"] == "verification"
    assert third.data["run_alert"]["delivered"] is True
    texts = receiver.messages("sms")
    assert len(texts) == 2 and "needs a person" in texts[1]


def test_an_undelivered_text_is_tried_again_by_the_next_run(
        sandbox: Sandbox, make_config: Any, receiver: Receiver,
        monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = make_config(flows=["login"])
    with socket.socket() as sock:  # a port nothing listens on: the text cannot be delivered
        sock.bind(("127.0.0.1", 0))
        dead = f"json://127.0.0.1:{sock.getsockname()[1]}/sms"
    monkeypatch.setenv("T_SMS_URL", dead)
    sandbox.fault(captcha=True)
    first = run(cfg)
    assert first.data["run_alert"]["sent"] and not first.data["run_alert"]["delivered"]
    monkeypatch.setenv("T_SMS_URL", receiver.url("sms"))
    sandbox.fault(captcha=True)
    second = run(cfg)
    assert second.data["run_alert"]["delivered"] is True
    assert len(receiver.messages("sms")) == 1


def test_hang_fault_holds_a_request_until_cleared(sandbox: Sandbox) -> None:
    sandbox.fault(hang="/ap/signin", times=1)
    with pytest.raises((TimeoutError, urllib.error.URLError)):
        urllib.request.urlopen(sandbox.url + "/ap/signin", timeout=0.5)
    assert sandbox.state()["counters"]["hangs_started"] == 1
    with urllib.request.urlopen(sandbox.url + "/ap/signin", timeout=5) as resp:
        assert resp.status == 200, "one hang was asked for, the next request is served"
    with pytest.raises(urllib.error.HTTPError) as err:
        sandbox.fault(hang="home")
    assert err.value.code == 400
    sandbox.reset("healthy")  # lets the held request go


def test_a_request_let_go_after_a_hang_takes_no_fault_set_since(sandbox: Sandbox) -> None:
    """A page held by one test's hang must not eat the CAPTCHA the next test asks for."""
    sandbox.fault(hang="/home", times=1)
    statuses: list[int] = []

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None  # like a browser that was closed meanwhile: nothing follows

    opener = urllib.request.build_opener(NoRedirect)

    def held_request() -> None:
        try:
            with opener.open(sandbox.url + "/home", timeout=30) as resp:
                statuses.append(resp.status)
        except urllib.error.HTTPError as err:
            statuses.append(err.code)
        except urllib.error.URLError:
            statuses.append(-1)

    held = threading.Thread(target=held_request)
    held.start()
    deadline = time.monotonic() + 10
    while sandbox.state()["counters"]["hangs_started"] < 1:
        assert time.monotonic() < deadline, "the request was never held"
        time.sleep(0.02)
    sandbox.reset("healthy")  # lets it go ...
    sandbox.fault(captcha=True)  # ... while a CAPTCHA is asked for the next sign-in
    held.join(30)
    assert statuses, "the held request was never answered"
    assert sandbox.state()["counters"]["captcha_pages_shown"] == 0
    with urllib.request.urlopen(sandbox.url + "/ap/signin", timeout=5) as resp:
        assert "captcha" in resp.read().decode().lower()
    assert sandbox.state()["counters"]["captcha_pages_shown"] == 1
