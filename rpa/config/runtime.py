"""How a run works on this machine: Chromium (``browser``), the state and recordings
folders (``paths``) and how often a step is tried (``retries``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from rpa.config.base import StrictModel


class BrowserConfig(StrictModel):
    # False: a visible browser (on a host where headless sign-ins draw CAPTCHAs); without
    # a display it draws on a private Xvfb (rpa.browser.display).
    headless: bool = True
    # "persistent": the account's own Chromium profile (state/profiles/<account>/), so
    # cookies and site storage stay as in a person's browser; "storage_state": a fresh
    # browser each run with the saved cookies and localStorage (state/browser/<account>.json).
    profile: Literal["persistent", "storage_state"] = "persistent"
    executable_path: str | None = None
    slow_mo_ms: int = Field(default=0, ge=0)
    # Seller Central pages take 15-25 s to first paint (evidence S1, S2): an element is
    # waited for up to 30 s before the page counts as not showing it.
    timeout_ms: int = Field(default=30000, ge=1000)
    navigation_timeout_ms: int = Field(default=30000, ge=1000)
    # How long sign-in waits for a check that may clear by itself (AWS WAF's script check,
    # the "continue shopping" button wall) before it stops for a person.
    challenge_wait_s: float = Field(default=20, ge=0, le=300)
    trace: bool = True
    # DOM snapshots in the trace: handy when a selector breaks, but ~0.2 s a page, and the
    # step screenshots are the reviewers' evidence; off unless asked for.
    trace_snapshots: bool = False
    # PNG encoding of the screenshots: "compact" is Chromium's smallest file; "fast" the same
    # pixels in about half the encoding time and ~40 % more disk (up to ~35 ms a buyer thread
    # on a 2-core machine; docs/benchmarks.md).
    screenshots: Literal["compact", "fast"] = "compact"


class PathsConfig(StrictModel):
    state_dir: Path = Path("state")
    recordings_dir: Path = Path("recordings")
    selectors_file: Path | None = None
    # The local overlay (rpa teach): default selectors.local.yaml beside the config file.
    selectors_overlay: Path | None = None


class RetryConfig(StrictModel):
    attempts: int = Field(default=3, ge=1, le=10)
