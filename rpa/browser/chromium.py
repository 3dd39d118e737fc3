"""Chromium for one run: launched once, with the account's saved browser state.

The saved state (cookies, including Seller Central's remember-device cookie) is what lets
later headless runs sign in without a one-time code and without challenges. It is written
owner-only, and its cookie values are registered as secrets so no log or report shows them.
A saved state that cannot be read (truncated, overwritten, refused by Playwright) is moved
aside as ``<name>.corrupt-<UTC time>`` for inspection and the run signs in afresh, with a
warning; Playwright is stopped whenever the launch fails half-way, so a retry can start it
again.

Runs made one after another in one thread (the demo's three, the tests) can keep one
driver and Chromium open between them (:func:`kept_open`): each run still gets a context of
its own (cookies, storage, trace), and a later run costs a context instead of a start.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from loguru import logger
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from rpa import redact
from rpa.config import BrowserConfig, cache_dir
from rpa.errors import ConfigError

# Chromium takes the last --disable-features (and --enable-features) it is given:
# Playwright's own lists (1.65) are repeated here, so that adding to them keeps their entries.
PLAYWRIGHT_DISABLED_FEATURES = (
    "AvoidUnnecessaryBeforeUnloadCheckSync", "DestroyProfileOnBrowserClose", "HttpsUpgrades",
    "HttpsFirstBalancedModeAutoEnable", "LensOverlay", "MediaRouter", "PaintHolding",
    "ThirdPartyStoragePartitioning", "AvoidCorsURLLoaderRestartOnRedirect",
    "TcpPortRandomizationWin", "OptimizationHints", "NetworkTimeServiceQuerying", "AimEnabled",
    "PreconnectToSearch", "msForceBrowserSignIn", "msEdgeUpdateLaunchServicesPreferredVersion",
)
# Features a bot never uses, each measured to cost memory (bench/routine_memory.py): the
# address bar's popups are web pages of their own (a renderer of ~75 MB) in a browser that
# has no address bar to show them.
UNUSED_FEATURES = (
    "WebUIOmniboxPopup", "WebUIOmniboxAimPopup", "WebUIOmniboxFullPopup",
    "PreloadTopChromeWebUI",
)
PLAYWRIGHT_ENABLED_FEATURES = ("CDPScreenshotNewSurface", "SkipListAccountsWithoutGaiaCookies")
# The network service inside the browser process rather than a process of its own: the
# routine's peak 579-597 MB instead of 599-605 (bench/routine_memory.py, 28 Nov).
IN_PROCESS_FEATURES = ("NetworkServiceInProcess2",)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    # one site, one tab: one renderer process, not a spare one besides; the GPU thread in
    # the browser process (software drawing only: --disable-gpu), not a process of its own
    "--renderer-process-limit=1",
    "--in-process-gpu",
    # the page's JavaScript with a small young generation, as the driver's below (the
    # routine's peak 453-573 MB with it, 478-630 MB without), and V8 preferring size to
    # speed; with Chromium's low-end-device mode (smaller caches) the routine peaks at
    # 591-596 MB instead of 615-627, at no extra CPU and with pixel-identical screenshots
    # (bench/routine_memory.py, 28 Nov)
    "--js-flags=--max-semi-space-size=1 --optimize-for-size",
    "--enable-low-end-device-mode",
    "--disable-extensions",
    "--disable-features=" + ",".join((*PLAYWRIGHT_DISABLED_FEATURES, *UNUSED_FEATURES)),
    "--enable-features=" + ",".join((*PLAYWRIGHT_ENABLED_FEATURES, *IN_PROCESS_FEATURES)),
]
# The Playwright driver (Node.js) with a small young generation: its peak 95-127 MB, was
# 125-150 MB (bench/routine_memory.py). The user's own NODE_OPTIONS win.
DRIVER_NODE_OPTIONS = "--max-semi-space-size=1"
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
    # Set when the saved state could not be used: what was wrong and where it was kept.
    state_warning: str | None = None

    def save_state(self) -> None:
        """Write cookies and storage for the next run, readable by the owner only.

        The state is the session: call this with the trace paused (``RunContext.save_state``
        does), or the trace would record it.
        """
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.close(fd)
        state = self.context.storage_state(path=str(tmp))
        redact.register_cookies([str(c.get("value", "")) for c in state.get("cookies", [])])
        tmp.chmod(0o600)
        tmp.replace(self.state_file)
        logger.debug("browser state saved")

    # False when the driver and browser belong to a :class:`KeptBrowser`: close the context.
    owned: bool = True

    def close(self) -> None:
        if self.owned:
            _close_all(self.context.close, self.browser.close, self.pw.stop)
        else:
            _close_all(self.context.close)


def _close_all(*closers: Callable[[], None]) -> None:
    for closer in closers:
        try:
            closer()
        except Exception as err:  # noqa: BLE001 - closing must not hide the run's outcome
            logger.debug("closing the browser: {}", err)


def state_problem(state_file: Path) -> str | None:
    """Why a saved browser state cannot be used, or None when it looks like one."""
    try:
        data = json.loads(state_file.read_text(encoding="utf-8"))
    except OSError as err:
        return f"cannot be read: {err.strerror or err}"
    except ValueError as err:  # not UTF-8, or not JSON (truncated, overwritten)
        return f"not a JSON file ({str(err).splitlines()[0]})"
    if not isinstance(data, dict):
        return "not a browser state (expected a JSON object)"
    cookies, origins = data.get("cookies", []), data.get("origins", [])
    if not isinstance(cookies, list) or not all(
            isinstance(c, dict) and isinstance(c.get("name"), str)
            and isinstance(c.get("value"), str) for c in cookies):
        return "not a browser state (its cookies are not a list of names and values)"
    if not isinstance(origins, list) or not all(isinstance(o, dict) for o in origins):
        return "not a browser state (its origins are not a list)"
    return None


def register_saved_cookies(state_file: Path) -> None:
    """Mask the saved session's cookie values wherever this run writes."""
    data = json.loads(state_file.read_text(encoding="utf-8"))
    redact.register_cookies([str(c["value"]) for c in data.get("cookies", [])])


