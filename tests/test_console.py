"""The console in a real browser: sign-in (wrong password, rate limit, audit), roles and
CSRF, the recordings folder confined, the Runs, Run and Health pages against runs made by
real ``run(...)`` calls on the sandbox, hostile content inert on every page, and no
browser console errors.

One module-scoped setup makes the runs (a real one on a sandbox scenario whose buyers have
hostile names, and a copy of it with a hostile run.json) before Chromium starts; each test
gets a freshly started console (its own sessions and sign-in limiter).
"""

from __future__ import annotations

import http.client
import json
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.sync_api import Browser, Page

from rpa.browser.chromium import KeptBrowser
from rpa.config import Config, parse_config
from rpa.ledger import Ledger
from rpa.practice.receiver import Receiver
from rpa.practice.sandbox import SandboxServer
from rpa.practice.sandbox.scenario import scenario_path
from rpa.run.orchestrator import run
from tests.conftest import Sandbox
from tests.console_server import (
    ConsoleServer,
    console_server,
    launch_browser,
    sign_in,
    user_entry,
)

__all__ = ["console_server"]

PASSWORD = "correct horse battery staple"
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
JS_LINK = '<a href="javascript:alert(1)">open me</a> javascript:alert(1)'
HOSTILE_RUN = "20261127T999999Z-test-hostile"


class Site:
    def __init__(self, cfg: Config, recordings: Path, real: str, hostile: str) -> None:
        self.cfg = cfg
        self.recordings = recordings
        self.real = real
        self.hostile = hostile

    def run_json(self, run_id: str) -> dict[str, Any]:
        return json.loads((self.recordings / run_id / "run.json").read_text())


@pytest.fixture(scope="module")
def site(sandbox_server: SandboxServer, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Site]:
    """A real run on the sandbox (buyers named like markup), a hostile copy of it, users."""
    tmp = tmp_path_factory.mktemp("console")
    data = yaml.safe_load(scenario_path("healthy").read_text())
    data["threads"][0]["buyer"] = IMG
    data["threads"][1]["buyer"] = SCRIPT
    scenario = tmp / "hostile.yaml"
    scenario.write_text(yaml.safe_dump(data))
    sandbox = Sandbox(sandbox_server)
    sandbox.reset(str(scenario))
    login = sandbox.login()
    receiver = Receiver().start()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TC_SC_PASSWORD", login["password"])
        mp.setenv("TC_SC_TOTP", login["totp_secret"])
        mp.setenv("TC_SMS_URL", receiver.url("sms"))
        mp.setenv("TC_DETAILS_URL", receiver.url("details"))
        cfg = parse_config({
            "accounts": [{"name": "test", "base_url": sandbox.url, "email": login["email"],
                          "password_env": "TC_SC_PASSWORD", "totp_secret_env": "TC_SC_TOTP",
                          "account_name": login["account_name"],
                          "marketplace": login["marketplace"]}],
            "va": {"full_name": "Maria Santos", "initials": "MS"},
            "notify": {"sms": {"url_env": "TC_SMS_URL"},
                       "details": {"url_env": "TC_DETAILS_URL", "label": "Upwork"}},
            "browser": {"timeout_ms": 8000},
            "flows": ["login", "dashboard", "performance", "buyer_messages"],
            "paths": {"state_dir": str(tmp / "state"), "recordings_dir": str(tmp / "rec")},
            "console": {"users": [user_entry("vera", "viewer", PASSWORD),
                                  user_entry("olga", "owner", PASSWORD)]},
        }, "test-console")
        result = run(cfg)
    receiver.stop()
    assert result.status == "ok", result.data["errors"]
    recordings = tmp / "rec"
    real = result.folder.name
    hostile = _hostile_copy(recordings, real)
    # Ways out of the recordings folder that must stay shut.
    (tmp / "state" / "secret.json").write_text('{"secret": "never served"}')
    (recordings / "outside").symlink_to(tmp / "state", target_is_directory=True)
    (recordings / real / "screenshots" / "leak.png").symlink_to("/etc/passwd")
    yield Site(cfg, recordings, real, hostile)


