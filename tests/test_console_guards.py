"""The console refuses what another site asks of it, over real HTTP to a started console:
a sign-in posted by another site's page (in Chromium, the page served from a second
loopback address), a state-changing request whose Origin or Referer is not the console's,
and a request naming a host the console does not answer to (DNS rebinding); the ordinary
sign-in, answer, run-now and sign-out go through as before. A token or a user name in any
characters is refused, never an error.

The runs the console would start are counted by a stand-in for the orchestrator's ``run``
(the console serves from a thread of this process): what is checked is whether a run was
asked for, not the run itself (``test_console_actions`` runs real ones).
"""

from __future__ import annotations

import html
import http.client
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Browser

from rpa.browser.chromium import KeptBrowser
from rpa.config import Config, parse_config
from rpa.console import guard, runnow
from rpa.console.web import LOGIN_FAILURES
from rpa.errors import ConfigError
from rpa.ledger import Ledger
from tests.console_server import (
    ConsoleServer,
    console_server,
    launch_browser,
    sign_in,
    user_entry,
)

__all__ = ["console_server"]

PASSWORD = "guarded-pass-123"
USERS = {"vera": "viewer", "victor": "va", "olga": "owner"}
EVIL = "http://evil.example"
# The attacker's page is served from another loopback address: another site to the browser.
ATTACKER_HOST = "127.0.0.2"


def config_data(tmp: Path, **console: Any) -> dict[str, Any]:
    return {
        "accounts": [{"name": "test", "base_url": "http://127.0.0.1:9",
                      "email": "seller@example.com", "password_env": "TG_SC_PASSWORD",
                      "totp_secret_env": "TG_SC_TOTP", "account_name": "Test",
                      "marketplace": "United States"}],
        "va": {"full_name": "Maria Santos", "initials": "MS"},
        "paths": {"state_dir": str(tmp / "state"), "recordings_dir": str(tmp / "rec")},
        "console": {"users": [user_entry(n, r, PASSWORD) for n, r in USERS.items()],
                    **console},
    }


class Scene:
    def __init__(self, cfg: Config, runs: list[dict[str, Any]]) -> None:
        self.cfg = cfg
        self.runs = runs  # the runs the console asked for
        self.started = 0  # the last audit row before the console was started

    def ledger(self) -> Ledger:
        return Ledger(Path(self.cfg.paths.state_dir) / "ledger.sqlite")

    def audit(self, action: str | None = None) -> list[dict[str, Any]]:
        """The audit rows since the console was last started (newest first)."""
        ledger = self.ledger()
        try:
            return [r for r in ledger.audit_log(action=action) if r["id"] > self.started]
        finally:
            ledger.close()

    def finding(self, key: str) -> str:
        """A new escalation the owner may answer (a finding: answering closes it, with no
        delivery run)."""
        ledger = self.ledger()
        try:
            return ledger.escalate("test", "finding", key, summary="{code}: Seller "
                                   "Performance is At Risk", details="{code}: see the run")[0]
        finally:
            ledger.close()

    def escalation(self, code: str) -> dict[str, Any]:
        ledger = self.ledger()
        try:
            return ledger.escalation(code) or {}
        finally:
            ledger.close()


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    tmp = tmp_path_factory.mktemp("console_guards")
    cfg = parse_config(config_data(tmp), "test-console-guards")
    asked: list[dict[str, Any]] = []

    def counted_run(cfg: Config, **kwargs: Any) -> Any:
        asked.append(kwargs)
        return SimpleNamespace(status="ok", exit_code=0, data={"run_id": "counted"},
                               folder=tmp / "rec" / "counted")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(runnow, "run", counted_run)
        yield Scene(cfg, asked)


@pytest.fixture()
def url(scene: Scene, console_server: ConsoleServer) -> str:
    """A console started afresh: no sessions, no failed sign-ins counted, no audit rows."""
    scene.started = max((r["id"] for r in scene.audit()), default=scene.started)
    return console_server.start(scene.cfg)


