"""No session material or secret in any artifact; owner-only recordings; whole log records
scrubbed; a corrupt browser-state file recovered from; long pages give bounded screenshots.

Real servers throughout: the sandbox with Chromium, Dovecot for the IMAP login.
"""

from __future__ import annotations

import contextlib
import json
import stat
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from loguru import logger
from playwright.sync_api import Browser, Page
from playwright.sync_api import Error as PlaywrightError

from rpa import logs, redact
from rpa.browser.chromium import KeptBrowser, launch, state_problem
from rpa.config import BrowserConfig
from rpa.practice import dovecot
from rpa.practice.sandbox.scenario import SCENARIO_DIR
from rpa.run.orchestrator import run
from tests.conftest import Sandbox, all_text_files

ROOT = Path(__file__).resolve().parents[1]


def forms(secret: str) -> list[bytes]:
    """The ways a secret can be written: raw, and as Python and JSON escape it."""
    out = {secret, ascii(secret)[1:-1], repr(secret.encode())[2:-1],
           json.dumps(secret)[1:-1]}
    return sorted({f.encode() for f in out})


def assert_absent(values: list[str], folder: Path, *texts: str) -> int:
    """No value (in any of its forms) in any file under ``folder`` or in ``texts``."""
    needles = [(v, f) for v in values for f in forms(v)]
    checked = 0
    for path, content in all_text_files(folder):
        checked += 1
        for value, form in needles:
            assert form not in content, f"{value!r} found in {path}"
    for text in texts:
        for value, form in needles:
            assert form.decode() not in text, f"{value!r} found on the console"
    return checked


def scenario_file(tmp_path: Path, **changes: Any) -> str:
    data = yaml.safe_load((SCENARIO_DIR / "healthy.yaml").read_text(encoding="utf-8"))
    for key, value in changes.items():
        data[key] = value
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return str(path)


# --- findings 1 and 7: no session in any artifact; a corrupt state is replaced ---------
def test_a_corrupt_state_is_replaced_and_no_session_or_secret_is_in_any_artifact(
        sandbox: Sandbox, make_config: Any, capfd: pytest.CaptureFixture[str]) -> None:
    """One routine run starting from a garbage state file: it is moved aside (kept), the bot
    signs in afresh and says so; no cookie value or secret is in any artifact (traces
    unzipped) nor on the console; recordings are owner-only. A second run uses the new
    state."""
    # With DOM snapshots the trace also records the network, Cookie headers included.
    cfg = make_config(browser={"timeout_ms": 8000, "trace": True, "trace_snapshots": True})
    browser_dir = Path(cfg.paths.state_dir) / "browser"
    browser_dir.mkdir(parents=True)
    state_file = browser_dir / "test.json"
    garbage = '{"cookies": [{"name": "session-id", "val'
    state_file.write_text(garbage)

    result = run(cfg)
    assert result.status == "ok", result.data["errors"]
    kept = list(browser_dir.glob("test.json.corrupt-*"))
    assert len(kept) == 1 and kept[0].read_text() == garbage
    assert stat.S_IMODE(kept[0].stat().st_mode) == 0o600
    warnings = result.data["warnings"]
    assert any("browser state" in w and "signed in afresh" in w for w in warnings), warnings
    report = (result.folder / "report.html").read_text(encoding="utf-8")
    assert 'id="warnings"' in report and "signed in afresh" in report

    cookies = {c["name"]: c["value"] for c in json.loads(state_file.read_text())["cookies"]}
    assert {"session-id", "sc-remember-device"} <= set(cookies)
    login = sandbox.login()
    values = [v for v in cookies.values() if len(v) >= 8]
    values += [login["password"], login["totp_secret"]]
    assert list(result.folder.glob("trace-*.zip")), "the run leaves a trace"
    out, err = capfd.readouterr()
    assert assert_absent(values, result.folder, out, err) > 10

    recordings = Path(cfg.paths.recordings_dir)
    for path in [recordings, result.folder, *result.folder.rglob("*")]:
        if path.is_symlink():
            continue
        mode = stat.S_IMODE(path.stat().st_mode)
        want = 0o700 if path.is_dir() else 0o600
        assert mode == want, f"{path} is {oct(mode)}, not {oct(want)}"

    otp_pages = sandbox.state()["counters"]["otp_pages_shown"]
    second = run(cfg, flows=["login"])
    assert second.status == "ok", second.data["errors"]
    assert not second.data["warnings"]
    assert sandbox.state()["counters"]["otp_pages_shown"] == otp_pages, "the new state is used"


