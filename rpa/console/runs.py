"""What the Runs, Run and Health pages show, read from the run folders' run.json files
(and, for Health, the ledger and the saved sign-ins: the accounts' browser profiles or
saved browser states).

A run folder is a directory directly inside the recordings folder (never the ``latest``
symlink) holding a run.json; a run id names such a folder exactly. Nothing here writes.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from rpa.browser.profile import saved_at

if TYPE_CHECKING:
    from rpa.console.web import Console

STATUSES = ("ok", "failed", "needs_person")
# run.json's step name for the one-time code page; its presence says a code was needed.
CODE_STEP = "sign in: one-time code"
PASSWORD_STEPS = ("sign in: password", "sign in: email and password")


@dataclass
class RunRow:
    """One run as the Runs page lists it."""

    run_id: str
    account: str
    status: str
    dry_run: bool
    started: datetime | None
    seconds: float | None
    unshipped: int | None
    performance: str
    buyer_messages: int | None
    decisions: dict[str, int]
    emails: dict[str, int]
    opened: list[str]
    data: dict[str, Any] = field(repr=False, default_factory=dict)
    # Whether the run read the home page at all (a run of other flows shows no figures,
    # rather than "not read").
    read_home: bool = True
    # The worker that took the run from the queue ("": run where it was asked for).
    worker: str = ""

    @property
    def started_text(self) -> str:
        return self.started.strftime("%Y-%m-%d %H:%M:%S UTC") if self.started else "?"

    @property
    def duration(self) -> str:
        return duration_text(self.seconds)


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    whole = int(round(seconds))
    return f"{whole // 60}m {whole % 60:02d}s" if whole >= 60 else f"{whole}s"


def _when(value: Any) -> datetime | None:
    """A run.json time as an aware datetime (None when missing or unreadable)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _fields(value: Any, *keys: str) -> dict[str, Any]:
    """A run.json entry with every key the templates read present (None when missing):
    the templates are strict, and a run.json from an older version or a crash may lack
    some."""
    data = _dict(value)
    return {**{k: None for k in keys}, **data}


THREAD_KEYS = ("thread_id", "buyer", "order_id", "decision", "sent", "reason", "escalation",
               "screenshot")
EMAIL_KEYS = ("folder", "from", "subject", "rule", "action", "done", "escalation", "note",
              "summary")
ERROR_KEYS = ("flow", "kind", "type", "message", "attempt", "url", "reason")
ALERT_KEYS = ("channel", "text", "delivered")
UNDELIVERED_KEYS = ("title", "text")
OPEN_KEYS = ("code", "state", "kind", "age", "delivery", "summary")
RUN_ALERT_KEYS = ("text", "already_texted_by", "delivered")
AREA_KEYS = ("name", "value", "target", "status")


def run_folders(recordings: Path) -> dict[str, Path]:
    """The run folders by run id: real directories (no symlinks) holding a run.json."""
    found: dict[str, Path] = {}
    try:
        entries = list(recordings.iterdir())
    except OSError:
        return found
    for entry in entries:
        if entry.is_symlink() or not entry.is_dir() or entry.name.startswith("."):
            continue
        if (entry / "run.json").is_file() and not (entry / "run.json").is_symlink():
            found[entry.name] = entry
    return found


def read_run(folder: Path) -> dict[str, Any] | None:
    """The folder's run.json, or None when it cannot be read as a JSON object."""
    try:
        data = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def row_of(run_id: str, data: dict[str, Any]) -> RunRow:
    """The Runs page's figures of one run.json (threads' decisions grouped by their kind:
    every template is "template")."""
    obs = _dict(data.get("observations"))
    perf = _dict(obs.get("performance"))
    started, finished = _when(data.get("started_at")), _when(data.get("finished_at"))
    decisions = Counter(str(_dict(t).get("decision") or "?").split(":", 1)[0]
                        for t in _list(data.get("threads")))
    emails = Counter(str(_dict(e).get("action") or "?") for e in _list(data.get("emails")))
    if _dict(data.get("email_actions")):  # a big mailbox: run.json lists only the first
        emails = Counter({str(k): _int(v) or 0 for k, v in _dict(data["email_actions"]).items()})
    opened = [str(c) for c in _list(_dict(data.get("escalations")).get("opened"))]
    return RunRow(
        run_id=run_id, account=str(data.get("account") or "?"),
        status=str(data.get("status") or "unknown"), dry_run=bool(data.get("dry_run")),
        started=started,
        seconds=(finished - started).total_seconds() if started and finished else None,
        unshipped=_int(obs.get("unshipped")), performance=str(perf.get("label") or ""),
        buyer_messages=_int(obs.get("buyer_messages")), decisions=dict(sorted(decisions.items())),
        emails=dict(sorted(emails.items())), opened=opened, data=data,
        read_home="dashboard" in _dict(data.get("flows")),
        worker=str(data.get("worker") or ""))


