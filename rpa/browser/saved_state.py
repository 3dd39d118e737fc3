"""The saved browser state file, ``state/browser/<account>.json``: cookies and
localStorage as Playwright writes them (``browser.profile: storage_state``; with a
persistent profile, only read once to start a new profile from it).

It is written owner-only; its cookie values are registered as secrets so no log or report
shows them. A file that cannot be used (truncated, overwritten, not a browser state) is
moved aside as ``<name>.corrupt-<UTC time>`` for inspection, with a warning.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

from loguru import logger
from playwright.sync_api import BrowserContext

from rpa import redact


def write_state(context: BrowserContext, state_file: Path) -> None:
    """Write the context's cookies and storage, readable by the owner only (replacing the
    file at once: a crash leaves the old one or the new one)."""
    state_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = state_file.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.close(fd)
    state = context.storage_state(path=str(tmp))
    redact.register_cookies([str(c.get("value", "")) for c in state.get("cookies", [])])
    tmp.chmod(0o600)
    tmp.replace(state_file)
    logger.debug("browser state saved")


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