def move_aside(state_file: Path, problem: str) -> str:
    """Keep an unusable state file for inspection under a new name; returns the warning."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    aside = state_file.with_name(f"{state_file.name}.corrupt-{stamp}")
    state_file.replace(aside)
    aside.chmod(0o600)
    warning = (f"the saved browser state {state_file} was unreadable ({problem}); "
               f"kept as {aside.name} and signed in afresh")
    logger.warning(warning)
    return warning


def _start_playwright() -> Playwright:
    """Start the Playwright driver, with ``DRIVER_NODE_OPTIONS`` unless NODE_OPTIONS is set
    and with Node's compile cache (``cache_dir("node")``: a start takes 0.5 s of CPU instead
    of 0.7) unless NODE_COMPILE_CACHE is set. The driver takes this process's environment
    when it starts; it is put back after."""
    extra = {}
    if "NODE_OPTIONS" not in os.environ:
        extra["NODE_OPTIONS"] = DRIVER_NODE_OPTIONS
    if "NODE_COMPILE_CACHE" not in os.environ and (cache := cache_dir("node")) is not None:
        extra["NODE_COMPILE_CACHE"] = str(cache)
    os.environ.update(extra)
    try:
        return sync_playwright().start()
    finally:
        for name in extra:
            os.environ.pop(name, None)


def _launch_chromium(pw: Playwright, cfg: BrowserConfig, headed: bool) -> Browser:
    return pw.chromium.launch(
        executable_path=find_chromium(cfg.executable_path),
        headless=cfg.headless and not headed,
        slow_mo=cfg.slow_mo_ms or None,
        args=CHROMIUM_ARGS,
    )


class KeptBrowser:
    """A driver and Chromium kept open for the runs made in one thread (see
    :func:`kept_open`). Started on the first launch; Chromium is started again when a run
    asks for other launch options or the browser went away."""

    def __init__(self) -> None:
        self._pw: Playwright | None = None
        self._browser: Browser | None = None
        self._options: tuple[object, ...] = ()

    def playwright(self) -> Playwright:
        """The kept driver (started now if need be), e.g. to launch another browser with it:
        Playwright's sync API allows one driver per thread."""
        if self._pw is None:
            self._pw = _start_playwright()
        return self._pw

    def get(self, cfg: BrowserConfig, headed: bool) -> tuple[Playwright, Browser]:
        options = (cfg.executable_path, cfg.headless and not headed, cfg.slow_mo_ms)
        if self._browser is not None and (options != self._options
                                          or not self._browser.is_connected()):
            _close_all(self._browser.close)
            self._browser = None
        pw = self.playwright()
        if self._browser is None:
            self._browser, self._options = _launch_chromium(pw, cfg, headed), options
        return pw, self._browser

    def close(self) -> None:
        """Stop the browser and the driver (the next run starts them again)."""
        closers: list[Callable[[], None]] = []
        if self._browser is not None:
            closers.append(self._browser.close)
        if self._pw is not None:
            closers.append(self._pw.stop)
        _close_all(*closers)
        self._pw, self._browser = None, None

    @contextmanager
    def set_aside(self) -> Iterator[None]:
        """Within the block, launches in this thread are their own, as without
        :func:`kept_open` (the kept browser is closed first, and started again later)."""
        me = threading.get_ident()
        self.close()
        held = _kept.pop(me, None)
        try:
            yield
        finally:
            if held is not None:
                _kept[me] = held