def _hostile_copy(recordings: Path, real: str) -> str:
    """A failed run, a minute after the real one, whose run.json carries markup everywhere
    a buyer, a mail or an error can put text."""
    folder = recordings / HOSTILE_RUN
    shutil.copytree(recordings / real, folder, ignore=shutil.ignore_patterns("*.zip"))
    data = json.loads((folder / "run.json").read_text())
    data["run_id"] = HOSTILE_RUN
    data["status"] = "failed"
    data["started_at"] = data["finished_at"]
    data["observations"]["unshipped"] = 7
    data["emails"] = [
        {"folder": "INBOX", "from": f"{SCRIPT} <evil@example.com>", "subject": JS_LINK,
         "rule": "escalate", "action": "escalate", "done": True, "escalation": "E001",
         "note": IMG},
        {"folder": "Junk", "from": "x@example.com", "subject": "plain", "rule": "delete",
         "action": "delete", "done": True, "escalation": None, "note": ""},
    ]
    data["alerts"].append({"channel": "sms", "text": f"{SCRIPT} {JS_LINK}", "delivered": False})
    data["undelivered"] = [{"title": IMG, "text": SCRIPT}]
    data["warnings"] = [JS_LINK]
    flows = data["flows"]
    shot = flows["dashboard"]["steps"][0]["screenshot"]
    flows["mailbox"] = {"status": "failed", "attempts": 1, "steps": [{
        "name": f"read {IMG}", "outcome": "failed", "error": SCRIPT, "screenshot": shot,
        "extra_screenshots": [shot], "seconds": 0.1,
        "started_at": data["finished_at"], "finished_at": data["finished_at"]}]}
    data["errors"] = [{"flow": "mailbox", "kind": "application", "type": "PageError",
                       "message": SCRIPT, "attempt": 1, "url": "javascript:alert(1)",
                       "reason": IMG}]
    data["run_alert"] = {"cause": "x", "day": "d", "text": JS_LINK, "sent": True,
                         "delivered": True, "already_texted_by": None}
    (folder / "run.json").write_text(json.dumps(data))
    return HOSTILE_RUN


@pytest.fixture(scope="module")
def browser(site: Site, kept_browser: KeptBrowser) -> Iterator[Browser]:
    # Through the runs' driver: a thread has one.
    b = launch_browser(kept_browser.playwright())
    yield b
    b.close()


@pytest.fixture()
def url(site: Site, console_server: ConsoleServer) -> str:
    """A console started afresh: no sessions, no failed sign-ins counted."""
    return console_server.start(site.cfg)


class Watched:
    """A page whose console errors, uncaught exceptions and dialogs are collected."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.problems: list[str] = []
        page.on("console", lambda m: self.problems.append(f"console {m.type}: {m.text}")
                if m.type == "error" else None)
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on("dialog", lambda d: (self.problems.append(f"dialog: {d.message}"),
                                     d.dismiss()))


@pytest.fixture()
def watched(browser: Browser) -> Iterator[Watched]:
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield Watched(page)
    context.close()


def raw_get(url: str, path: str, cookie: str = "") -> tuple[int, dict[str, str], bytes]:
    """A GET sent exactly as written (no client-side ``..`` folding)."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body


def session_cookie(page: Page) -> str:
    return "; ".join(f"{c['name']}={c['value']}" for c in page.context.cookies())


def audit(site: Site) -> list[dict[str, Any]]:
    ledger = Ledger(Path(site.cfg.paths.state_dir) / "ledger.sqlite")
    try:
        return ledger.audit_log()
    finally:
        ledger.close()


# --- sign-in -----------------------------------------------------------------------------