# --- a client that sends exactly the headers it is given -----------------------------------

@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    set_cookies: list[str]
    text: str


class Client:
    """HTTP/1.1 to the console, keeping its cookies like a browser (without the browser's
    own Origin, Referer or Host: each request says what it sends)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.host, port = url.removeprefix("http://").rsplit(":", 1)
        self.port = int(port)
        self.cookies: dict[str, str] = {}

    def send(self, method: str, path: str, *, form: dict[str, str] | None = None,
             headers: dict[str, str] | None = None) -> Answer:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        sent = dict(headers or {})
        body = None
        if form is not None:
            body = urlencode(form)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        conn.putrequest(method, path, skip_host="Host" in sent)
        for name, value in {**sent, "Content-Length": str(len(body or ""))}.items():
            conn.putheader(name, value)
        conn.endheaders(body.encode() if body else None)
        resp = conn.getresponse()
        text = resp.read().decode("utf-8", "replace")
        set_cookies = resp.msg.get_all("Set-Cookie") or []
        conn.close()
        for line in set_cookies:
            for name, morsel in SimpleCookie(line).items():
                if morsel["max-age"] == "0" or (morsel["expires"] and not morsel.value):
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return Answer(resp.status, {k.lower(): v for k, v in resp.getheaders()}, set_cookies,
                      text)

    def own(self) -> dict[str, str]:
        """The Origin a page of the console sends."""
        return {"Origin": self.url}

    def token(self, path: str = "/login") -> str:
        page = self.send("GET", path)
        assert page.status == 200, (path, page.status)
        found = re.search(r'name="csrf_token" value="([^"]*)"', page.text)
        assert found and found[1], path
        return html.unescape(found[1])

    def sign_in(self, user: str, password: str = PASSWORD) -> Answer:
        token = self.token()
        return self.send("POST", "/login", form={"user": user, "password": password,
                                                 "next": "/", "csrf_token": token},
                         headers=self.own())

    def signed_in_as(self) -> str:
        page = self.send("GET", "/")
        found = re.search(r'<span class="who">([^ <]+)', page.text)
        return found[1] if page.status == 200 and found else ""


def owner(url: str) -> Client:
    client = Client(url)
    assert client.sign_in("olga").status == 303
    assert client.signed_in_as() == "olga"
    return client


# --- sign-in from another site ---------------------------------------------------------------

class AttackerSite:
    """Another site: a page that posts the attacker's own credentials to the console's
    sign-in form as soon as it loads, with a sign-in token the attacker fetched for
    itself."""

    def __init__(self, console_url: str, user: str, password: str, token: str) -> None:
        fields = {"user": user, "password": password, "next": "/", "csrf_token": token}
        inputs = "".join(f'<input type="hidden" name="{k}" value="{html.escape(v)}">'
                         for k, v in fields.items())
        page = (f'<!doctype html><title>Win a prize</title><form id="f" method="post" '
                f'action="{console_url}/login">{inputs}</form>'
                '<script>document.getElementById("f").submit()</script>').encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the standard library's name
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer((ATTACKER_HOST, 0), Handler)
        self.url = f"http://{ATTACKER_HOST}:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def browser(scene: Scene, kept_browser: KeptBrowser) -> Iterator[Browser]:
    b = launch_browser(kept_browser.playwright())
    yield b
    b.close()


def test_a_sign_in_posted_by_another_site_leaves_the_browser_signed_out(
        scene: Scene, url: str, browser: Browser) -> None:
    attacker = AttackerSite(url, "vera", PASSWORD, Client(url).token())
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        with page.expect_response(lambda r: r.url == url + "/login"
                                  and r.request.method == "POST") as posted:
            page.goto(attacker.url)
        # The attack was made: the browser posted the viewer's credentials...
        assert "user=vera" in (posted.value.request.post_data or "")
        assert posted.value.request.header_value("origin") == attacker.url.rstrip("/")
        # ...and the console refused it.
        assert posted.value.status == 403
        victim = context.new_page()
        victim.goto(url + "/")
        assert "/login" in victim.url
        assert victim.locator(".who").count() == 0
        assert not any(c["name"] == "rpa_console" for c in context.cookies())
        assert not [r for r in scene.audit("sign_in") if r["user"] == "vera"]
        refused = scene.audit("origin_refused")[0]
        assert "POST /login" in refused["detail"] and ATTACKER_HOST in refused["detail"]
        # The same browser signs in through the console's own page as ever.
        sign_in(victim, url, "olga", PASSWORD)
        assert victim.locator(".who").inner_text().startswith("olga")
    finally:
        context.close()
        attacker.stop()


def test_a_sign_in_needs_the_forms_own_token_and_a_refused_one_counts_for_no_lockout(
        scene: Scene, url: str) -> None:
    form = {"user": "olga", "password": PASSWORD, "next": "/"}
    bare = Client(url)
    elsewhere = Client(url).token()  # a real token, fetched by another client
    mine = Client(url)
    mine.token()
    forged = Client(url)
    forged.cookies["rpa_console_signin"] = "abc.0123456789abcdef"
    attempts = [(bare, {}), (bare, {"csrf_token": elsewhere}), (mine, {"csrf_token": elsewhere}),
                (mine, {"csrf_token": ""}), (forged, {"csrf_token": "abc"}),
                (mine, {"csrf_token": "é" * 43})]
    assert len(attempts) > LOGIN_FAILURES
    for client, token in attempts:
        answer = client.send("POST", "/login", form={**form, **token}, headers=client.own())
        assert answer.status == 403, (token, answer.status)
        assert "sign in again" in answer.text
        assert not any(c.startswith("rpa_console=") for c in answer.set_cookies)
        assert client.signed_in_as() == ""
    refused = scene.audit("sign_in_refused")
    assert len(refused) == len(attempts) and {r["user"] for r in refused} == {"olga"}
    assert scene.audit("sign_in_failed") == [] and scene.audit("sign_in") == []
    # Not counted toward the limit: the right password with the form's own token still
    # signs in, and a refused form's page carries a token that works.
    answer = mine.send("POST", "/login", form={**form, "csrf_token": mine.token()},
                       headers=mine.own())
    assert answer.status == 303 and mine.signed_in_as() == "olga"
    assert "rpa_console_signin" not in mine.cookies, "a sign-in uses its token up"
    page = bare.send("POST", "/login", form=form, headers=bare.own())
    token = re.search(r'name="csrf_token" value="([^"]*)"', page.text)
    assert token and bare.send("POST", "/login", form={**form, "csrf_token": token[1]},
                               headers=bare.own()).status == 303


def test_a_token_or_user_name_in_any_characters_is_refused_not_an_error(
        scene: Scene, url: str) -> None:
    client = Client(url)
    answer = client.send("POST", "/login", headers=client.own(), form={
        "user": "ölga", "password": PASSWORD, "next": "/", "csrf_token": client.token()})
    assert answer.status == 401 and "wrong user name or password" in answer.text
    client = owner(url)
    answer = client.send("POST", "/logout", form={"csrf_token": "é" * 43},
                         headers=client.own())
    assert answer.status == 403 and "security token" in answer.text
    assert client.signed_in_as() == "olga"


# --- state-changing requests from another site -------------------------------------------------

def foreign(url: str) -> list[dict[str, str]]:
    """Headers of requests that do not come from a page of the console at ``url``."""
    port = int(url.rsplit(":", 1)[1])
    return [{"Origin": EVIL}, {"Origin": "null"}, {"Referer": EVIL + "/prize"},
            {"Origin": EVIL, "Referer": url + "/run"}, {},
            {"Origin": f"http://127.0.0.1:{port + 1}"}, {"Origin": f"https://127.0.0.1:{port}"},
            {"Origin": f"http://127.0.0.1.evil.example:{port}"},
            {"Referer": f"http://localhost@evil.example:{port}/"}]


def test_a_request_from_another_site_records_no_answer_starts_no_run_and_signs_no_one_out(
        scene: Scene, url: str, console_server: ConsoleServer) -> None:
    assert console_server.console is not None
    jobs = runnow.jobs_of(console_server.console)
    code = scene.finding("at-risk-1")
    client = owner(url)
    token = client.token("/")
    before = scene.escalation(code)
    cases = foreign(url)
    for headers in cases:
        for path, form in ((f"/escalations/{code}/answer", {"text": "Seen, thanks.",
                                                             "action": "send"}),
                           ("/run", {"account": "test", "mode": "routine"}),
                           ("/logout", {})):
            answer = client.send("POST", path, form={**form, "csrf_token": token},
                                 headers=headers)
            assert answer.status == 403, (headers, path, answer.status)
            assert "not sent from a page of the console" in answer.text
            assert answer.headers["x-frame-options"] == "DENY"
    after = scene.escalation(code)
    assert not after.get("answer") and after["status"] == before["status"]
    assert scene.runs == [] and jobs.all() == []
    assert client.signed_in_as() == "olga", "still signed in"
    refused = scene.audit("origin_refused")
    assert len(refused) == 3 * len(cases) and {r["user"] for r in refused} == {"olga"}
    assert any("evil.example" in r["detail"] for r in refused)
    assert any("neither Origin nor Referer" in r["detail"] for r in refused)
    assert not [r for r in scene.audit() if r["action"] in ("answer", "run_start", "sign_out")]

    # From the console's own pages: the Origin, or without it the Referer, is its own.
    answer = client.send("POST", f"/escalations/{code}/answer",
                         form={"text": "Seen, thanks.", "action": "send", "csrf_token": token},
                         headers={"Referer": f"{url}/escalations/{code}"})
    assert answer.status == 303
    assert scene.escalation(code)["answer"] == "Seen, thanks."
    started = client.send("POST", "/run", form={"account": "test", "mode": "routine",
                                                "csrf_token": token}, headers=client.own())
    assert started.status == 303 and started.headers["location"].startswith("/run/")
    assert [r["account"] for r in scene.runs] == ["test"]
    assert jobs.all()[0].done.wait(10)
    assert client.send("POST", "/logout", form={"csrf_token": token},
                       headers={"Origin": url.replace("127.0.0.1", "localhost")}).status == 303
    assert client.signed_in_as() == ""
    assert [r["user"] for r in scene.audit("sign_out")] == ["olga"]


# --- hosts ---------------------------------------------------------------------------------

def test_a_foreign_host_gets_400_and_cannot_try_passwords(scene: Scene, url: str) -> None:
    port = url.rsplit(":", 1)[1]
    client = Client(url)
    for host in (f"evil.example:{port}", "evil.example", f"localhost.evil.example:{port}",
                 f"127.0.0.1.nip.io:{port}", f"[::1]:{port}", f"0.0.0.0:{port}"):
        for path in ("/login", "/", "/static/console.css", "/health"):
            answer = client.send("GET", path, headers={"Host": host})
            assert answer.status == 400, (host, path, answer.status)
            assert "csrf_token" not in answer.text and "password" not in answer.text
    # A page of the rebinding site tries passwords with a token it had the console give:
    # none reaches the password check, so no one is locked out.
    token = client.token()
    evil_host = {"Host": f"evil.example:{port}", "Origin": f"http://evil.example:{port}"}
    for attempt in range(LOGIN_FAILURES + 2):
        answer = client.send("POST", "/login", headers=evil_host,
                             form={"user": "olga", "password": f"guess {attempt}",
                                   "csrf_token": token})
        assert answer.status == 400
    assert scene.audit("sign_in_failed") == []
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"LOCALHOST:{port}", "localhost"):
        assert client.send("GET", "/login", headers={"Host": host}).status == 200, host
    assert owner(url).signed_in_as() == "olga"


def test_behind_a_proxy_its_public_name_is_the_one_setting(scene: Scene,
                                                         tmp_path: Path) -> None:
    cfg = parse_config(config_data(tmp_path, allowed_hosts=["Console.Example.com"],
                                   https=True), "test-console-proxy")
    server = ConsoleServer()
    url = server.start(cfg)
    try:
        # What a proxy on this machine passes on: the public name, and that it was HTTPS.
        proxied = {"Host": "console.example.com", "X-Forwarded-Proto": "https",
                   "X-Forwarded-For": "127.0.0.9"}
        client = Client(url)
        assert client.send("GET", "/login", headers={**proxied,
                                                     "Host": "other.example.com"}).status == 400
        token = client.token()  # this machine's own names are answered to as well
        form = {"user": "olga", "password": PASSWORD, "next": "/", "csrf_token": token}
        for origin in ("http://console.example.com", "https://console.example.com:8443",
                       "https://other.example.com", EVIL):
            answer = client.send("POST", "/login", form=form,
                                 headers={**proxied, "Origin": origin})
            assert answer.status == 403, (origin, answer.status)
        answer = client.send("POST", "/login", form=form,
                             headers={**proxied, "Origin": "https://console.example.com"})
        assert answer.status == 303
        assert any("Secure" in c for c in answer.set_cookies if c.startswith("rpa_console="))
        page = client.send("GET", "/", headers=proxied)
        assert page.status == 200 and '<span class="who">olga' in page.text
        rows = Ledger(tmp_path / "state" / "ledger.sqlite")
        try:
            refused = rows.audit_log(action="origin_refused")
            signed = rows.audit_log(action="sign_in")
        finally:
            rows.close()
        assert len(refused) == 4 and "from 127.0.0.9" in refused[0]["detail"]
        assert [r["detail"] for r in signed] == ["from 127.0.0.9"]
    finally:
        server.stop()


# --- the settings and the origins they make --------------------------------------------------

@pytest.mark.parametrize("entry", ["http://console.example.com", "*", "*.example.com",
                                   "console.example.com/", "console example", "host:0",
                                   "host:70000", "[::1", ""])
def test_allowed_hosts_takes_names_only(tmp_path: Path, entry: str) -> None:
    with pytest.raises(ConfigError, match="allowed_hosts"):
        parse_config(config_data(tmp_path, allowed_hosts=[entry]), "test")


def test_own_origins_follow_from_the_names_the_port_and_the_scheme(tmp_path: Path) -> None:
    cfg = parse_config(config_data(tmp_path, allowed_hosts=[
        "Console.Example.com.", "tunnel.example.com:8443", "::1", "10.0.0.5"]), "test")
    assert cfg.console.allowed_hosts == ["console.example.com", "tunnel.example.com:8443",
                                         "[::1]", "10.0.0.5"]
    names = guard.names(cfg.console, "0.0.0.0")
    assert guard.host_headers(names) == ["0.0.0.0", "localhost", "127.0.0.1",
                                         "console.example.com", "tunnel.example.com",
                                         "[::1]", "10.0.0.5"]

    def own(origin: str, schemes: tuple[str, ...] = ("http",)) -> bool:
        return guard.own_origin(origin, names, set(schemes), 8765)

    assert own("http://localhost:8765") and own("http://127.0.0.1:8765/run?x=1")
    assert not own("http://localhost") and not own("http://localhost:8766")
    assert own("https://console.example.com", ("https",))
    assert own("https://console.example.com:443", ("https",))
    assert own("https://console.example.com:8765", ("https",))
    assert not own("https://console.example.com", ("http",))
    assert not own("https://console.example.com:8443", ("https",))
    assert own("https://tunnel.example.com:8443", ("https",))
    assert not own("https://tunnel.example.com", ("https",))
    assert own("http://[::1]") and own("http://[0:0::1]:80") and own("http://10.0.0.5:8765")
    for other in ("null", "", "http://evil.example:8765", "http://console.example.com.evil:80",
                  "http://user@localhost:8765", "javascript:alert(1)", "http://[::1",
                  "http://localhost:99999"):
        assert not own(other, ("http", "https")), other
