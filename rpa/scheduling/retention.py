"""Retention of run folders and the static index of what is left.

A run folder is ``recordings/<UTC stamp>-<account>-<6 hex>/`` holding ``run.json``; nothing
else under ``recordings/`` (``latest``, ``index.html``, the README, a run still being
written) is ever deleted. ``recordings/index.html`` lists the runs newest first for those
who do not run the console; it opens from disk, with relative links only.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment
from loguru import logger

RUN_FOLDER = re.compile(r"^(\d{8}T\d{6}Z)-([A-Za-z0-9_.-]+)-([0-9a-f]{6})$")
INDEX_NAME = "index.html"


@dataclass(frozen=True)
class RunFolder:
    """A run's evidence folder and what its run.json says (None: unreadable)."""

    path: Path
    started: datetime  # from the folder's name, UTC
    account: str
    data: dict[str, Any] | None
    written: int = 0  # when run.json was written (ns), to order runs of the same second

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def status(self) -> str:
        status = (self.data or {}).get("status")
        return status if isinstance(status, str) else "unknown"


def run_folders(recordings_dir: Path) -> list[RunFolder]:
    """Every finished run folder under ``recordings_dir``, oldest first."""
    found: list[RunFolder] = []
    try:
        children = list(Path(recordings_dir).iterdir())
    except OSError:
        return []
    for path in children:
        match = RUN_FOLDER.match(path.name)
        if match is None or path.is_symlink() or not path.is_dir():
            continue
        summary = path / "run.json"
        if summary.is_symlink() or not summary.is_file():
            continue  # not a run folder, or a run still being written
        started = datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(
            tzinfo=timezone.utc)
        try:
            written = summary.stat().st_mtime_ns
        except OSError:
            continue
        found.append(RunFolder(path, started, match.group(2), _read(summary), written))
    # The name's stamp has whole seconds; two runs in one second go by when their
    # run.json was written, not by their random suffix.
    found.sort(key=lambda r: (r.started, r.written, r.path.name))
    return found


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def prune(recordings_dir: Path, keep_days: int | None, keep_runs: int | None,
          now: datetime) -> list[Path]:
    """Delete the run folders past retention and return them.

    A run goes when it is older than ``keep_days`` and not among the last ``keep_runs``
    (only the limit that is set counts; neither set: nothing goes). The newest run and the
    newest run that did not end ``ok`` always stay: they are what a person looks at next.
    """
    if keep_days is None and keep_runs is None:
        return []
    runs = run_folders(recordings_dir)
    if not runs:
        return []
    keep = {runs[-1].path}
    failed = [r for r in runs if r.status != "ok"]
    if failed:
        keep.add(failed[-1].path)
    cutoff = now - timedelta(days=keep_days) if keep_days is not None else None
    deleted: list[Path] = []
    for position, run in enumerate(reversed(runs)):  # position 0 is the newest
        if run.path in keep:
            continue
        old = cutoff is None or run.started < cutoff
        beyond = keep_runs is None or position >= keep_runs
        if old and beyond:
            try:
                shutil.rmtree(run.path)
            except OSError as err:
                logger.warning("could not delete run folder {}: {}", run.path.name, err)
                continue
            deleted.append(run.path)
    if deleted:
        logger.info("retention: deleted {} run folder(s), oldest {}", len(deleted),
                    deleted[-1].name)
    return deleted


_INDEX = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy"
 content="default-src 'none'; style-src 'unsafe-inline'; img-src 'self'">
<title>Runs</title>
<style>
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}
table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:.3rem .5rem;
text-align:left;vertical-align:top}th{background:#f3f3f3}
.ok{color:#176f2c}.failed,.unknown{color:#b00020}.needs_person{color:#a15c00}
</style></head><body>
<h1>Runs</h1>
<p>{{ runs|length }} run(s), newest first. Written {{ written }}.</p>
<table>
<thead><tr><th>Run</th><th>Status</th><th>Started</th><th>Duration</th><th>Account</th>
<th>Unshipped</th><th>Performance</th><th>Buyer messages</th><th>Emails</th>
<th>Escalations opened</th></tr></thead>
<tbody>
{% for r in runs %}<tr>
<td><a href="{{ r.href }}">{{ r.run_id }}</a>{% if r.dry_run %} (dry run){% endif %}</td>
<td class="{{ r.status_class }}">{{ r.status }}</td><td>{{ r.started }}</td>
<td>{{ r.duration }}</td><td>{{ r.account }}</td><td>{{ r.unshipped }}</td>
<td>{{ r.performance }}</td><td>{{ r.messages }}</td><td>{{ r.emails }}</td>
<td>{{ r.escalations }}</td></tr>
{% endfor %}</tbody></table>
</body></html>
"""
_env = Environment(autoescape=True, keep_trailing_newline=True)
_STATUS_CLASSES = ("ok", "failed", "needs_person")


def write_index(recordings_dir: Path, now: datetime | None = None) -> Path:
    """Write ``recordings/index.html``: every run left, newest first, each linking to its
    report. Every value from run.json is escaped; links are relative, so the page works
    opened from disk."""
    folder = Path(recordings_dir)
    rows = [_row(run) for run in reversed(run_folders(folder))]
    written = (now or datetime.now(timezone.utc)).isoformat(timespec="seconds")
    html = _env.from_string(_INDEX).render(runs=rows, written=written)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / INDEX_NAME
    # Written beside and renamed over: a reader never sees half a page.
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".index-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(html)
        os.chmod(tmp, 0o600)  # the page names buyers' questions' counts and accounts
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def _row(run: RunFolder) -> dict[str, Any]:
    data = run.data or {}
    obs = _mapping(data.get("observations"))
    perf = obs.get("performance")
    if isinstance(perf, dict):
        performance = str(perf.get("label") or perf.get("status") or "")
    else:
        performance = "" if perf is None else str(perf)
    unshipped = obs.get("unshipped")
    opened = _mapping(data.get("escalations")).get("opened")
    return {
        "run_id": run.run_id,
        "href": f"{quote(run.run_id)}/report.html",
        "status": run.status if run.data is not None else "run.json unreadable",
        "status_class": run.status if run.status in _STATUS_CLASSES else "unknown",
        "dry_run": bool(data.get("dry_run")),
        "started": run.started.strftime("%Y-%m-%d %H:%M:%S UTC"),
        "duration": _duration(data.get("started_at"), data.get("finished_at")),
        "account": str(data.get("account") or run.account),
        "unshipped": "not read" if unshipped is None else str(unshipped),
        "performance": performance,
        "messages": _tally(data.get("threads"), "decision"),
        "emails": (", ".join(f"{k} {v}" for k, v in sorted(data["email_actions"].items()))
                   if isinstance(data.get("email_actions"), dict)
                   else _tally(data.get("emails"), "action")),
        "escalations": ", ".join(str(c) for c in opened) if isinstance(opened, list) else "",
    }


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _duration(started: Any, finished: Any) -> str:
    try:
        seconds = (datetime.fromisoformat(str(finished))
                   - datetime.fromisoformat(str(started))).total_seconds()
    except (TypeError, ValueError):
        return ""
    if seconds < 0:
        return ""
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


def _tally(items: Any, key: str) -> str:
    """'holding 2, template 3': how many items had each value of ``key`` (a template's
    name dropped, so templates count together)."""
    if not isinstance(items, list):
        return ""
    counts = Counter(str(item.get(key) or "").split(":", 1)[0]
                     for item in items if isinstance(item, dict))
    return ", ".join(f"{name or 'none'} {n}" for name, n in sorted(counts.items()))
