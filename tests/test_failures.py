"""Runs that do not finish cleanly: stuck pages, timeouts, and the owner told once a day."""

from __future__ import annotations

import socket
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from rpa.practice.receiver import Receiver
from rpa.practice.sandbox import load_scenario
from rpa.practice.sandbox.scenario import SCENARIO_DIR
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


def test_bundled_scenario_whose_home_page_never_loads(
        sandbox: Sandbox, make_config: Any, receiver: Receiver) -> None:
    """`rpa sandbox --scenario home-never-loads`: the home page is held unanswered on every
    request; the run ends within attempts x navigation timeout plus a margin, exit 1, a
    screenshot of the stuck page per attempt, one owner text, no password typed."""
    sandbox.reset("home-never-loads")
    cfg = make_config(signed_in=True, browser={"timeout_ms": NAV_TIMEOUT_MS,
                                               "navigation_timeout_ms": NAV_TIMEOUT_MS},
                      retries={"attempts": ATTEMPTS}, flows=["login", "dashboard"])
    started = time.monotonic()
    try:
        result = run(cfg)
        elapsed = time.monotonic() - started
        c = sandbox.state()["counters"]
    finally:
        sandbox.reset("healthy")  # lets the held requests go
    assert (result.status, result.exit_code) == ("failed", 1), result.data["errors"]
    login = result.data["flows"]["login"]
    assert login["status"] == "failed" and login["attempts"] == ATTEMPTS
    assert result.data["flows"]["dashboard"]["status"] == "skipped"
    assert result.data["errors"] and all(
        e["kind"] == "application" for e in result.data["errors"])
    assert elapsed < ATTEMPTS * NAV_TIMEOUT_MS / 1000 + 30, elapsed
    assert c["hangs_started"] == ATTEMPTS and c["password_posts"] == 0
    failed = [s for s in login["steps"] if s["outcome"] == "failed"]
    assert len(failed) == ATTEMPTS
    assert all(s["screenshot"] and (result.folder / s["screenshot"]).is_file() for s in failed)
    texts = receiver.messages("sms")
    assert len(texts) == 1 and "login" in texts[0] and result.data["run_id"] in texts[0]
    assert result.data["run_alert"]["delivered"] is True


def test_scenario_never_loads_holds_every_request_to_its_paths(sandbox: Sandbox,
                                                               tmp_path: Path) -> None:
    sandbox.reset("home-never-loads")
    try:
        for _ in range(2):  # every time, not once
            with pytest.raises((TimeoutError, urllib.error.URLError)):
                urllib.request.urlopen(sandbox.url + "/home", timeout=0.5)
        with urllib.request.urlopen(sandbox.url + "/ap/signin", timeout=5) as resp:
            assert resp.status == 200, "other pages are served"
        assert sandbox.state()["counters"]["hangs_started"] == 2
    finally:
        sandbox.reset("healthy")  # lets the held requests go
    data = yaml.safe_load((SCENARIO_DIR / "healthy.yaml").read_text())
    data["never_loads"] = ["home"]
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data))
    with pytest.raises(ValueError, match=r"never_loads"):
        load_scenario(bad)


def test_a_full_page_shot_that_cannot_be_made_falls_back_to_the_viewport(
        tmp_path: Path) -> None:
    """The failure screenshot has deadlines of its own: the full page (encoded for speed),
    then, after the loading was stopped, Playwright's full page briefly, then the visible
    part only."""
    from playwright.sync_api import Error as PlaywrightError

    from rpa.run.evidence import FAILURE_SHOT_TIMEOUT_MS, VIEWPORT_SHOT_TIMEOUT_MS, Evidence

    png = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + (800).to_bytes(4, "big")
           + (600).to_bytes(4, "big") + b"\x08\x02\x00\x00\x00")
    calls: list[tuple[Any, ...]] = []

    class Session:
        def send(self, method: str, params: Any = None, *, timeout: int = 0) -> dict[str, Any]:
            if method == "Runtime.evaluate":  # the page is asked to get ready: no answer
                calls.append(("ready", timeout))
                raise PlaywrightError(f"Timeout {timeout}ms exceeded.")
            calls.append(("cdp", method))
            return {}

        def detach(self) -> None:
            pass

    class Context:
        def new_cdp_session(self, page: Any) -> Session:
            return Session()

    class StuckPage:
        context = Context()

        def screenshot(self, *, path: str, full_page: bool, timeout: int, **_: Any) -> None:
            calls.append(("shot", full_page, timeout))
            if full_page:
                raise PlaywrightError(f"Timeout {timeout}ms exceeded.")
            Path(path).write_bytes(png)

    evidence = Evidence(tmp_path, "run-1")
    shot = evidence.screenshot(StuckPage(), "stuck", timeout_ms=FAILURE_SHOT_TIMEOUT_MS)  # type: ignore[arg-type]
    assert shot is not None and (evidence.folder / shot).read_bytes() == png
    assert calls == [("ready", FAILURE_SHOT_TIMEOUT_MS), ("cdp", "Page.stopLoading"),
                     ("shot", True, VIEWPORT_SHOT_TIMEOUT_MS),
                     ("shot", False, VIEWPORT_SHOT_TIMEOUT_MS)]


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