def test_wrong_password_refused_then_rate_limited_and_audited(site: Site, url: str,
                                                              watched: Watched) -> None:
    page = watched.page
    page.goto(url + "/health")
    assert "/login?next=/health" in page.url
    for user in ("olga", "nobody", "olga", "olga", "nobody"):
        page.get_by_label("User name").fill(user)
        page.get_by_label("Password").fill("not the password")
        page.get_by_role("button", name="Sign in").click()
        assert page.locator("#login-error").inner_text() == "wrong user name or password"
    page.get_by_label("User name").fill("olga")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    assert "too many failed sign-ins" in page.locator("#login-error").inner_text()
    assert "/login" in page.url
    rows = audit(site)
    failed = [r for r in rows if r["action"] == "sign_in_failed"]
    assert len(failed) == 6
    assert not any(PASSWORD in json.dumps(r) or "not the password" in json.dumps(r)
                   for r in rows)


def test_sign_in_goes_to_next_only_on_this_site(site: Site, url: str,
                                                watched: Watched) -> None:
    page = watched.page
    page.goto(url + "/health")
    page.get_by_label("User name").fill("OLGA")  # user names are not case-sensitive
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    assert page.url == url + "/health"
    assert page.get_by_role("heading", name="Health").is_visible()
    assert any(r["action"] == "sign_in" and r["user"] == "olga" for r in audit(site))
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login")
    page.goto(url + "/login?next=//evil.example/")
    page.get_by_label("User name").fill("olga")
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    assert page.url == url + "/"
    assert watched.problems == []


def test_viewer_reads_but_cannot_start_or_answer_and_csrf_is_checked(
        site: Site, url: str, watched: Watched) -> None:
    page = watched.page
    sign_in(page, url, "vera", PASSWORD)
    assert page.locator("#runs").is_visible()
    token = page.locator("form.signout input[name=csrf_token]").get_attribute("value")
    assert token
    for path in ("/run", "/escalations/B001/answer"):
        refused = page.request.post(url + path, form={"csrf_token": token, "account": "test",
                                                      "text": "yes", "action": "send"},
                                    max_redirects=0)
        assert refused.status == 403, (path, refused.status)
    # A POST without the form's token is refused, and the session stays.
    no_token = page.request.post(url + "/logout", form={}, max_redirects=0)
    assert no_token.status == 403
    wrong = page.request.post(url + "/logout", form={"csrf_token": "x" * 43},
                              max_redirects=0)
    assert wrong.status == 403
    page.goto(url + "/")
    assert page.locator("#runs").is_visible()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login")
    page.goto(url + "/")
    assert "/login" in page.url


# --- the recordings folder ------------------------------------------------------------------

def test_recordings_served_only_signed_in_and_only_inside(site: Site, url: str,
                                                           watched: Watched) -> None:
    inside = f"/recordings/{site.real}/run.json"
    status, headers, _ = raw_get(url, inside)
    assert status == 303 and headers["location"].startswith("/login")
    for path in ("/", f"/runs/{site.real}", "/health"):
        status, headers, body = raw_get(url, path)
        assert status == 303 and b"test" not in body
    page = watched.page
    sign_in(page, url, "vera", PASSWORD)
    cookie = session_cookie(page)
    status, headers, body = raw_get(url, inside, cookie)
    assert status == 200 and json.loads(body)["run_id"] == site.real
    assert headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    for path in ("/recordings/../state/ledger.sqlite", "/recordings/%2e%2e/state/ledger.sqlite",
                 "/recordings/%2E%2E/%2e%2e/etc/passwd", "/recordings//etc/passwd",
                 "/recordings/outside/secret.json", "/recordings/%2fetc%2fpasswd",
                 f"/recordings/{site.real}/screenshots/leak.png",
                 f"/recordings/{site.real}/../../state/secret.json",
                 f"/recordings/{site.real}/%2e%2e/%2e%2e/state/secret.json",
                 "/recordings/latest/../../state/secret.json", "/runs/..", "/runs/latest"):
        status, headers, body = raw_get(url, path, cookie)
        assert status == 404, (path, status)
        assert b"never served" not in body and b"root:" not in body
        assert headers["x-frame-options"] == "DENY"
    # The same through the browser's own request client.
    assert page.request.get(url + "/recordings/../state/ledger.sqlite").status == 404


