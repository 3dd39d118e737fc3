"""A visible browser (``browser.headless: false``): on a machine without a display it draws
on a private Xvfb the run starts and stops, also when the browser does not start; with
``$DISPLAY`` set it uses that display; without Xvfb the run stops as a configuration error
(exit 2) naming the package. Real Chromium and Xvfb against the sandbox.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserType
from playwright.sync_api import Error as PlaywrightError

from rpa.browser import display
from rpa.browser.chromium import BrowserSession, launch
from rpa.browser.display import VirtualDisplay, needs_own_display
from rpa.config import BrowserConfig
from rpa.errors import ConfigError
from rpa.run import context
from rpa.run.orchestrator import run
from tests.conftest import Sandbox
from tests.test_cli_errors import ENV, write_config

needs_xvfb = pytest.mark.skipif(display.find_xvfb() is None,
                                reason="Xvfb is not installed (Debian: apt-get install xvfb; "
                                       "`make setup-test` installs it as root)")


@pytest.fixture()
def no_screen(monkeypatch: pytest.MonkeyPatch) -> None:
    """A session without a display, as a server's cron job or service has."""
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(sys, "platform", "linux")


@pytest.fixture()
def started(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[int, int, Path]]]:
    """Each Xvfb the bot starts: (pid, display number, its private folder)."""
    seen: list[tuple[int, int, Path]] = []
    real = VirtualDisplay.start

    def spy(self: VirtualDisplay, *args: Any, **kwargs: Any) -> VirtualDisplay:
        out = real(self, *args, **kwargs)
        assert self.proc is not None and self.number is not None
        seen.append((self.proc.pid, self.number, Path(self.env["XAUTHORITY"]).parent))
        return out

    monkeypatch.setattr(VirtualDisplay, "start", spy)
    yield seen


@pytest.fixture()
def agents(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The user agent of each run's browser, read as it opens."""
    seen: list[str] = []
    real = context.launch

    def spy(*args: Any, **kwargs: Any) -> BrowserSession:
        session = real(*args, **kwargs)
        seen.append(str(session.page.evaluate("navigator.userAgent")))
        return session

    monkeypatch.setattr(context, "launch", spy)
    return seen


def gone(pid: int, number: int, folder: Path) -> bool:
    """The Xvfb process has ended (nothing of it runs nor waits to be reaped), its socket
    and its private folder are gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        running = "Xvfb" in status and "zombie" not in status
    except FileNotFoundError:
        running = False
    return (not running and not Path(f"/tmp/.X11-unix/X{number}").exists()
            and not folder.exists())


@needs_xvfb
def test_a_visible_browser_without_a_display_signs_in_on_its_own_xvfb(
        sandbox: Sandbox, make_config: Any, no_screen: None,
        started: list[tuple[int, int, Path]], agents: list[str]) -> None:
    cfg = make_config(browser__headless=False, browser__profile="persistent",
                      flows=["login"])
    result = run(cfg)
    assert result.status == "ok", result.data["errors"]
    counts = sandbox.state()["counters"]
    assert (counts["signins"], counts["otp_pages_shown"]) == (1, 1), "a full sign-in"
    assert len(started) == 1, "one X server of the run's own"
    assert len(agents) == 1 and "Headless" not in agents[0], agents
    assert gone(*started[0]), "the run's end stopped it and removed its cookie"
    assert "DISPLAY" not in os.environ, "the run's own environment is untouched"


@needs_xvfb
def test_xvfb_is_stopped_when_the_browser_does_not_start(
        tmp_path: Path, no_screen: None, started: list[tuple[int, int, Path]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(self: BrowserType, *args: Any, **kwargs: Any) -> Any:
        raise PlaywrightError("Chromium did not start")

    monkeypatch.setattr(BrowserType, "launch_persistent_context", refused)
    with pytest.raises(PlaywrightError, match="did not start"):
        launch(BrowserConfig(headless=False), tmp_path / "state" / "browser" / "a.json",
               profile_dir=tmp_path / "state" / "profiles" / "a")
    assert len(started) == 1 and gone(*started[0])


@needs_xvfb
def test_rpa_login_headed_uses_the_display_that_is_set_and_the_profile(
        sandbox: Sandbox, make_config: Any, monkeypatch: pytest.MonkeyPatch,
        agents: list[str]) -> None:
    """`rpa login --headed` in a desktop session (its display here one the test starts):
    the browser draws there, the run starts no X server of its own, and it signs in on the
    account's profile, as the headless runs do."""
    screen = VirtualDisplay().start()
    try:
        for name, value in screen.env.items():
            monkeypatch.setenv(name, value)
        spawned: list[VirtualDisplay] = []
        real = VirtualDisplay.start

        def spy(self: VirtualDisplay, *args: Any, **kwargs: Any) -> VirtualDisplay:
            spawned.append(self)
            return real(self, *args, **kwargs)

        monkeypatch.setattr(VirtualDisplay, "start", spy)
        cfg = make_config(signed_in=True, browser__profile="persistent")
        result = run(cfg, flows=["login"], headed=True, assist=True)  # as `rpa login --headed`
        assert result.status == "ok", result.data["errors"]
        assert spawned == [] and len(agents) == 1 and "Headless" not in agents[0]
        state = Path(cfg.paths.state_dir)
        assert (state / "profiles" / "test" / "Default").is_dir()
        assert not (state / "browser" / "test.json").exists(), "the profile took the sign-in"
        assert sandbox.state()["counters"]["password_posts"] == 0
    finally:
        screen.stop()


def test_without_xvfb_a_visible_browser_is_a_configuration_error(
        make_config: Any, no_screen: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(display, "find_xvfb", lambda: None)
    cfg = make_config(browser__headless=False, flows=["login"])
    with pytest.raises(ConfigError, match=r"apt-get install xvfb") as err:
        run(cfg)
    assert err.value.key == "browser.headless"
    assert not Path(cfg.paths.recordings_dir).exists(), "stopped before the run began"
    # Runs that never open the browser need no display.
    assert run(cfg, flows=["followups"]).status == "ok"


def test_rpa_run_without_xvfb_exits_2_naming_the_package(tmp_path: Path) -> None:
    config = write_config(tmp_path, browser={"headless": False})
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(ENV, PATH=str(tmp_path / "bin"))  # no Xvfb on this PATH
    proc = subprocess.run([sys.executable, "-m", "rpa.cli", "run", "--flow", "login",
                           "--config", str(config)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "configuration error:" in proc.stderr and "apt-get install xvfb" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_which_runs_need_a_display_of_their_own(no_screen: None,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(display, "find_xvfb", lambda: "/usr/bin/Xvfb")
    assert needs_own_display(BrowserConfig(), headed=False) is False  # headless
    assert needs_own_display(BrowserConfig(headless=False), headed=False) is True
    # --headed is for a person watching: an invisible display would leave them waiting.
    with pytest.raises(ConfigError, match=r"--headed .* no display"):
        needs_own_display(BrowserConfig(), headed=True)
    monkeypatch.setenv("DISPLAY", ":7")
    assert needs_own_display(BrowserConfig(headless=False), headed=False) is False
    assert needs_own_display(BrowserConfig(), headed=True) is False