def list_runs(recordings: Path) -> list[RunRow]:
    """Every readable run, newest first."""
    rows = []
    for run_id, folder in run_folders(recordings).items():
        data = read_run(folder)
        if data is not None:
            rows.append(row_of(run_id, data))
    oldest = datetime.min.replace(tzinfo=timezone.utc)
    rows.sort(key=lambda r: (r.started or oldest, r.run_id), reverse=True)
    return rows


def filtered(rows: list[RunRow], *, status: str = "", account: str = "") -> list[RunRow]:
    return [r for r in rows if (not status or r.status == status)
            and (not account or r.account == account)]


# --- the trend -------------------------------------------------------------------------

@dataclass
class DayPoint:
    day: str  # YYYY-MM-DD in the configured timezone
    unshipped: int | None
    buyer_messages: int | None
    run_id: str


def _zone(tz: str | None) -> tzinfo:
    if tz:
        return ZoneInfo(tz)
    local = datetime.now().astimezone().tzinfo
    return local if local is not None else timezone.utc


def trend(rows: list[RunRow], *, days: int = 14, tz: str | None = None,
          now: datetime | None = None) -> list[DayPoint]:
    """Unshipped and Buyer Messages per day for the last ``days`` days (the configured
    timezone's days), each from the day's last run that read them; one account (the newest
    run's) so that two sellers' figures never mix. Days without a run have no figures."""
    zone = _zone(tz)
    today = (now or datetime.now(timezone.utc)).astimezone(zone).date()
    first = today - timedelta(days=days - 1)
    account = rows[0].account if rows else ""
    last: dict[str, RunRow] = {}
    for row in sorted((r for r in rows if r.started and r.account == account),
                      key=lambda r: r.started or datetime.min.replace(tzinfo=timezone.utc)):
        assert row.started is not None
        day = row.started.astimezone(zone).date()
        if first <= day <= today and (row.unshipped is not None
                                      or row.buyer_messages is not None):
            last[day.isoformat()] = row
    points = []
    for i in range(days):
        name = (first + timedelta(days=i)).isoformat()
        found = last.get(name)
        points.append(DayPoint(name, found.unshipped if found else None,
                               found.buyer_messages if found else None,
                               found.run_id if found else ""))
    return points


@dataclass
class Chart:
    """The trend drawn as SVG coordinates (the template writes the elements)."""

    width: int
    height: int
    top: int
    bottom: int
    left: int
    maximum: int
    series: list[dict[str, Any]]
    labels: list[dict[str, Any]]
    empty: bool


def chart(points: list[DayPoint], width: int = 640, height: int = 180) -> Chart:
    """Coordinates for the two lines (split where a day has no figure), a dot per day with
    its numbers as a tooltip, and day labels."""
    left, right, top, bottom = 40, 12, 12, height - 28
    values = [v for p in points for v in (p.unshipped, p.buyer_messages) if v is not None]
    maximum = max([*values, 1])
    step = (width - left - right) / max(len(points) - 1, 1)

    def y(value: int) -> float:
        return round(bottom - (bottom - top) * value / maximum, 1)

    series = []
    for key, name, css in (("unshipped", "Unshipped", "unshipped"),
                           ("buyer_messages", "Buyer Messages", "messages")):
        segments: list[list[tuple[float, float]]] = [[]]
        dots = []
        for i, p in enumerate(points):
            value = getattr(p, key)
            if value is None:
                if segments[-1]:
                    segments.append([])
                continue
            x = round(left + i * step, 1)
            segments[-1].append((x, y(value)))
            dots.append({"x": x, "y": y(value), "title": f"{p.day}: {name} {value}"})
        lines = [" ".join(f"{x},{yy}" for x, yy in seg) for seg in segments if len(seg) > 1]
        series.append({"name": name, "css": css, "lines": lines, "dots": dots})
    labels = [{"x": round(left + i * step, 1), "text": p.day[5:]}
              for i, p in enumerate(points) if i % 2 == 0 or i == len(points) - 1]
    return Chart(width, height, top, bottom, left, maximum, series, labels, not values)