# --- the pages ------------------------------------------------------------------------------

def _expected_row(data: dict[str, Any]) -> dict[str, Any]:
    decisions = Counter(t["decision"].split(":", 1)[0] for t in data["threads"])
    return {"status": data["status"].replace("_", " "), "account": data["account"],
            "unshipped": str(data["observations"]["unshipped"]),
            "performance": data["observations"]["performance"]["label"],
            "inbox": str(data["observations"]["buyer_messages"]),
            "decisions": {k: str(v) for k, v in decisions.items()},
            "emails": {k: str(v) for k, v in Counter(e["action"]
                                                     for e in data["emails"]).items()},
            "opened": ", ".join(data["escalations"].get("opened", []))}


def test_runs_list_equals_run_json_filters_and_trend(site: Site, url: str,
                                                     watched: Watched) -> None:
    page = watched.page
    sign_in(page, url, "vera", PASSWORD)
    ids = page.locator("#runs tbody tr").evaluate_all("rows => rows.map(r => r.dataset.run)")
    assert ids == [site.hostile, site.real], "newest first"
    real = _expected_row(site.run_json(site.real))
    assert real["opened"], "the real run opened an escalation (the buyer question)"
    for run_id in ids:
        want = _expected_row(site.run_json(run_id))
        row = page.locator(f"#runs tr[data-run='{run_id}']")
        got = {
            "status": row.locator(".c-status").inner_text(),
            "account": row.locator(".c-account").inner_text(),
            "unshipped": row.locator(".c-unshipped").inner_text(),
            "performance": row.locator(".c-performance").inner_text(),
            "inbox": row.locator(".c-inbox").inner_text(),
            "decisions": dict(row.locator("[data-decision]").evaluate_all(
                "els => els.map(e => [e.dataset.decision, e.querySelector('b').textContent])")),
            "emails": dict(row.locator("[data-action]").evaluate_all(
                "els => els.map(e => [e.dataset.action, e.querySelector('b').textContent])")),
            "opened": row.locator(".c-opened").inner_text(),
        }
        assert got == want, run_id
    # Filters.
    page.locator("#f-status").select_option("failed")
    with page.expect_navigation():
        page.get_by_role("button", name="Show").click()
    assert "status=failed" in page.url
    assert page.locator("#runs tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.run)") == [site.hostile]
    page.goto(url + "/?account=nobody")
    assert page.locator("#no-runs").is_visible()
    # The trend: both runs were on one day; its point is the day's last run.
    page.goto(url + "/")
    assert page.locator("svg#trend circle").count() == 2
    titles = page.locator("svg#trend circle title").all_text_contents()
    day = site.run_json(site.hostile)["started_at"][:10]
    assert f"{day}: Unshipped 7" in titles
    assert watched.problems == []


def test_run_page_screenshots_load_and_files_download(site: Site, url: str,
                                                      watched: Watched) -> None:
    page = watched.page
    sign_in(page, url, "vera", PASSWORD)
    page.goto(url + f"/runs/{site.real}")
    data = site.run_json(site.real)
    shots = [s["screenshot"] for f in data["flows"].values() for s in f["steps"]
             if s["screenshot"]]
    images = page.locator("img")
    assert images.count() >= len(shots) > 0
    srcs = images.evaluate_all("imgs => imgs.map(i => i.getAttribute('src'))")
    assert all(s.startswith(f"/recordings/{site.real}/") for s in srcs)
    assert images.evaluate_all("imgs => imgs.every(i => i.loading === 'lazy')")
    for i in range(images.count()):
        img = images.nth(i)
        img.scroll_into_view_if_needed()
        img.evaluate("i => i.complete && i.naturalWidth > 0 ? 0 : "
                     "new Promise((ok, bad) => { i.onload = ok; i.onerror = bad; })")
        assert img.evaluate("i => i.naturalWidth") > 0, srcs[i]
    # Each thumbnail opens its screenshot full size.
    assert page.locator("ol.timeline a > img").count() == len(shots)
    for thread in data["threads"]:
        assert page.locator("#threads td.buyer", has_text=thread["buyer"]).count() == 1
    links = {a.inner_text(): a.get_attribute("href") for a in page.locator("a.download").all()}
    assert "run.json" in links and any(n.startswith("trace") for n in links)
    for name, href in links.items():
        got = page.request.get(url + str(href))
        assert got.status == 200, name
        if name.endswith(".zip"):
            assert got.body()[:2] == b"PK"
            assert "attachment" in got.headers.get("content-disposition", "")
    assert page.locator("#escalation-events").inner_text().count(data["escalations"]["opened"][0])
    assert watched.problems == []


