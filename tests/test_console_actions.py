"""The console's actions: the owner's answer form (preview, send, delivered once, audited,
refused for other roles and without the CSRF token) and Run now (steps shown as they
happen, one run at a time per account; all accounts, each run in a process of its own),
plus hostile escalation content shown as text.

One console server and one Chromium for the module; one routine run against the sandbox
(``healthy``, thread T-1002 gets the holding reply and becomes a ``B…`` escalation) sets
the scene, so Seller Central is signed in to once with a code and later runs reuse the
saved session.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from rpa import logs
from rpa.browser.chromium import KeptBrowser
from rpa.config import Config, parse_config
from rpa.ledger import Ledger
from rpa.practice.receiver import Receiver
from rpa.practice.sandbox import SandboxServer
from rpa.run.orchestrator import account_lock, run
from tests.conftest import Sandbox
from tests.console_server import (
    ConsoleServer,
    console_server,
    launch_browser,
    post_form,
    sign_in,
    user_entry,
)

__all__ = ["console_server"]  # the module-scoped fixture, used below

QUESTION_THREAD = "T-1002"
LINK_ANSWER = "Yes, the care guide is at www.bamboo-example.com/care"
ANSWER = ("Hello Marcus, the boards are best washed by hand with warm water; they are "
          "finished with food-safe mineral oil.")
PASSWORDS = {"olivia": "owner-pass-123", "victor": "va-pass-4567", "vera": "viewer-pass-89"}
ROLES = {"olivia": "owner", "victor": "va", "vera": "viewer"}
HOSTILE_BUYER = '<img src=x onerror="alert(1)">Eve'
HOSTILE_SUBJECT = "<script>alert('subject')</script>"
HOSTILE_LINK = "javascript:alert(document.cookie)"
RUN_TIMEOUT_MS = 180_000


class Scene:
    """What the module's tests share: the config, the console, the sandbox, the codes."""

    def __init__(self, cfg: Config, server: ConsoleServer, sandbox: Sandbox, code: str,
                 hostile: str, browser: Browser) -> None:
        self.cfg = cfg
        self.server = server
        self.url = server.url
        self.sandbox = sandbox
        self.code = code
        self.hostile = hostile
        self.browser = browser

    def ledger(self) -> Ledger:
        return Ledger(Path(self.cfg.paths.state_dir) / "ledger.sqlite")

    def replies(self, thread_id: str) -> list[str]:
        return [r["text"] for r in self.sandbox.state()["replies"]
                if r["thread_id"] == thread_id]

    def page_for(self, user: str) -> tuple[Page, list[str]]:
        """A new browser context signed in as ``user``, and the list its console errors
        and page errors go to."""
        context = self.browser.new_context()
        page = context.new_page()
        problems: list[str] = []
        page.on("console", lambda msg: problems.append(f"{msg.text} {msg.location}")
                if msg.type == "error" else None)
        page.on("pageerror", lambda err: problems.append(str(err)))
        # Which file a "failed to load" console error was about.
        page.on("response", lambda resp: problems.append(f"HTTP {resp.status} {resp.url}")
                if resp.status >= 400 else None)
        page.on("dialog", lambda dialog: (problems.append(f"dialog: {dialog.message}"),
                                          dialog.dismiss()))
        sign_in(page, self.url, user, PASSWORDS[user])
        assert page.locator(".who").inner_text().startswith(user)
        return page, problems


