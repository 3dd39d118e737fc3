"""The account's persistent browser profile (``browser.profile: persistent``, the product's
default): what a signed-in browser keeps survives into the next run; an old saved state
starts it; a lock a crashed browser left is cleared; a profile Chromium refuses is kept
aside and the run signs in afresh; the folder is owner-only; no session in any artifact.

Real Chromium against the sandbox. The sandbox's signed-in pages leave a mark in
localStorage that its sign-in form posts back (counter ``stored_device_seen``), besides the
remember-device cookie that spares the one-time code (``otp_pages_shown``).
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from rpa.browser.chromium import CHROMIUM_ARGS, KeptBrowser, find_chromium
from rpa.config import Config
from rpa.run.orchestrator import run
from tests.conftest import Sandbox
from tests.test_artifacts_security import assert_absent


def persistent(make_config: Any, **overrides: Any) -> Config:
    cfg: Config = make_config(browser__profile="persistent", flows=["login"], **overrides)
    return cfg


def folders(cfg: Config) -> tuple[Path, Path]:
    state = Path(cfg.paths.state_dir)
    return state / "profiles" / "test", state / "browser" / "test.json"


def counters(sandbox: Sandbox) -> dict[str, int]:
    return sandbox.state()["counters"]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_persistent_profile_keeps_the_sign_in_cookies_and_site_storage(
        sandbox: Sandbox, make_config: Any, kept_browser: KeptBrowser,
        capfd: pytest.CaptureFixture[str]) -> None:
    # With DOM snapshots the trace also records the network, Cookie headers included.
    cfg = persistent(make_config, browser__trace=True, browser__trace_snapshots=True)
    profile, state_file = folders(cfg)
    first = run(cfg)
    assert first.status == "ok", first.data["errors"]
    c1 = counters(sandbox)
    assert (c1["password_posts"], c1["otp_pages_shown"], c1["stored_device_seen"]) == (1, 1, 0)
    assert (profile / "Default").is_dir(), "Chromium wrote the profile"
    assert mode(profile) == 0o700 and mode(profile.parent) == 0o700
    assert not (profile / "SingletonLock").is_symlink(), "the browser closed the profile"
    assert not state_file.exists(), "the sign-in lives in the profile only"
    assert first.data["warnings"] == []

    profile.chmod(0o755)  # loosened meanwhile: owner-only again after the next run
    second = run(cfg)
    assert second.status == "ok", second.data["errors"]
    c2 = counters(sandbox)
    assert c2["password_posts"] == 1, "the session cookie was kept across Chromium's restart"
    assert mode(profile) == 0o700

    sandbox.fault(expire_session=True)  # the session ends: the next run signs in again
    third = run(cfg)
    assert third.status == "ok", third.data["errors"]
    c3 = counters(sandbox)
    assert c3["password_posts"] == 2
    assert c3["otp_pages_shown"] == 1, "the remember-device cookie spared the one-time code"
    assert c3["stored_device_seen"] == 1, "the page's localStorage was still there"
    assert not state_file.exists() and list(profile.parent.iterdir()) == [profile]

    # What the profile holds is the session: none of it in any run's artifacts.
    browser = kept_browser.playwright().chromium.launch_persistent_context(
        str(profile), executable_path=find_chromium(None), args=CHROMIUM_ARGS)
    try:
        cookies = {c["name"]: c["value"] for c in browser.cookies()}
    finally:
        browser.close()
    assert {"session-id", "sc-remember-device"} <= set(cookies)
    login = sandbox.login()
    secrets = [v for v in cookies.values() if len(v) >= 8]
    secrets += [login["password"], login["totp_secret"]]
    out, err = capfd.readouterr()
    assert list(Path(cfg.paths.recordings_dir).rglob("trace-*.zip")), "the runs left traces"
    assert assert_absent(secrets, Path(cfg.paths.recordings_dir), out, err) > 30


def test_an_old_saved_state_starts_the_profile_once(sandbox: Sandbox, make_config: Any) -> None:
    """A machine that signed in with a saved state file before: the new profile takes its
    cookies and localStorage, nobody signs in again, and the file goes once the profile
    holds them."""
    cfg = persistent(make_config, signed_in=True)  # writes state/browser/test.json
    profile, state_file = folders(cfg)
    data = json.loads(state_file.read_text())
    # A mark of its own: the sandbox's pages leave theirs only where none is.
    data["origins"] = [{"origin": sandbox.url, "localStorage": [
        {"name": "sc-device", "value": "kept-from-the-old-state"}]}]
    state_file.write_text(json.dumps(data))
    assert not profile.exists()

    first = run(cfg)
    assert first.status == "ok", first.data["errors"]
    c1 = counters(sandbox)
    assert (c1["password_posts"], c1["sessions_granted"]) == (0, 1), "the saved sign-in was used"
    assert not state_file.exists(), "loaded once: the profile holds it now"
    assert (profile / "Default").is_dir() and mode(profile) == 0o700
    assert first.data["warnings"] == []

    # The saved session cookie is a session cookie (no expiry): kept across Chromium's
    # restart, as the saved state kept it.
    assert run(cfg).status == "ok"
    assert counters(sandbox)["password_posts"] == 0

    sandbox.fault(expire_session=True)
    second = run(cfg)
    assert second.status == "ok", second.data["errors"]
    c2 = counters(sandbox)
    assert c2["password_posts"] == 1
    assert sandbox.state()["device_data"] == "kept-from-the-old-state", \
        "the saved localStorage reached the profile"


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_a_lock_left_by_a_browser_that_died_is_cleared_and_the_profile_kept(
        sandbox: Sandbox, make_config: Any) -> None:
    """A run killed with its Chromium leaves the profile's SingletonLock naming a process
    that is gone. The run lock says no run uses the profile: the lock is cleared (as
    Chromium itself does), the profile and its sign-in stay, the report says so."""
    cfg = persistent(make_config)
    profile, _ = folders(cfg)
    assert run(cfg).status == "ok"
    pid = _dead_pid()
    os.symlink(f"{socket.gethostname()}-{pid}", profile / "SingletonLock")

    again = run(cfg)
    assert again.status == "ok", again.data["errors"]
    assert counters(sandbox)["password_posts"] == 1, "signed in from the kept profile"
    assert [p.name for p in profile.parent.iterdir()] == ["test"], "nothing set aside"
    warnings = again.data["warnings"]
    assert any(f"pid {pid}" in w and "lock was cleared" in w for w in warnings), warnings


def test_a_profile_chromium_refuses_is_kept_aside_and_the_run_signs_in_afresh(
        sandbox: Sandbox, make_config: Any) -> None:
    """A profile locked by another machine (a copied state folder, a container that came
    back under another host name): Chromium will not open it. It is kept as
    ``test.corrupt-<time>``, the run signs in on a new profile and the report says so;
    never a traceback."""
    cfg = persistent(make_config)
    profile, _ = folders(cfg)
    assert run(cfg).status == "ok"
    os.symlink("another-machine-4242", profile / "SingletonLock")

    again = run(cfg)
    assert again.status == "ok", again.data["errors"]
    c = counters(sandbox)
    assert (c["password_posts"], c["otp_pages_shown"]) == (2, 2), "a new browser signs in afresh"
    kept = [p for p in profile.parent.iterdir() if p.name.startswith("test.corrupt-")]
    assert len(kept) == 1 and mode(kept[0]) == 0o700
    assert os.readlink(kept[0] / "SingletonLock") == "another-machine-4242", "kept as it was"
    assert (profile / "Default").is_dir() and mode(profile) == 0o700
    warnings = again.data["warnings"]
    assert any("another computer" in w and kept[0].name in w and "signed in afresh" in w
               for w in warnings), warnings
    report = (again.folder / "report.html").read_text(encoding="utf-8")
    assert 'id="warnings"' in report and kept[0].name in report
    run_log = (again.folder / "run.log").read_text(encoding="utf-8")
    assert "Traceback" not in run_log

    third = run(cfg)  # the new profile is used from now on
    assert third.status == "ok" and third.data["warnings"] == []
    assert counters(sandbox)["password_posts"] == 2


def test_the_suite_and_the_product_defaults(make_config: Any) -> None:
    """The product opens a persistent profile; the suite's runs take the saved state unless
    a test asks (a Chromium start a run: see tests/conftest.py)."""
    from rpa.config import BrowserConfig

    assert BrowserConfig().profile == "persistent"
    assert make_config().browser.profile == "storage_state"