def test_trace_scrub_masks_cookie_headers_and_saved_state(tmp_path: Path) -> None:
    """Even a chunk that recorded a state save or cookie headers keeps no cookie value."""
    import zipfile

    session = "133-7654321-SESSIONVALUE"
    device = "rd.REMEMBERDEVICEVALUE.42"
    events = [
        {"type": "after", "callId": "c1", "result": {"cookies": [
            {"name": "session-id", "value": session, "domain": "127.0.0.1"}],
            "origins": [{"origin": "x", "localStorage": [{"name": "t", "value": device}]}]}},
        {"type": "resource-snapshot", "snapshot": {
            "request": {"headers": [{"name": "Cookie", "value":
                                     f"session-id={session}; sc-remember-device={device}"}],
                        "cookies": [{"name": "session-id", "value": session}]},
            "response": {"headers": [{"name": "set-cookie",
                                      "value": f"sc-remember-device={device}; Path=/; HttpOnly"}],
                         "cookies": []}}},
    ]
    path = tmp_path / "trace-1.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("trace.trace", "\n".join(json.dumps(e) for e in events[:1]))
        zf.writestr("trace.network", "\n".join(json.dumps(e) for e in events[1:]))
        zf.writestr("resources/page.html", f"<p>echo {session}</p>")
    assert redact.scrub_zip(path) > 0
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            data = zf.read(name)
            assert session.encode() not in data and device.encode() not in data, name
        network = json.loads(zf.read("trace.network"))
    headers = network["snapshot"]["request"]["headers"]
    assert headers[0]["name"] == "Cookie" and headers[0]["value"] == redact.MASK


# --- finding 2: tracebacks and exception text are scrubbed like messages -----------------
def test_a_failing_password_fill_leaves_the_password_nowhere(
        sandbox: Sandbox, make_config: Any, tmp_path: Path,
        capfd: pytest.CaptureFixture[str]) -> None:
    """Playwright's call log repeats the value of a failing fill; no sink may keep it."""
    password = "Pässwörd€-Fill-2291"
    seller = yaml.safe_load((SCENARIO_DIR / "healthy.yaml").read_text())["seller"]
    sandbox.reset(scenario_file(tmp_path, seller={**seller, "password": password}))
    selectors = yaml.safe_load((ROOT / "selectors.yaml").read_text(encoding="utf-8"))
    selectors["signin"]["password"] = [{"css": "#signInSubmit"}]  # a button: fill fails
    sel_file = tmp_path / "selectors.yaml"
    sel_file.write_text(yaml.safe_dump(selectors, allow_unicode=True), encoding="utf-8")
    cfg = make_config(flows=["login"], browser__trace=True,  # the trace is scanned too
                      paths={"state_dir": str(tmp_path / "state"),
                             "recordings_dir": str(tmp_path / "rec"),
                             "selectors_file": str(sel_file)})
    logs.setup(True)  # the console at its most talkative
    result = run(cfg)
    assert result.status != "ok"
    log = (result.folder / "run.log").read_text(encoding="utf-8")
    assert "Call log" in log or "Traceback" in log, "the failure is logged in full"
    assert sandbox.state()["counters"]["password_posts"] == 0
    # A failing fill logged with its traceback (the call log repeats the value, and the
    # password is a local variable of the failing frame) goes through the same scrubber.
    session = launch(BrowserConfig(), tmp_path / "none.json")
    try:
        session.page.set_content('<button id="pw">not a field</button>')
        sink = logs.add_run_log(result.folder / "run.log")
        try:
            _type_password(session.page, password)
        except PlaywrightError:
            logger.exception("typing the password failed")
        logger.remove(sink)
    finally:
        session.close()
    log = (result.folder / "run.log").read_text(encoding="utf-8")
    assert "Call log" in log and "Traceback" in log
    out, err = capfd.readouterr()
    assert "Traceback" in err
    assert_absent([password], result.folder, out, err)


def _type_password(page: Page, password: str) -> None:
    page.locator("#pw").fill(password, timeout=2000)


ok_dovecot, why_dovecot = dovecot.available()


@pytest.fixture()
def mail() -> Iterator[dovecot.DovecotServer]:
    with dovecot.DovecotServer() as server:
        server.start()
        yield server


@pytest.mark.skipif(not ok_dovecot, reason=f"Dovecot is not available: {why_dovecot}")
def test_a_refused_imap_login_with_a_non_ascii_password_leaves_it_nowhere(
        make_config: Any, mail: dovecot.DovecotServer, monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str]) -> None:
    wrong = "Pässwörd€-Wrong-7731"
    monkeypatch.setenv("T_MAIL_PW", wrong)
    cfg = make_config(flows=["mailbox"], mailbox={
        "host": mail.host, "port": mail.port, "tls": False, "user": mail.user,
        "password_env": "T_MAIL_PW"})
    logs.setup(True)
    result = run(cfg)
    assert result.status != "ok"
    assert (result.folder / "run.json").is_file()
    out, err = capfd.readouterr()
    assert_absent([wrong], result.folder, out, err)