@pytest.fixture(scope="module")
def scene(sandbox_server: SandboxServer, console_server: ConsoleServer,
          tmp_path_factory: pytest.TempPathFactory, kept_browser: KeptBrowser) -> Iterator[Scene]:
    logs.setup(False)
    sandbox = Sandbox(sandbox_server)
    sandbox.reset("healthy")
    tmp = tmp_path_factory.mktemp("console_actions")
    receiver = Receiver().start()
    login = sandbox.login()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("T_SC_PASSWORD", login["password"])
        mp.setenv("T_SC_TOTP", login["totp_secret"])
        mp.setenv("T_SMS_URL", receiver.url("sms"))
        mp.setenv("T_DETAILS_URL", receiver.url("details"))
        cfg = parse_config({
            "accounts": [{"name": "test", "base_url": sandbox.url, "email": login["email"],
                          "password_env": "T_SC_PASSWORD", "totp_secret_env": "T_SC_TOTP",
                          "account_name": login["account_name"],
                          "marketplace": login["marketplace"]}],
            "va": {"full_name": "Maria Santos", "initials": "MS"},
            "notify": {"sms": {"url_env": "T_SMS_URL"},
                       "details": {"url_env": "T_DETAILS_URL", "label": "Upwork"}},
            "browser": {"timeout_ms": 15000},
            "flows": ["login", "dashboard", "performance"],
            "paths": {"state_dir": str(tmp / "state"),
                      "recordings_dir": str(tmp / "recordings")},
            "console": {"users": [user_entry(n, ROLES[n], p) for n, p in PASSWORDS.items()]},
        }, "test-console-actions")
        first = run(cfg, flows=["buyer_messages"])
        assert first.status == "ok", first.data["errors"]
        entry = next(t for t in first.data["threads"] if t["thread_id"] == QUESTION_THREAD)
        code = entry["escalation"]
        assert code and code.startswith("B")
        # Hostile content as a mail could bring it: recorded through the ledger's own API.
        ledger = Ledger(Path(cfg.paths.state_dir) / "ledger.sqlite")
        try:
            hostile, _ = ledger.escalate(
                "test", "email", "<hostile@example.com>", buyer=HOSTILE_BUYER,
                summary=f"{{code}}: {HOSTILE_BUYER} writes {HOSTILE_SUBJECT}",
                details=f"{{code}}: Subject: {HOSTILE_SUBJECT}\n\nClick {HOSTILE_LINK} or "
                        f"<a href=\"{HOSTILE_LINK}\">here</a>")
        finally:
            ledger.close()
        console_server.start(cfg)
        browser = launch_browser(kept_browser.playwright())
        try:
            yield Scene(cfg, console_server, sandbox, code, hostile, browser)
        finally:
            browser.close()
            sandbox.fault(slow_ms=0)
            receiver.stop()


def _post(page: Page, url: str, form: dict[str, str]) -> Any:
    """A form POST from the signed-in browser context (its cookie), as a crafted request."""
    return post_form(page, url, form)


def _csrf(page: Page) -> str:
    return page.locator("input[name=csrf_token]").first.get_attribute("value") or ""


def _wait_job_done(page: Page) -> None:
    page.wait_for_selector("#job[data-state=done]", timeout=RUN_TIMEOUT_MS)


def test_owner_previews_sends_once_and_is_audited(scene: Scene) -> None:
    page, problems = scene.page_for("olivia")
    page.goto(scene.url + "/escalations")
    row = page.locator(f"#escalations tr[data-code={scene.code}]")
    assert "notified" in row.inner_text()
    row.get_by_role("link", name=scene.code).click()
    page.wait_for_url(f"**/escalations/{scene.code}")
    assert "dishwasher" in page.locator("#question").inner_text().lower()
    assert page.locator("#history").inner_text().count("opened") == 1

    # Preview of an answer with a link: the rules say "link", nothing is recorded.
    page.locator("#answer-text").fill(LINK_ANSWER)
    page.get_by_role("button", name="Preview").click()
    page.wait_for_selector("#preview")
    assert "link" in page.locator("#problems").inner_text()
    assert "Maria Santos" in page.locator("#preview pre").inner_text()  # signed as sent
    assert page.locator("#answer-text").input_value() == LINK_ANSWER  # kept in the form
    ledger = scene.ledger()
    try:
        esc = ledger.escalation(scene.code) or {}
        assert esc["status"] == "notified" and not esc.get("answer")
    finally:
        ledger.close()
    assert len(scene.replies(QUESTION_THREAD)) == 1

    # Sending it anyway is refused, audited, the text kept.
    page.get_by_role("button", name="Send").click()
    page.wait_for_selector("#problems")
    assert "link" in page.locator("#problems").inner_text()
    assert page.locator("#answer-text").input_value() == LINK_ANSWER

    # A clean answer: previewed as passing, then sent and delivered by a background run.
    page.locator("#answer-text").fill(ANSWER)
    page.get_by_role("button", name="Preview").click()
    page.wait_for_selector("#rules-ok")
    page.get_by_role("button", name="Send").click()
    page.wait_for_url(re.compile(rf".*/escalations/{scene.code}\?sent=1$"))
    page.locator(".job a", has_text="job").first.click()
    _wait_job_done(page)
    assert page.locator("#job-state").inner_text().startswith("ended: ok")
    assert len(scene.replies(QUESTION_THREAD)) == 2
    assert "Marcus" in scene.replies(QUESTION_THREAD)[-1]

    page.goto(f"{scene.url}/escalations/{scene.code}")
    assert page.locator("#esc-state").inner_text() == "delivered"
    assert page.locator("#delivery").inner_text().startswith("delivered")
    assert page.locator("#answer-form").count() == 0
    ledger = scene.ledger()
    try:
        audit = ledger.audit_log()
    finally:
        ledger.close()
    answered = [a for a in audit if a["action"] == "answer" and scene.code in a["detail"]]
    assert [a["user"] for a in answered] == ["olivia"]
    refused = [a for a in audit if a["action"] == "answer_refused" and scene.code in a["detail"]]
    assert [a["user"] for a in refused] == ["olivia"] and "link" in refused[0]["detail"]
    assert any(a["action"] == "run_start" and a["user"] == "olivia" for a in audit)

    # Sending again is refused: it is delivered; the buyer still has two replies.
    resp = _post(page, f"{scene.url}/escalations/{scene.code}/answer",
                 {"csrf_token": _csrf(page), "text": ANSWER, "action": "send"})
    assert resp.status == 200 and "already delivered" in resp.text()
    assert len(scene.replies(QUESTION_THREAD)) == 2
    assert problems == []
    page.context.close()