_kept: dict[int, KeptBrowser] = {}


@contextmanager
def kept_open() -> Iterator[KeptBrowser]:
    """Within the block, runs started in this thread share one driver and Chromium, each in
    a context of its own: a later run's launch costs a context (about 0.2 s) instead of a
    driver and a browser (about 1.1 s, 1.3 s of CPU). Playwright's sync API belongs to the
    thread that started it: runs in other threads launch their own. Closed at the end."""
    me = threading.get_ident()
    if me in _kept:  # already inside such a block: that one closes it
        yield _kept[me]
        return
    kept = _kept[me] = KeptBrowser()
    try:
        yield kept
    finally:
        del _kept[me]
        kept.close()


def launch(cfg: BrowserConfig, state_file: Path, *, headed: bool = False) -> BrowserSession:
    """Start Chromium (or take the one kept open in this thread) and open a context with
    the saved state, if any.

    Whatever fails after this call started Playwright stops it again (a running Playwright
    would make the next attempt fail with "Sync API inside the asyncio loop"); a kept
    browser stays for the next attempt.
    """
    kept = _kept.get(threading.get_ident())
    if kept is not None:
        pw, browser = kept.get(cfg, headed)
    else:
        pw = _start_playwright()
        try:
            browser = _launch_chromium(pw, cfg, headed)
        except BaseException:
            _close_all(pw.stop)
            raise
    closers = (browser.close, pw.stop) if kept is None else ()
    try:
        context, warning = _new_context(browser, state_file)
        try:
            context.set_default_timeout(cfg.timeout_ms)
            context.set_default_navigation_timeout(cfg.navigation_timeout_ms)
            page = context.new_page()
        except BaseException:
            _close_all(context.close)
            raise
    except BaseException:
        _close_all(*closers)
        raise
    return BrowserSession(pw, browser, context, page, state_file, warning, owned=kept is None)


def _new_context(browser: Browser, state_file: Path) -> tuple[BrowserContext, str | None]:
    """A context with the saved state; an unusable state is moved aside and not used."""
    kwargs: dict[str, object] = {"viewport": {"width": 1280, "height": 900},
                                 "locale": "en-US"}
    if not state_file.is_file():
        return browser.new_context(**kwargs), None  # type: ignore[arg-type]
    problem = state_problem(state_file)
    if problem is None:
        register_saved_cookies(state_file)
        try:
            context = browser.new_context(**kwargs, storage_state=str(state_file))  # type: ignore[arg-type]
            logger.debug("reusing saved browser state")
            return context, None
        except PlaywrightError as err:
            if "storage" not in str(err).lower() and "cookie" not in str(err).lower():
                raise  # not about the state: the browser itself failed
            problem = f"refused by Playwright: {str(err).splitlines()[0]}"
    warning = move_aside(state_file, problem)
    return browser.new_context(**kwargs), warning  # type: ignore[arg-type]
