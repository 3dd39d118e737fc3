"""Chromium for one run: launched once, with the account's saved browser state.

The saved state (cookies, including Seller Central's remember-device cookie) is what lets
later headless runs sign in without a one-time code and without challenges. It is written
owner-only.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from loguru import logger
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from rpa.config import BrowserConfig
from rpa.errors import ConfigError

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
SYSTEM_CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromium-browser")


def find_chromium(configured: str | None) -> str | None:
    """The Chromium to launch: the configured one, else the system one, else Playwright's."""
    if configured:
        if not Path(configured).is_file():
            raise ConfigError(f"no browser at {configured}", key="browser.executable_path")
        return configured
    env = os.environ.get("RPA_CHROMIUM")
    if env and Path(env).is_file():
        return env
    for candidate in SYSTEM_CHROMIUM:
        if Path(candidate).is_file():
            return candidate
    found = shutil.which("chromium")
    return found


@dataclass
class BrowserSession:
    """A launched browser with one context for one account."""

    pw: Playwright
    browser: Browser
    context: BrowserContext
    page: Page
    state_file: Path

    def save_state(self) -> None:
        """Write cookies and storage for the next run, readable by the owner only."""
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.close(fd)
        self.context.storage_state(path=str(tmp))
        tmp.chmod(0o600)
        tmp.replace(self.state_file)
        logger.debug("browser state saved")

    def close(self) -> None:
        for closer in (self.context.close, self.browser.close, self.pw.stop):
            try:
                closer()
            except Exception as err:  # noqa: BLE001 - closing must not hide the run's outcome
                logger.debug("closing the browser: {}", err)


def launch(cfg: BrowserConfig, state_file: Path, *, headed: bool = False) -> BrowserSession:
    """Start Chromium and open a context with the saved state, if any."""
    executable = find_chromium(cfg.executable_path)
    pw = sync_playwright().start()
    try:
        browser = pw.chromium.launch(
            executable_path=executable,
            headless=cfg.headless and not headed,
            slow_mo=cfg.slow_mo_ms or None,
            args=CHROMIUM_ARGS,
        )
    except Exception:
        pw.stop()
        raise
    kwargs: dict[str, object] = {"viewport": {"width": 1280, "height": 900},
                                 "locale": "en-US"}
    if state_file.is_file():
        kwargs["storage_state"] = str(state_file)
        logger.debug("reusing saved browser state")
    context = browser.new_context(**kwargs)  # type: ignore[arg-type]
    context.set_default_timeout(cfg.timeout_ms)
    context.set_default_navigation_timeout(cfg.navigation_timeout_ms)
    page = context.new_page()
    return BrowserSession(pw, browser, context, page, state_file)