def test_only_the_owner_answers_and_only_with_the_token(scene: Scene) -> None:
    target = f"{scene.url}/escalations/{scene.hostile}/answer"
    form = {"text": "Thanks, I will check.", "action": "send"}
    for user in ("vera", "victor"):
        page, problems = scene.page_for(user)
        page.goto(f"{scene.url}/escalations/{scene.hostile}")
        assert page.locator("#esc-state").inner_text() == "open"
        assert page.locator("#answer-form").count() == 0
        resp = _post(page, target, {**form, "csrf_token": _csrf(page)})
        assert resp.status == 403, (user, resp.status)
        if user == "vera":  # a viewer starts no run either
            resp = _post(page, scene.url + "/run", {"csrf_token": _csrf(page),
                                                    "account": "test", "mode": "routine"})
            assert resp.status == 403
        assert problems == []
        page.context.close()
    page, problems = scene.page_for("olivia")
    page.goto(f"{scene.url}/escalations/{scene.hostile}")
    assert page.locator("#answer-form").count() == 1
    assert _post(page, target, form).status == 403  # no token
    assert _post(page, target, {**form, "csrf_token": "forged"}).status == 403
    ledger = scene.ledger()
    try:
        esc = ledger.escalation(scene.hostile) or {}
    finally:
        ledger.close()
    assert not esc.get("answer") and esc["status"] not in ("answered", "closed")
    page.context.close()


def test_hostile_content_shows_as_text(scene: Scene) -> None:
    page, problems = scene.page_for("olivia")
    page.goto(scene.url + "/escalations")
    listing = page.locator(f"#escalations tr[data-code={scene.hostile}]").inner_text()
    assert HOSTILE_BUYER in listing and HOSTILE_SUBJECT in listing
    page.goto(f"{scene.url}/escalations/{scene.hostile}")
    body = page.locator("main").inner_text()
    assert HOSTILE_SUBJECT in body and HOSTILE_LINK in body and HOSTILE_BUYER in body
    # An answer with markup previews as text too (an email answer: no rules check).
    page.locator("#answer-text").fill(f"{HOSTILE_SUBJECT} {HOSTILE_LINK}")
    page.get_by_role("button", name="Preview").click()
    page.wait_for_selector("#preview")
    assert HOSTILE_SUBJECT in page.locator("#preview pre").inner_text()
    for markup in ("img[src=x]", "main script", "a[href^='javascript']"):
        assert page.locator(markup).count() == 0, markup
    assert problems == []  # no script ran (no dialog), no console errors
    page.context.close()