# --- one run ---------------------------------------------------------------------------

def file_url(run_id: str, rel: Any) -> str:
    """The console address of a file of a run folder (each path part quoted)."""
    parts = [quote(part, safe="") for part in str(rel).split("/")]
    return "/recordings/" + quote(run_id, safe="") + "/" + "/".join(parts)


def run_detail(recordings: Path, run_id: str) -> dict[str, Any] | None:
    """Everything the Run page shows, or None when ``run_id`` is not exactly the name of a
    run folder."""
    folder = run_folders(recordings).get(run_id)
    if folder is None:
        return None
    data = read_run(folder)
    if data is None:
        return None
    row = row_of(run_id, data)
    flows = []
    failures = []
    for name, flow in _dict(data.get("flows")).items():
        flow = _dict(flow)
        steps = []
        for step in _list(flow.get("steps")):
            step = _dict(step)
            shot = step.get("screenshot")
            extras = [file_url(run_id, e) for e in _list(step.get("extra_screenshots")) if e]
            entry = {"name": str(step.get("name") or ""), "outcome": str(step.get("outcome")
                                                                          or ""),
                     "error": str(step.get("error") or ""),
                     "seconds": step.get("seconds"),
                     "shot": file_url(run_id, shot) if shot else "", "extras": extras,
                     "flow": str(name)}
            steps.append(entry)
            if entry["outcome"] not in ("ok", "") or entry["error"]:
                failures.append(entry)
        flows.append({"name": str(name), "status": str(flow.get("status") or ""),
                      "attempts": flow.get("attempts"), "reason": str(flow.get("reason") or ""),
                      "steps": steps})
    threads = [{**_fields(t, *THREAD_KEYS), "shot": file_url(run_id, _dict(t)["screenshot"])
                if _dict(t).get("screenshot") else ""} for t in _list(data.get("threads"))]
    obs = _dict(data.get("observations"))
    perf = _dict(obs.get("performance"))
    downloads = sorted(p.name for p in folder.iterdir()
                       if p.is_file() and not p.is_symlink()
                       and (p.name.startswith("trace") and p.suffix == ".zip"
                            or p.name in ("run.json", "run.log", "report.html",
                                          "emails.jsonl")))
    escalations = _dict(data.get("escalations"))
    return {
        "id": run_id, "row": row, "data": data, "flows": flows, "failures": failures,
        "threads": threads,
        "emails": [_fields(e, *EMAIL_KEYS) for e in _list(data.get("emails"))],
        "errors": [_fields(e, *ERROR_KEYS) for e in _list(data.get("errors"))],
        "alerts": [_fields(a, *ALERT_KEYS) for a in _list(data.get("alerts"))],
        "undelivered": [_fields(u, *UNDELIVERED_KEYS) for u in _list(data.get("undelivered"))],
        "warnings": [str(w) for w in _list(data.get("warnings"))],
        "run_alert": _fields(data["run_alert"], *RUN_ALERT_KEYS)
        if _dict(data.get("run_alert")) else None,
        "escalation_events": {str(k): [str(c) for c in _list(v)]
                              for k, v in escalations.items()
                              if k not in ("still_open", "error")},
        "still_open": [_fields(e, *OPEN_KEYS) for e in _list(escalations.get("still_open"))],
        "escalation_error": str(escalations.get("error") or ""),
        "not_read": {str(k): str(v) for k, v in _dict(obs.get("not_read")).items()},
        "areas": [_fields(a, *AREA_KEYS) for a in _list(perf.get("areas"))],
        "snapshots": [{"page": str(_dict(k).get("page") or ""), "why": str(_dict(k).get("why")
                                                                       or ""),
                       "files": [{"name": str(f).rsplit("/", 1)[-1], "url": file_url(run_id, f)}
                                 for f in _list(_dict(k).get("files")) if f]}
                      for k in _list(obs.get("page_snapshots"))],
        "downloads": [{"name": n, "url": file_url(run_id, n)} for n in downloads],
    }


# --- health ----------------------------------------------------------------------------

def _age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


