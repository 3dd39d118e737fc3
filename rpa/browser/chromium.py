"""Chromium for one run: launched once, on the account's profile or with its saved state.

The account's browser is what lets later headless runs sign in without a one-time code and
without challenges: by default a persistent profile (``state/profiles/<account>/``, see
``rpa.browser.profile``) that Chromium opens as a person's browser opens theirs, so that
cookies (Seller Central's remember-device cookie among them) and site storage stay; with
``browser.profile: storage_state`` a context with the saved state
(``state/browser/<account>.json``), written owner-only. Either way the session's cookie
values are registered as secrets so no log or report shows them. A saved state that cannot
be read (truncated, overwritten, refused by Playwright) is moved aside as
``<name>.corrupt-<UTC time>`` for inspection and the run signs in afresh, with a warning; a
profile Chromium refuses is kept aside the same way. Playwright is stopped whenever the
launch fails half-way, so a retry can start it again.

A visible browser (``browser.headless: false``) on a machine without a display draws on a
private Xvfb (``rpa.browser.display``) that the session stops when it closes.

Runs made one after another in one thread (the demo's three, the tests) can keep one
driver and Chromium open between them (:func:`kept_open`): each run still gets a context of
its own (cookies, storage, trace), and a later run costs a context instead of a start. A
persistent profile is a Chromium of its own: it is opened with the kept driver and closed
at the run's end, so the next run reads what this one left on disk.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loguru import logger
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from rpa import redact
from rpa.browser import profile
from rpa.browser.display import VirtualDisplay, needs_own_display
from rpa.browser.saved_state import move_aside, register_saved_cookies, state_problem, write_state
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
# A persistent profile keeps the session's cookies, as a browser that continues where it
# left off does (the saved state kept them too); its last tabs are not reopened
# (rpa.browser.profile removes them first).
PROFILE_ARGS = ["--restore-last-session"]
VIEWPORT = {"width": 1600, "height": 1000}
LOCALE = "en-US"
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
    # None for a persistent profile: that context is its browser.
    browser: Browser | None
    context: BrowserContext
    page: Page
    state_file: Path
    # What a reader of the run should know about its browser: a saved state or profile
    # that could not be used (what was wrong, where it was kept), a lock that was cleared.
    warnings: list[str] = field(default_factory=list)
    # False when the driver (and browser) belong to a :class:`KeptBrowser`.
    owned: bool = True
    # The persistent profile the context runs on (None: a context with the saved state).
    profile: Path | None = None
    # The saved state file a new profile was started from: removed once the profile,
    # closed cleanly, holds what it held.
    migrated_from: Path | None = None
    # The private X server the browser draws on (stopped with the session).
    display: VirtualDisplay | None = None

    def save_state(self) -> None:
        """Keep cookies and storage for the next run: written owner-only to the state file,
        or, on a persistent profile, by Chromium itself. Either way the session's cookie
        values are masked from now on wherever this run writes.

        The state is the session: call this with the trace paused (``RunContext.save_state``
        does), or the trace would record it.
        """
        if self.profile is not None:
            redact.register_cookies([str(c.get("value", "")) for c in self.context.cookies()])
            return
        write_state(self.context, self.state_file)

    def close(self) -> None:
        """Close the context (a persistent profile's Chromium with it), then what this
        session owns: its browser and driver, its X server."""
        clean = _close_all(self.context.close)
        closers: list[Callable[[], None]] = []
        if self.owned:
            closers += [self.browser.close] if self.browser is not None else []
            closers.append(self.pw.stop)
        if self.display is not None:
            closers.append(self.display.stop)
        _close_all(*closers)
        if clean and self.migrated_from is not None:
            # The profile has written what the old file held: the session is kept once.
            self.migrated_from.unlink(missing_ok=True)
            logger.info("the browser profile now holds the saved sign-in; {} removed",
                        self.migrated_from.name)


def _close_all(*closers: Callable[[], None]) -> bool:
    """Call each closer, whatever the others did; True when none failed."""
    clean = True
    for closer in closers:
        try:
            closer()
        except Exception as err:  # noqa: BLE001 - closing must not hide the run's outcome
            logger.debug("closing the browser: {}", err)
            clean = False
    return clean


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


def _launch_options(cfg: BrowserConfig, headed: bool,
                    display: VirtualDisplay | None) -> dict[str, Any]:
    options: dict[str, Any] = {"executable_path": find_chromium(cfg.executable_path),
                               "headless": cfg.headless and not headed,
                               "slow_mo": cfg.slow_mo_ms or None, "args": CHROMIUM_ARGS}
    if not options["headless"]:  # the display this process sees now, or its own Xvfb
        options["env"] = {**os.environ, **(display.env if display is not None else {})}
    return options


def _launch_chromium(pw: Playwright, cfg: BrowserConfig, headed: bool,
                     display: VirtualDisplay | None = None) -> Browser:
    return pw.chromium.launch(**_launch_options(cfg, headed, display))


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


def launch(cfg: BrowserConfig, state_file: Path, *, headed: bool = False,
           profile_dir: Path | None = None) -> BrowserSession:
    """Open the run's browser: Chromium on the persistent profile ``profile_dir`` when one
    is given (started from ``state_file`` when the profile is new), else a context with the
    saved state ``state_file``, if any, in a Chromium started now or kept open in this
    thread. A visible browser without a display gets a private Xvfb (ConfigError when none
    can be had).

    Whatever fails after this call started Playwright (or Xvfb) stops it again (a running
    Playwright would make the next attempt fail with "Sync API inside the asyncio loop"); a
    kept browser stays for the next attempt.
    """
    display = VirtualDisplay().start() if needs_own_display(cfg, headed) else None
    try:
        if profile_dir is not None:
            session = _launch_profile(cfg, state_file, profile_dir, headed, display)
        else:
            session = _launch_with_state(cfg, state_file, headed, display)
    except BaseException:
        if display is not None:
            display.stop()
        raise
    session.display = display
    return session


def _launch_with_state(cfg: BrowserConfig, state_file: Path, headed: bool,
                       display: VirtualDisplay | None) -> BrowserSession:
    # A browser on this run's own X server ends with the run: never the kept one.
    kept = _kept.get(threading.get_ident()) if display is None else None
    if kept is not None:
        pw, browser = kept.get(cfg, headed)
    else:
        pw = _start_playwright()
        try:
            browser = _launch_chromium(pw, cfg, headed, display)
        except BaseException:
            _close_all(pw.stop)
            raise
    closers = (browser.close, pw.stop) if kept is None else ()
    try:
        context, warning = _new_context(browser, state_file)
        try:
            page = _first_page(context, cfg)
        except BaseException:
            _close_all(context.close)
            raise
    except BaseException:
        _close_all(*closers)
        raise
    return BrowserSession(pw, browser, context, page, state_file,
                          [warning] if warning else [], owned=kept is None)


def _first_page(context: BrowserContext, cfg: BrowserConfig) -> Page:
    context.set_default_timeout(cfg.timeout_ms)
    context.set_default_navigation_timeout(cfg.navigation_timeout_ms)
    return context.pages[0] if context.pages else context.new_page()


def _launch_profile(cfg: BrowserConfig, state_file: Path, folder: Path, headed: bool,
                    display: VirtualDisplay | None) -> BrowserSession:
    """Chromium on the persistent profile, with the kept driver when there is one."""
    kept = _kept.get(threading.get_ident())
    pw = kept.playwright() if kept is not None else _start_playwright()
    warnings: list[str] = []
    try:
        if (why := profile.problem(folder)) is not None:
            warnings.append(profile.set_aside_warning(folder, profile.set_aside(folder), why))
        new = profile.is_new(folder)
        start_from = None
        if new and state_file.is_file():
            if (why := state_problem(state_file)) is None:
                start_from = state_file
            else:
                warnings.append(move_aside(state_file, why))
        elif not new and (cleared := profile.clear_stale_lock(folder)) is not None:
            warnings.append(cleared)
        context, refused = _open_profile(pw, cfg, folder, headed, display, new)
        try:
            if refused is not None:
                warnings.append(refused)
            elif start_from is not None:
                _load_state(context, start_from)
            redact.register_cookies([str(c.get("value", "")) for c in context.cookies()])
            page = _first_page(context, cfg)
        except BaseException:
            _close_all(context.close)
            raise
    except BaseException:
        if kept is None:
            _close_all(pw.stop)
        raise
    return BrowserSession(pw, None, context, page, state_file, warnings, owned=kept is None,
                          profile=folder, migrated_from=start_from)


def _load_state(context: BrowserContext, state_file: Path) -> None:
    """Put a saved state into a new profile: its cookies, and its localStorage when it has
    any (``set_storage_state`` takes a persistent context about 3 s, cookies alone none)."""
    state = json.loads(state_file.read_text(encoding="utf-8"))
    if any(o.get("localStorage") for o in state.get("origins", [])):
        context.set_storage_state(state)
    else:
        context.add_cookies(state.get("cookies", []))
    logger.info("new browser profile started from the saved browser state")


def _open_profile(pw: Playwright, cfg: BrowserConfig, folder: Path, headed: bool,
                  display: VirtualDisplay | None,
                  new: bool) -> tuple[BrowserContext, str | None]:
    """The persistent context, and a warning when the profile was refused and replaced.

    Refused means: Chromium would not open it, and does open a new one in its place (when a
    new one is refused too, the trouble is Chromium's: the old profile is put back)."""
    options = {**_launch_options(cfg, headed, display),
               "args": [*CHROMIUM_ARGS, *PROFILE_ARGS],
               "viewport": VIEWPORT, "locale": LOCALE}
    profile.prepare(folder)
    try:
        return pw.chromium.launch_persistent_context(str(folder), **options), None
    except PlaywrightError as err:
        if new:
            raise
        why = chromium_says(err)
    aside = profile.set_aside(folder)
    profile.prepare(folder)
    try:
        context = pw.chromium.launch_persistent_context(str(folder), **options)
    except BaseException:
        profile.put_back(aside, folder)
        raise
    return context, profile.set_aside_warning(folder, aside, why)


def chromium_says(err: Exception) -> str:
    """Chromium's own complaint in a failed launch (its first ERROR line), else the error's
    first line."""
    for line in str(err).splitlines():
        if ":ERROR:" in line and "] " in line:
            said = line.split("] ", 2)[-1].strip()
            return said.split(". ")[0][:200]
    return (str(err).splitlines() or [type(err).__name__])[0][:200]


def _new_context(browser: Browser, state_file: Path) -> tuple[BrowserContext, str | None]:
    """A context with the saved state; an unusable state is moved aside and not used."""
    kwargs: dict[str, object] = {"viewport": VIEWPORT, "locale": LOCALE}
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