def test_run_now_shows_steps_live_and_one_run_per_account(scene: Scene) -> None:
    page, problems = scene.page_for("victor")
    # Slow pages: the run lasts long enough to watch it and to try a second start.
    scene.sandbox.fault(slow_ms=700)
    page.goto(scene.url + "/run")
    page.get_by_label("Only these flows").check()
    page.locator("input[name=flow_login]").check()
    page.locator("input[name=flow_dashboard]").check()
    page.get_by_role("button", name="Start").click()
    page.wait_for_url(re.compile(r".*/run/[A-Za-z0-9_-]+$"))
    job_id = page.url.rsplit("/", 1)[1]
    shown = page.locator("#steps li").count()
    # The page (runnow.js polling steps.json) shows new steps while the run goes on.
    page.wait_for_function(
        "n => document.querySelectorAll('#steps li').length > n &&"
        " document.getElementById('job').dataset.state === 'running'",
        arg=shown, timeout=RUN_TIMEOUT_MS)

    # A second start for the same account while it runs: refused, pointing at this job.
    other = page.context.new_page()
    other.goto(scene.url + "/run")
    other.get_by_role("button", name="Start").click()
    other.wait_for_selector("#busy")
    assert "already in progress" in other.locator(".error").inner_text()
    assert other.locator("#busy a").get_attribute("href") == f"/run/{job_id}"
    other.close()

    scene.sandbox.fault(slow_ms=0)
    _wait_job_done(page)
    assert page.locator("#job-state").inner_text().startswith("ended: ok")
    run_id = page.locator("#run-link").inner_text()
    data = json.loads((Path(scene.cfg.paths.recordings_dir) / run_id / "run.json").read_text())
    steps = [s for f in data["flows"].values() for s in f["steps"]]
    assert page.locator("#steps li").count() == len(steps)
    assert list(data["flows"]) == ["login", "dashboard"]

    page.locator("#run-link").click()
    page.wait_for_url(f"**/runs/{run_id}")
    obs = data["observations"]
    assert page.locator("h1 .status").inner_text() == data["status"]
    summary = page.locator("#summary")
    assert summary.locator("tr", has_text="Unshipped").locator("td").inner_text() == str(
        obs["unshipped"])
    assert summary.locator("tr", has_text="Buyer Messages").locator("td").inner_text() == str(
        obs["buyer_messages"])
    for name, flow in data["flows"].items():
        section = page.locator(f"#flow-{name}")
        assert section.locator("h3 .status").inner_text() == flow["status"]
        for step in flow["steps"]:
            assert step["name"] in section.inner_text()

    ledger = scene.ledger()
    try:
        starts = [a for a in ledger.audit_log() if a["action"] == "run_start"
                  and job_id in a["detail"]]
        refusals = [a for a in ledger.audit_log() if a["action"] == "run_refused"]
    finally:
        ledger.close()
    assert [(a["user"], a["account"]) for a in starts] == [("victor", "test")]
    assert "login, dashboard" in starts[0]["detail"]
    assert [a["user"] for a in refusals] == ["victor"]

    # A run started elsewhere (the scheduler, the command line) holds the account's lock:
    # the console's start ends refused, saying so.
    with account_lock(Path(scene.cfg.paths.state_dir), "test"):
        page.goto(scene.url + "/run")
        page.get_by_role("button", name="Start").click()
        page.wait_for_url(re.compile(r".*/run/[A-Za-z0-9_-]+$"))
        _wait_job_done(page)
    assert page.locator("#job-state").inner_text() == "ended: refused"
    assert "in progress" in page.locator("#job-error").inner_text()
    assert problems == []
    page.context.close()


def test_run_now_for_all_accounts_runs_each_account_in_a_process_of_its_own(
        scene: Scene) -> None:
    """"All accounts" gives a job per account, run as ``rpa run --all`` runs them (a process
    each, ``concurrency`` at a time): its steps reach the job page from that process, and
    it ends with the run's outcome and link."""
    page, problems = scene.page_for("victor")
    page.goto(scene.url + "/run")
    response = _post(page, scene.url + "/run", {
        "csrf_token": _csrf(page), "account": "*", "mode": "flows", "flow_followups": "1"})
    assert response.status == 303 and response.headers["location"] == "/run"
    ledger = scene.ledger()
    try:
        starts = [a for a in ledger.audit_log(action="run_start")
                  if "all accounts" in a["detail"]]
    finally:
        ledger.close()
    assert [(a["user"], a["account"]) for a in starts] == [("victor", "test")]
    job_id = starts[0]["detail"].rsplit("job ", 1)[1]
    page.goto(f"{scene.url}/run/{job_id}")
    _wait_job_done(page)
    assert page.locator("#job-state").inner_text() == "ended: ok (exit code 0)"
    run_id = page.locator("#run-link").inner_text()
    data = json.loads((Path(scene.cfg.paths.recordings_dir) / run_id / "run.json").read_text())
    assert list(data["flows"]) == ["followups"] and data["status"] == "ok"
    steps = [s["name"] for f in data["flows"].values() for s in f["steps"]]
    assert steps and page.locator("#steps li .name").all_inner_texts() == steps
    holder = (Path(scene.cfg.paths.state_dir) / "locks" / "test.lock").read_text().strip()
    assert int(holder) != os.getpid(), "the run took the account's lock in its own process"
    page.goto(scene.url + "/run")
    assert page.locator("#jobs", has_text=job_id).count() == 1
    assert problems == []
    page.context.close()
