"""The account's browser profile folder: ``state/profiles/<account>/``, owner-only.

With ``browser.profile: persistent`` (the default) a run opens Chromium on this folder
itself, as a person's browser opens theirs: the cookies (the remember-device cookie among
them; session cookies are kept too, as a browser that continues where it left off keeps
them), site storage (localStorage, IndexedDB), the cache and the rest stay from run to run,
so Seller Central sees the same browser each time rather than a new one. One run uses it at
a time (the account's run lock). ``browser.profile: storage_state`` keeps only a saved
state file, ``state/browser/<account>.json`` (cookies and localStorage).

What this module does around the launch (``rpa.browser.chromium`` launches):

- a profile made on a machine that still has the saved state file starts from that file
  (loaded once; the file is removed when the run ends cleanly), so nobody signs in again;
- a lock a crashed browser left (``SingletonLock`` naming a process of this machine that
  no longer runs) is cleared, as Chromium itself would, and the run says so;
- a profile Chromium refuses (locked by another machine or a process still running, or
  unusable) is kept aside as ``<account>.corrupt-<UTC time>`` for inspection and the run
  signs in afresh on a new one, with a warning. Since a new profile that is refused too
  means Chromium's own trouble, not the profile's, the old one is then put back.

No Playwright here: the console asks when the sign-in was last saved without a browser.
"""

from __future__ import annotations

import os
import shutil
import socket
from datetime import datetime, timezone
from pathlib import Path

from loguru import logger

PROFILES = "profiles"
STATES = "browser"
LOCK_FILES = ("SingletonLock", "SingletonSocket", "SingletonCookie")
# The tabs of the last session: never reopened (a run opens its own page), while the
# session's cookies are kept (Chromium's --restore-last-session).
LAST_TABS = ("Sessions",)


def state_file(state_dir: Path, account: str) -> Path:
    return Path(state_dir) / STATES / f"{account}.json"


def profile_dir(state_dir: Path, account: str) -> Path:
    return Path(state_dir) / PROFILES / account


def is_new(profile: Path) -> bool:
    """No profile yet (no folder, or an empty one a launch that failed left)."""
    return not profile.exists() or (profile.is_dir() and not any(profile.iterdir()))


def problem(profile: Path) -> str | None:
    """Why an existing profile cannot be opened at all, before Chromium is asked."""
    if profile.is_symlink() or (profile.exists() and not profile.is_dir()):
        return "not a folder"
    if profile.exists() and not os.access(profile, os.R_OK | os.W_OK | os.X_OK):
        return "not readable and writable by this user"
    return None


def prepare(profile: Path) -> None:
    """The folder, owner-only (its parent too), without the last session's tabs."""
    profile.parent.mkdir(parents=True, exist_ok=True)
    profile.parent.chmod(0o700)
    profile.mkdir(mode=0o700, exist_ok=True)
    profile.chmod(0o700)
    for name in LAST_TABS:
        shutil.rmtree(profile / "Default" / name, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it runs
        return True
    return True


def clear_stale_lock(profile: Path) -> str | None:
    """Remove the lock of a browser that ended without closing the profile (a process of
    this machine that no longer runs); returns what the run should say, or None.

    Another machine's lock or a running process's is left for Chromium to judge."""
    try:
        target = os.readlink(profile / "SingletonLock")
    except OSError:
        return None
    host, _, pid = target.rpartition("-")
    if host != socket.gethostname() or not pid.isdigit() or _running(int(pid)):
        return None
    for name in LOCK_FILES:
        try:
            (profile / name).unlink()
        except FileNotFoundError:
            pass
    warning = (f"the browser profile {profile} was still locked by a browser that did not "
               f"close (pid {pid}, no longer running); the lock was cleared")
    logger.warning(warning)
    return warning


def set_aside(profile: Path) -> Path:
    """Move the profile out of the way for inspection: ``<name>.corrupt-<UTC time>``."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    aside = profile.with_name(f"{profile.name}.corrupt-{stamp}")
    n = 1
    while aside.exists() or aside.is_symlink():  # two in one second
        n += 1
        aside = profile.with_name(f"{profile.name}.corrupt-{stamp}-{n}")
    profile.replace(aside)
    return aside


def put_back(aside: Path, profile: Path) -> None:
    """Undo :func:`set_aside`, dropping the new profile made meanwhile."""
    if profile.is_dir() and not profile.is_symlink():
        shutil.rmtree(profile, ignore_errors=True)
    aside.replace(profile)


def set_aside_warning(profile: Path, aside: Path, why: str) -> str:
    warning = (f"the browser profile {profile} could not be opened ({why}); kept as "
               f"{aside.name} and signed in afresh")
    logger.warning(warning)
    return warning


def saved_at(state_dir: Path, account: str) -> float | None:
    """When the account's sign-in was last written (its profile's cookies, or the saved
    state file), as a timestamp; None when there is none."""
    times = []
    for path in (profile_dir(state_dir, account) / "Default" / "Cookies",
                 state_file(state_dir, account)):
        try:
            if path.is_file():
                times.append(path.stat().st_mtime)
        except OSError:
            continue
    return max(times) if times else None
