"""The Dovecot installed on this machine: where its binary is, which version it is, and
whether a throwaway server can run here at all (``available``)."""

from __future__ import annotations

import functools
import os
import pwd
import re
import shutil
import subprocess
from pathlib import Path

_SEARCH_PATHS = ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot", "/opt/homebrew/sbin/dovecot")


def dovecot_binary() -> str | None:
    """Path of the ``dovecot`` master binary, or None when it isn't installed."""
    found = shutil.which("dovecot")
    if found:
        return found
    for candidate in _SEARCH_PATHS:
        if os.access(candidate, os.X_OK):
            return candidate
    return None


@functools.lru_cache(maxsize=4)
def _version_of(binary: str) -> tuple[int, int] | None:
    """(major, minor) as ``binary --version`` reports it; None when that fails."""
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True,
                             timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.match(r"\s*(\d+)\.(\d+)", out)
    return (int(match.group(1)), int(match.group(2))) if match else None


def dovecot_version() -> tuple[int, int] | None:
    """(major, minor) of the installed Dovecot, e.g. (2, 3); None when unknown."""
    binary = dovecot_binary()
    return _version_of(binary) if binary else None


def _missing_imap(binary: str) -> str | None:
    """The libexec folder that has Dovecot's helpers but no ``imap``, if that is the case."""
    prefix = Path(binary).resolve().parent.parent
    for libexec in (prefix / "lib" / "dovecot", prefix / "libexec" / "dovecot"):
        if (libexec / "auth").exists() and not (libexec / "imap").exists():
            return str(libexec)
    return None


def user_exists(name: str) -> bool:
    """Whether this machine has a user called ``name``."""
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def available() -> tuple[bool, str]:
    """(True, "") when a throwaway server can be started here, else (False, the reason)."""
    binary = dovecot_binary()
    if binary is None:
        return False, "Dovecot is not installed (no dovecot binary; install dovecot-imapd)"
    version = dovecot_version()
    if version is None:
        return False, f"could not read the Dovecot version from {binary} --version"
    if version < (2, 3):
        return False, f"Dovecot {version[0]}.{version[1]} is too old (2.3 or later needed)"
    libexec = _missing_imap(binary)
    if libexec:
        return False, f"Dovecot has no IMAP server ({libexec}/imap missing; install dovecot-imapd)"
    if os.geteuid() == 0 and not user_exists("nobody"):
        return False, "running as root but there is no 'nobody' user for Dovecot's processes"
    if os.geteuid() != 0:
        try:
            pwd.getpwuid(os.geteuid())
        except KeyError:
            return False, f"uid {os.geteuid()} has no user name, which Dovecot needs"
    return True, ""
