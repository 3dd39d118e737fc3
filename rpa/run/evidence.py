"""Run evidence: one folder per run with screenshots, the trace, run.json and report.html.

Folder names start with the UTC time so they sort by time; ``recordings/latest`` points
at the newest. Secrets are masked on screenshots (the fields that hold them) and scrubbed
from every text written here; the trace is paused while a secret is typed or the browser
state (the Seller Central session) is saved, and every chunk is scrubbed of cookies. The
evidence holds buyers' names, order ids and messages: folders are 0700, files 0600.
Screenshots of very long pages are cut at ``MAX_SHOT_HEIGHT`` pixels, and a note says so.
"""

from __future__ import annotations

import functools
import json
import os
import re
import secrets as _random
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from jinja2 import (
    Environment,
    FileSystemBytecodeCache,
    PackageLoader,
    Template,
    select_autoescape,
)
from loguru import logger
from playwright.sync_api import BrowserContext, CDPSession, FloatRect, Locator, Page
from playwright.sync_api import Error as PlaywrightError

from rpa import redact
from rpa.browser.pagesnap import PageSnapshot
from rpa.config import cache_dir
from rpa.redact import scrub, scrub_data
from rpa.run import capture

SHOT_TIMEOUT_MS = 10000
# A failing step is often a stuck page: its screenshots get short deadlines of their own.
FAILURE_SHOT_TIMEOUT_MS = 4000
VIEWPORT_SHOT_TIMEOUT_MS = 3000
# A full-page screenshot of a 100 KB message would be ~13000 px high and megabytes big;
# the top of the page is the evidence that matters (the rest is in the report and trace).
MAX_SHOT_HEIGHT = 6000
MAX_SHOT_WIDTH = 4000
# Secret fields are painted over in this colour on every screenshot.
MASK_COLOUR = "#222222"
DIR_MODE, FILE_MODE = 0o700, 0o600


# run.json and report.html list the emails of a run up to this many (those that need a
# person first); a bigger mailbox's are all in emails.jsonl beside them, one per line.
EMAILS_SHOWN = 500
EMAILS_FILE = "emails.jsonl"
ALL_EMAILS_KEY = "_all_emails"