@pytest.mark.skipif(not ok_dovecot, reason=f"Dovecot is not available: {why_dovecot}")
def test_a_non_ascii_mailbox_password_reaches_the_server(
        make_config: Any, mail: dovecot.DovecotServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("T_MAIL_PW", "Pässwörd€-Wrong-7731")
    cfg = make_config(flows=["mailbox"], mailbox={
        "host": mail.host, "port": mail.port, "tls": False, "user": mail.user,
        "password_env": "T_MAIL_PW"})
    result = run(cfg)
    assert result.data["errors"][0]["type"] == "MailLoginRefused", result.data["errors"]
    assert result.status == "needs_person" and result.exit_code == 3


# --- finding 7: an unusable state file is named; a failed context stops Playwright -----
@pytest.mark.parametrize(("content", "words"), [
    ('{"cookies": [{"name": "session-id", "val', "not a JSON file"),
    ("\x00\x01garbage", "not a JSON file"),
    ("[]", "expected a JSON object"),
    ('{"cookies": [{"name": 1}], "origins": []}', "cookies are not a list"),
    ('{"cookies": [], "origins": "x"}', "origins are not a list"),
])
def test_an_unusable_state_file_says_why(tmp_path: Path, content: str, words: str) -> None:
    path = tmp_path / "acct.json"
    path.write_text(content)
    problem = state_problem(path)
    assert problem is not None and words in problem
    assert state_problem(tmp_path / "missing.json") is not None
    path.write_text('{"cookies": [{"name": "a", "value": "b"}], "origins": []}')
    assert state_problem(path) is None


@pytest.mark.parametrize("kept", [False, True], ids=["own-browser", "kept-browser"])
def test_a_failed_context_stops_playwright_so_a_retry_can_launch(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kept_browser: KeptBrowser,
        kept: bool) -> None:
    """Without the stop, the retry fails with "Sync API inside the asyncio loop". A kept
    browser (several runs in one thread) stays up for the retry instead."""
    real = Browser.new_context

    def broken(self: Browser, **kwargs: Any) -> Any:
        raise PlaywrightError("context refused")

    with contextlib.ExitStack() as stack:
        if not kept:
            stack.enter_context(kept_browser.set_aside())
        monkeypatch.setattr(Browser, "new_context", broken)
        with pytest.raises(PlaywrightError, match="context refused"):
            launch(BrowserConfig(), tmp_path / "acct.json")
        monkeypatch.setattr(Browser, "new_context", real)
        again = launch(BrowserConfig(), tmp_path / "acct.json")  # the retry of the same run
        try:
            again.page.set_content("<p>ok</p>")
            assert again.owned is not kept
        finally:
            again.close()
        if kept:  # the run's close left the kept browser for the next run
            assert again.browser.is_connected()


def test_a_kept_browser_that_went_away_is_started_again_for_the_next_run(
        tmp_path: Path, kept_browser: KeptBrowser) -> None:
    """Runs in a row share a Chromium; one that crashed or was closed between two runs is
    replaced, not handed on dead."""
    first = launch(BrowserConfig(), tmp_path / "acct.json")
    first.close()  # the run's end: its context only
    assert first.browser.is_connected()
    first.browser.close()  # Chromium goes away between runs
    second = launch(BrowserConfig(), tmp_path / "acct.json")
    try:
        assert second.browser is not first.browser and second.browser.is_connected()
        second.page.set_content("<p>ok</p>")
        assert second.page.inner_text("p") == "ok"
    finally:
        second.close()


# --- finding 10 (screenshots): a very long page gives bounded screenshots ----------------
def png_size(path: Path) -> tuple[int, int]:
    with path.open("rb") as fh:
        head = fh.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def test_a_100_kb_message_gives_screenshots_of_bounded_height(
        sandbox: Sandbox, make_config: Any, tmp_path: Path) -> None:
    data = yaml.safe_load((SCENARIO_DIR / "healthy.yaml").read_text(encoding="utf-8"))
    words = ("Could you tell me whether the order ships this week, the box was "
             "heavier than the listing said and I need to know before Friday. ")
    text = (words * (100_000 // len(words) + 1))[:100_000]
    thread = {**data["threads"][0], "thread_id": "T-LONG", "messages": [
        {**data["threads"][0]["messages"][0], "text": text}]}
    sandbox.reset(scenario_file(tmp_path, threads=[thread]))
    cfg = make_config(signed_in=True, flows=["buyer_messages"])
    result = run(cfg, dry_run=True)
    assert result.status == "ok", result.data["errors"]
    shots = sorted((result.folder / "screenshots").glob("*.png"))
    assert shots
    heights = {}
    for shot in shots:
        _, height = png_size(shot)
        heights[shot.name] = height
        assert height <= 6000, f"{shot.name} is {height} px high"
        assert shot.stat().st_size < 3_000_000, f"{shot.name} is {shot.stat().st_size} bytes"
    assert max(heights.values()) == 6000, "the thread page was long enough to be capped"
    assert any("cut at 6000 px" in w for w in result.data["warnings"]), result.data["warnings"]