def test_hostile_content_is_text_on_every_page(site: Site, url: str, watched: Watched) -> None:
    page = watched.page
    page.goto(url + "/login")
    sign_in(page, url, "olga", PASSWORD)
    for path in ("/", f"/runs/{site.hostile}", f"/runs/{site.real}", "/health",
                 "/?status=failed"):
        page.goto(url + path)
        page.wait_for_load_state("load")
        # Nothing of it became markup: no script, no img with src "x", no javascript: link.
        assert page.locator("script").count() == 0, path
        assert page.locator("img[src='x'], [onerror]").count() == 0, path
        assert page.locator("a[href^='javascript']").count() == 0, path
        text = page.locator("main").inner_text()
        if path in (f"/runs/{site.hostile}", "/health"):
            assert SCRIPT in text, path
            assert IMG in text, path
        if path == f"/runs/{site.hostile}":
            assert 'javascript:alert(1)">open me</a>' in text
            assert page.locator("#failures img").count() == 2
    page.goto(url + f"/runs/{site.real}")
    assert page.locator("#threads td.buyer", has_text=SCRIPT).count() == 1
    assert page.locator("#threads td.buyer", has_text=IMG).count() == 1
    health = page.goto(url + "/health")
    assert health is not None and health.status == 200
    account = page.locator("section.account[data-account='test']")
    assert site.hostile in str(account.locator(".h-last a").get_attribute("href"))
    assert site.real in str(account.locator(".h-last-ok a").get_attribute("href"))
    assert "one-time code" in account.locator(".h-signin").inner_text()
    assert "saved" in account.locator(".h-saved").inner_text()
    assert account.locator("tr[data-flow='mailbox']").inner_text().endswith("failed")
    assert watched.problems == []


def test_demo_console_config_lets_a_viewer_in_with_its_one_time_password(tmp_path: Path) -> None:
    from rpa.console.web import Console
    from rpa.practice.demo import demo_console_config

    cfg, user, password = demo_console_config(tmp_path / "demo")
    assert cfg.paths.recordings_dir == (tmp_path / "demo" / "recordings").resolve()
    assert cfg.paths.state_dir == (tmp_path / "demo" / "state").resolve(), "the demo's own"
    assert password not in cfg.model_dump_json(), "only the hash is kept"
    again = demo_console_config(tmp_path / "demo")[2]
    assert again != password, "a fresh password each time"
    console = Console(cfg)
    session, why = console.sign_in(user, password, "127.0.0.1")
    assert session is not None and session.role == "viewer", why
    assert console.sign_in(user, again, "127.0.0.1")[0] is None


def test_a_run_without_the_dashboard_shows_no_figures_rather_than_not_read() -> None:
    from rpa.console.runs import row_of

    answers_only = row_of("r1", {"status": "ok", "flows": {"answers": {"status": "ok"}},
                                 "observations": {"unshipped": None}})
    routine = row_of("r2", {"status": "ok", "flows": {"dashboard": {"status": "ok"}},
                            "observations": {"unshipped": None}})
    assert not answers_only.read_home and routine.read_home