def emails_summary(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """run.json's emails: all of them when few; else the first ``EMAILS_SHOWN`` of those
    that need a person (escalated, or not done), then the rest, with counts by action and
    the file that holds every one."""
    actions: dict[str, int] = {}
    for e in entries:
        actions[str(e.get("action"))] = actions.get(str(e.get("action")), 0) + 1
    out: dict[str, Any] = {"emails": entries, "emails_total": len(entries),
                           "email_actions": actions}
    if len(entries) > EMAILS_SHOWN:
        first = sorted(entries, key=lambda e: not (e.get("escalation") or not e.get("done")))
        out["emails"] = first[:EMAILS_SHOWN]
        out["emails_file"] = EMAILS_FILE
        out[ALL_EMAILS_KEY] = entries
    return out


def _owner_only(path: Path) -> None:
    """Make ``path`` readable by its owner only (a folder 0700, a file 0600)."""
    try:
        path.chmod(DIR_MODE if path.is_dir() else FILE_MODE)
    except OSError as err:
        logger.warning("could not make {} owner-only: {}", path, err)


def _write_private_bytes(path: Path, data: bytes) -> None:
    """Write a file that only its owner can read, from the first byte on."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    _owner_only(path)


def _write_private(path: Path, text: str) -> None:
    _write_private_bytes(path, text.encode("utf-8"))


def png_height(path: Path) -> int:
    """The height of a PNG image in pixels, read from its header."""
    with path.open("rb") as fh:
        head = fh.read(24)
    return int.from_bytes(head[20:24], "big") if head[12:16] == b"IHDR" else 0


def new_run_id(account: str) -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{account}-{_random.token_hex(3)}"


_RUN_ID = re.compile(r"^\d{8}T\d{6}Z-(?P<account>[A-Za-z0-9_.-]+)-[0-9a-f]{6}$")


def account_of_run(run_id: str | None) -> str | None:
    """The account a run id (:func:`new_run_id`) names, or None for anything else."""
    found = _RUN_ID.match(run_id or "")
    return found["account"] if found else None


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:50] or "step"


def _stop_loading(page: Page) -> None:
    """Stop a navigation that never ends, so the page as it stands can be captured.

    A pending navigation blocks Playwright's screenshots; Chromium's own "stop" (what the
    toolbar button does) lets the page that is shown be captured, masks and all.
    """
    try:
        session = page.context.new_cdp_session(page)
        try:
            session.send("Page.stopLoading")
        finally:
            session.detach()
    except PlaywrightError as err:
        logger.debug("could not stop the page loading: {}", str(err).splitlines()[0])


class Evidence:
    """Writes one run's evidence into ``root/<run_id>``."""

    def __init__(self, root: Path, run_id: str, *, fast_screenshots: bool = False) -> None:
        self.root = root
        self.fast_screenshots = fast_screenshots
        self.run_id = run_id
        self.folder = root / run_id
        self.shots = self.folder / "screenshots"
        for folder in (root, self.folder, self.shots):
            folder.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
            _owner_only(folder)
        # What a reader of the evidence should know about it (e.g. a screenshot cut short).
        self.notes: list[str] = []
        self._n = 0
        self._cdp: dict[int, tuple[Page, CDPSession]] = {}
        self._trace_ctx: BrowserContext | None = None
        self._trace_chunks = 0
        self._tracing = False
        self._point_latest()

    def rel(self, path: Path) -> str:
        return path.relative_to(self.folder).as_posix()

    def screenshot(self, page: Page, name: str, mask: list[Locator] | None = None, *,
                   timeout_ms: int = SHOT_TIMEOUT_MS) -> str | None:
        """Save a screenshot of ``page``; returns its path inside the run folder.

        Full page first, at most ``MAX_SHOT_HEIGHT`` pixels high (a longer page is cut and
        a note says so), through ``capture``; when that cannot be made in time
        (a page still loading, a huge page) Playwright's full page with a short deadline,
        then the visible part only, so a stuck page still leaves evidence.
        """
        self._n += 1
        path = self.shots / f"{self._n:03d}-{_slug(name)}.png"
        short = min(timeout_ms, VIEWPORT_SHOT_TIMEOUT_MS)
        shot = self._captured(page, mask or [], timeout_ms, name)
        if shot is not None:
            _write_private_bytes(path, shot.png)
            self._note_cut(path, shot.height)
            return self.rel(path)
        _stop_loading(page)
        # For a full page Playwright trims the clip to the page, so short pages are whole.
        cap: FloatRect = {"x": 0, "y": 0, "width": MAX_SHOT_WIDTH, "height": MAX_SHOT_HEIGHT}
        for full_page in (True, False):
            try:
                page.screenshot(path=str(path), full_page=full_page, mask=mask or [],
                                mask_color=MASK_COLOUR, timeout=short,
                                animations="disabled", clip=cap if full_page else None)
                _owner_only(path)
                if full_page:
                    self._note_cut(path, png_height(path))
                return self.rel(path)
            except PlaywrightError as err:
                logger.warning("{} screenshot '{}' failed: {}",
                               "full-page" if full_page else "viewport", name,
                               str(err).splitlines()[0])
        return None

    def page_snapshot(self, snap: PageSnapshot, name: str) -> list[str]:
        """Save a page's accessibility snapshot and scrubbed HTML beside the screenshots;
        returns their paths inside the run folder."""
        self._n += 1
        stem = f"{self._n:03d}-{_slug(name)}"
        out = []
        for suffix, text in ((".aria.yml", f"# {snap.path}\n{snap.aria}"), (".html", snap.html)):
            path = self.shots / f"{stem}{suffix}"
            _write_private(path, scrub(text))
            out.append(self.rel(path))
        return out

    def _captured(self, page: Page, mask: list[Locator], timeout_ms: int,
                   name: str) -> capture.Shot | None:
        if not capture.supported():
            return None
        try:
            return capture.full_page_png(page, self._cdp_session(page), mask,
                                         colour=MASK_COLOUR, timeout_ms=timeout_ms,
                                         fast=self.fast_screenshots,
                                         max_width=MAX_SHOT_WIDTH, max_height=MAX_SHOT_HEIGHT)
        except (capture.CaptureUnavailable, PlaywrightError) as err:
            self._cdp.pop(id(page), None)
            logger.warning("full-page screenshot '{}' failed: {}", name,
                           str(err).splitlines()[0] if str(err) else type(err).__name__)
            return None

    def _cdp_session(self, page: Page) -> CDPSession:
        """One protocol session per page for its screenshots."""
        kept = self._cdp.get(id(page))
        if kept is None or kept[0] is not page:
            kept = (page, page.context.new_cdp_session(page))
            self._cdp[id(page)] = kept
        return kept[1]

    def _note_cut(self, path: Path, height: int) -> None:
        if height >= MAX_SHOT_HEIGHT:
            note = f"screenshot {self.rel(path)} cut at {MAX_SHOT_HEIGHT} px: the page is longer"
            logger.info(note)
            self.notes.append(note)

    def screenshot_all(self, context: BrowserContext | None, name: str,
                       mask_for: Any = None) -> list[str]:
        """A screenshot of every open page (used when a step fails)."""
        out: list[str] = []
        if context is None:
            return out
        for i, page in enumerate(context.pages):
            if page.is_closed():
                continue
            # The step has failed: what the page shows now is the evidence, and a navigation
            # still pending would keep any screenshot from being taken.
            _stop_loading(page)
            mask = mask_for(page) if mask_for else None
            shot = self.screenshot(page, f"{name}-page{i + 1}", mask,
                                   timeout_ms=FAILURE_SHOT_TIMEOUT_MS)
            if shot:
                out.append(shot)
        return out

    # --- trace -------------------------------------------------------------------------
    def start_trace(self, context: BrowserContext, snapshots: bool = True) -> None:
        # DOM snapshots make the trace; the step screenshots are taken separately, so the
        # trace's own screencast (costly on a small machine) is left off.
        context.tracing.start(screenshots=False, snapshots=snapshots, sources=False,
                              title=self.run_id)
        self._trace_ctx = context
        self._tracing = True
        context.tracing.start_chunk(title=self.run_id)

    def _stop_chunk(self) -> None:
        if self._trace_ctx is None or not self._tracing:
            return
        self._trace_chunks += 1
        path = self.folder / f"trace-{self._trace_chunks}.zip"
        try:
            self._trace_ctx.tracing.stop_chunk(path=str(path))
            if path.exists():
                _owner_only(path)
                self._scrub_trace(path)
        except PlaywrightError as err:
            logger.warning("trace chunk not saved: {}", str(err).splitlines()[0])
        self._tracing = False

    @staticmethod
    def _scrub_trace(path: Path) -> None:
        """Mask secrets in a saved chunk; a chunk that cannot be checked is not kept."""
        try:
            redact.scrub_zip(path)
        except (OSError, zipfile.BadZipFile) as err:
            logger.warning("trace chunk {} dropped: could not be checked for secrets ({})",
                           path.name, err)
            path.unlink(missing_ok=True)

    @contextmanager
    def private(self) -> Iterator[None]:
        """Pause the trace while secrets are typed or the browser state is saved.

        The trace would record the typed value and the saved state (the session cookies)
        as call parameters and results. Nested uses keep the trace paused until the
        outermost one ends.
        """
        was_tracing = self._tracing
        self._stop_chunk()
        try:
            yield
        finally:
            if was_tracing and self._trace_ctx is not None and not self._tracing:
                try:
                    self._trace_ctx.tracing.start_chunk(title=self.run_id)
                    self._tracing = True
                except PlaywrightError:
                    pass

    def stop_trace(self) -> None:
        self._stop_chunk()
        if self._trace_ctx is not None:
            try:
                self._trace_ctx.tracing.stop()
            except PlaywrightError:
                pass
        self._trace_ctx = None

    # --- summaries ---------------------------------------------------------------------
    def write_json(self, data: dict[str, Any]) -> Path:
        path = self.folder / "run.json"
        every = data.pop(ALL_EMAILS_KEY, None)
        if every is not None:  # a big mailbox: each email one line of emails.jsonl
            _write_private(self.folder / EMAILS_FILE, "".join(
                json.dumps(scrub_data(e), ensure_ascii=False) + "\n" for e in every))
        _write_private(path, json.dumps(scrub_data(data), indent=2, ensure_ascii=False) + "\n")
        return path

    def write_report(self, data: dict[str, Any]) -> Path:
        """report.html: opens from disk with no server; each step's thumbnail is embedded
        (a small JPEG), linking to the full screenshot beside it."""
        shots = [s["screenshot"] for f in (data.get("flows") or {}).values()
                 for s in f.get("steps", []) if s.get("screenshot")]
        thumbs = {rel: uri for rel in shots if (uri := thumbnail(self.folder / rel))}
        html = _report_template().render(run=scrub_data(data), thumbs=thumbs)
        path = self.folder / "report.html"
        _write_private(path, scrub(html))
        self.seal()
        return path

    def seal(self) -> None:
        """Make every folder and file of this run owner-only (whatever wrote them)."""
        for path in [self.folder, *self.folder.rglob("*")]:
            if not path.is_symlink():
                _owner_only(path)

    def _point_latest(self) -> None:
        latest = self.root / "latest"
        try:
            if latest.is_symlink() or latest.exists():
                latest.unlink()
            os.symlink(self.run_id, latest, target_is_directory=True)
        except OSError as err:
            logger.debug("could not point recordings/latest: {}", err)


@functools.cache
def _report_template() -> Template:
    """report.html's template: compiled once a process (a console or a scheduler makes many
    reports) and kept compiled for the next process (``cache_dir("templates")``; Jinja2
    checks it against the template's time)."""
    folder = cache_dir("templates")
    env = Environment(loader=PackageLoader("rpa.run", "templates"),
                      autoescape=select_autoescape(["html"]),
                      bytecode_cache=FileSystemBytecodeCache(str(folder)) if folder else None)
    return env.get_template("report.html")


THUMB_WIDTH = 320
THUMB_MAX_HEIGHT = 480


def thumbnail(path: Path) -> str:
    """A small JPEG of the screenshot at ``path`` (its top, 320 px wide) as a data URI, for
    a report that shows its steps without the files beside it; "" when it cannot be made."""
    import base64
    import io

    try:
        from PIL import Image

        with Image.open(path) as img:
            scale = THUMB_WIDTH / max(img.width, 1)
            height = max(1, min(int(img.height * scale), THUMB_MAX_HEIGHT))
            top = img.crop((0, 0, img.width, min(img.height, int(height / scale) or 1)))
            # a box average by the whole factor first (a quarter of the time), then the
            # exact size; RGB last, on the small picture
            if top.mode not in ("RGB", "RGBA", "L"):
                top = top.convert("RGB")  # a palette picture cannot be averaged as is
            factor = int(1 / scale) if scale < 1 else 1
            small = (top.reduce(factor) if factor > 1 else top).convert("RGB")
            small = small.resize((THUMB_WIDTH, height))
            out = io.BytesIO()
            small.save(out, format="JPEG", quality=70, optimize=True)
    except (OSError, ValueError, ImportError) as err:
        logger.debug("no thumbnail for {}: {}", path, err)
        return ""
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode("ascii")