def _signin_of(row: RunRow) -> dict[str, Any]:
    """How the run signed in, from its login steps."""
    steps = [str(_dict(s).get("name") or "")
             for s in _list(_dict(_dict(row.data.get("flows")).get("login")).get("steps"))]
    status = str(_dict(_dict(row.data.get("flows")).get("login")).get("status") or "")
    stopped = next((s for s in steps if s.startswith("sign in: stopped")), "")
    if any(s.startswith(CODE_STEP) for s in steps):
        how = "signed in with the password and a one-time code"
    elif any(s.startswith(PASSWORD_STEPS) for s in steps):
        how = "signed in with the password (no code asked)"
    elif any(s.startswith("signed in by the VA") for s in steps):
        how = "signed in by the VA in a visible browser"
    else:
        how = "the saved sign-in was used (no password, no code)"
    return {"run_id": row.run_id, "when": row.started_text, "status": status,
            "code_needed": any(s.startswith(CODE_STEP) for s in steps), "how": how,
            "stopped": stopped}


def _next_runs(console: Console) -> tuple[list[dict[str, str]], str]:
    """The next scheduled runs (when in the schedule's timezone, account, flows), or why
    there are none to show."""
    from rpa.scheduling.cron import next_runs, zone

    cfg = console.config
    if not cfg.schedule:
        return [], "no schedule is configured (schedule: in the config)"
    tz = zone(cfg.timezone)
    out = []
    for slot in next_runs(cfg.schedule, tz, datetime.now(timezone.utc), 5):
        entry = slot.entry
        out.append({"when": slot.when.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z"),
                    "account": ("all accounts" if entry.all_accounts
                                else entry.account or cfg.accounts[0].name),
                    "flows": ", ".join(entry.flows) if entry.flows else "the routine",
                    "dry_run": "yes" if entry.dry_run else ""})
    return out, ""


def _undelivered_outbox(console: Console) -> list[dict[str, Any]] | None:
    """Outbox rows (texts per channel) not sent, with the account of the run that wrote
    them (None: no ledger yet)."""
    ledger = console.ledger()
    if ledger is None:
        return None
    try:
        return ledger.outbox_unsent(100)
    finally:
        ledger.close()


def health(console: Console) -> dict[str, Any]:
    """Per account: the last successful run, each flow's last run, the saved sign-in and
    the last run's undelivered texts; the ledger's unsent texts; the last selectors check;
    the next scheduled runs."""
    rows = list_runs(console.recordings)
    names = list(dict.fromkeys([*(a.name for a in console.config.accounts),
                                *(r.account for r in rows)]))
    accounts = []
    for name in names:
        mine = [r for r in rows if r.account == name]
        flows: dict[str, dict[str, str]] = {}
        for row in mine:  # newest first: the first run naming a flow is its last run
            for flow, result in _dict(row.data.get("flows")).items():
                if flow not in flows:
                    flows[flow] = {"status": str(_dict(result).get("status") or ""),
                                   "when": row.started_text, "run_id": row.run_id}
        written = saved_at(console.state_dir, name)  # the profile's cookies or state file
        saved = _age(time.time() - written) if written is not None else None
        login_run = next((r for r in mine if "login" in _dict(r.data.get("flows"))), None)
        accounts.append({
            "name": name,
            "last_ok": next((r for r in mine if r.status == "ok"), None),
            "last": mine[0] if mine else None,
            "flows": flows,
            "saved_age": saved,
            "signin": _signin_of(login_run) if login_run else None,
            "undelivered": [_fields(u, *UNDELIVERED_KEYS)
                            for u in _list(mine[0].data.get("undelivered"))]
            if mine else [],
        })
    selectors_run = next((r for r in rows
                          if isinstance(_dict(r.data.get("observations")).get("selectors"),
                                        list)), None)
    selectors = None
    if selectors_run is not None:
        found = [_list(x) + [None, None, None]
                 for x in _dict(selectors_run.data["observations"])["selectors"]]
        table = [{"key": str(x[0]), "page": str(x[1] or ""),
                  "resolved": str(x[2]) if x[2] else ""} for x in found]
        selectors = {"run_id": selectors_run.run_id, "when": selectors_run.started_text,
                     "rows": table, "missing": [t for t in table if not t["resolved"]]}
    next_runs, why_not = _next_runs(console)
    return {"accounts": accounts, "outbox": _undelivered_outbox(console),
            "selectors": selectors, "next_runs": next_runs, "next_runs_note": why_not,
            "timezone": console.config.timezone or "this machine's local time"}
