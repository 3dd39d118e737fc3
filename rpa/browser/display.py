"""Where a visible Chromium draws: the user's screen, or a private Xvfb on a server.

``browser.headless: false`` is for hosts where headless sign-ins draw CAPTCHAs. On Linux
without ``$DISPLAY`` (a server, a cron job) the run starts an X server of its own, Xvfb
(Debian's ``xvfb`` package), and Chromium draws there; with ``$DISPLAY`` set it uses that
display. The X server is this run's process: it picks a free display number itself
(``-displayfd``, so two runs never race for one), is waited for until it says it is ready
(bounded, no fixed sleeps), only lets in clients holding a fresh cookie (its Xauthority
file, owner-only, in a private folder: other users of the machine cannot look at the
window) and is stopped when the run's browser closes, also after errors.

``rpa run --headed`` / ``rpa login --headed`` are for a person watching the window: they
need a real display and never get an invisible one.
"""

from __future__ import annotations

import os
import secrets
import select
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from loguru import logger

from rpa.config import BrowserConfig
from rpa.errors import ApplicationError, ConfigError

XVFB = "Xvfb"
XVFB_PACKAGE = "xvfb"
# The screen Chromium's 1600 x 1000 page plus its window frame fits on.
SCREEN = "1920x1200x24"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
X_SOCKETS = Path("/tmp/.X11-unix")
# An Xauthority entry for any host and any display number (FamilyWild, empty number):
# the display number is only known once Xvfb has chosen it.
FAMILY_WILD = 0xFFFF
COOKIE_NAME = b"MIT-MAGIC-COOKIE-1"


def find_xvfb() -> str | None:
    return shutil.which(XVFB)


def has_screen() -> bool:
    """Whether windows can be shown as things are: a display is set, or the platform
    needs none (macOS, Windows)."""
    if not sys.platform.startswith("linux"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def needs_own_display(cfg: BrowserConfig, headed: bool) -> bool:
    """Whether this run's Chromium is to draw on a private Xvfb; raises ConfigError when a
    visible browser is asked for and cannot be had."""
    if cfg.headless and not headed:
        return False
    if has_screen():
        return False
    if headed:
        raise ConfigError(
            "--headed shows the browser window to a person, and this session has no display "
            "($DISPLAY is not set): run it from a desktop session or over `ssh -X`; to run a "
            "visible browser on a server without a screen, set browser.headless: false "
            "(it then draws on a private Xvfb)")
    if find_xvfb() is None:
        raise ConfigError(
            f"browser.headless: false needs a display, and this machine has none ($DISPLAY "
            f"is not set) nor {XVFB} to make one: install it (Debian/Ubuntu: apt-get install "
            f"{XVFB_PACKAGE}; `make setup` does as root) or set DISPLAY",
            key="browser.headless")
    return True


def _auth_entry(cookie: bytes) -> bytes:
    def field(value: bytes) -> bytes:
        return struct.pack(">H", len(value)) + value
    return (struct.pack(">H", FAMILY_WILD) + field(b"") + field(b"") + field(COOKIE_NAME)
            + field(cookie))


class VirtualDisplay:
    """A private Xvfb for one run's browser: :meth:`start`, :attr:`env`, :meth:`stop`."""

    def __init__(self, binary: str | None = None) -> None:
        found = binary or find_xvfb()
        if found is None:
            raise ConfigError(f"{XVFB} is not installed (Debian/Ubuntu: apt-get install "
                              f"{XVFB_PACKAGE})", key="browser.headless")
        self.binary = found
        self.number: int | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self._dir: Path | None = None

    @property
    def name(self) -> str:
        return f":{self.number}"

    @property
    def env(self) -> dict[str, str]:
        """What Chromium's environment needs to draw here."""
        assert self._dir is not None and self.number is not None
        return {"DISPLAY": self.name, "XAUTHORITY": str(self._dir / "Xauthority")}

    def start(self, timeout_s: float = START_TIMEOUT_S) -> VirtualDisplay:
        """Start Xvfb and return once it accepts clients (ApplicationError if it does not
        within ``timeout_s``; it is stopped again then)."""
        self._dir = Path(tempfile.mkdtemp(prefix="rpa-xvfb-"))  # 0700
        auth = self._dir / "Xauthority"
        fd = os.open(auth, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(_auth_entry(secrets.token_bytes(16)))
        log = self._dir / "xvfb.log"
        ready_r, ready_w = os.pipe()
        try:
            with log.open("wb") as err:
                self.proc = subprocess.Popen(
                    [self.binary, "-displayfd", str(ready_w), "-screen", "0", SCREEN,
                     "-nolisten", "tcp", "-auth", str(auth)],
                    pass_fds=(ready_w,), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                    stderr=err, start_new_session=True)  # Ctrl-C reaches the run, which stops it
        except OSError as e:
            os.close(ready_r)
            self._cleanup()
            raise ApplicationError(f"{self.binary} could not be started: {e}") from e
        finally:
            os.close(ready_w)
        try:
            self.number = self._await_number(ready_r, timeout_s)
        except BaseException:
            self.stop()
            raise
        finally:
            os.close(ready_r)
        socket = X_SOCKETS / f"X{self.number}"
        logger.debug("Xvfb {} ready (pid {}; socket {}{})", self.name, self.proc.pid, socket,
                     "" if socket.exists() else " absent: the abstract one serves")
        return self

    def _await_number(self, ready: int, timeout_s: float) -> int:
        """The display number Xvfb writes on ``-displayfd`` once it listens."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout_s
        got = b""
        while not got.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0:
                raise ApplicationError(f"Xvfb did not start within {timeout_s:.0f} s"
                                       f"{self._log_tail()}")
            readable, _, _ = select.select([ready], [], [], left)
            if not readable:
                continue
            chunk = os.read(ready, 32)
            if not chunk:  # it exited without naming a display
                self.proc.wait(timeout=STOP_TIMEOUT_S)
                raise ApplicationError(f"Xvfb exited at start (code {self.proc.returncode})"
                                       f"{self._log_tail()}")
            got += chunk
        return int(got.strip())

    def _log_tail(self) -> str:
        try:
            text = (self._dir / "xvfb.log").read_text(errors="replace") if self._dir else ""
        except OSError:
            return ""
        lines = [line for line in text.splitlines() if line.strip()][-3:]
        return ": " + " / ".join(lines) if lines else ""

    def stop(self) -> None:
        """Stop Xvfb (terminate, then kill if it lingers) and remove its private folder."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._cleanup()

    def _cleanup(self) -> None:
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
