"""Many accounts in the terminal: ``rpa run --all`` (and ``rpa demo --accounts N``) as one
live line per account while the runs go, then a table of how each ended.

In a terminal the lines are redrawn in place (waiting, the step in progress and its time,
then the outcome); elsewhere (a log file, cron) each account gets a line when its run
starts and when it ends. The final table has one row per account: status, exit code, the
figures read, the buyer messages handled, the escalations opened and the duration; the
report of each run follows it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from rich import box
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from rpa.cli.common import console, err_console
from rpa.config import Config
from rpa.run.context import StepRecord
from rpa.run.fleet import Job, Outcome, run_many, worst_exit

COLOURS = {"ok": "green", "failed": "red", "crashed": "red", "error": "red", "ledger": "red",
           "config": "red", "needs_person": "yellow", "locked": "yellow"}


@dataclass
class _Line:
    account: str
    state: str = "waiting"  # waiting, running, done
    doing: str = ""
    started: float = 0.0
    outcome: Outcome | None = None
    steps: int = 0


@dataclass
class Board:
    """The live lines, one per account, fed by :func:`rpa.run.fleet.run_many`'s events
    (from its threads: every change is made under a lock)."""

    accounts: list[str]
    live: bool = False
    lines: dict[str, _Line] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.lines = {a: _Line(a) for a in self.accounts}

    def on_event(self, account: str, what: str, detail: Any) -> None:
        with self._lock:
            line = self.lines[account]
            if what == "start":
                line.state, line.started, line.doing = "running", time.monotonic(), "starting"
            elif what == "step":
                event, rec = detail
                assert isinstance(rec, StepRecord)
                line.doing = f"{rec.flow}: {rec.name}"
                if event == "end":
                    line.steps += 1
            elif what == "end":
                line.state, line.outcome = "done", detail
        if self.live:
            return
        if what == "start":
            console.print(f"{escape(account)}: started", highlight=False)
        elif what == "end":
            console.print(f"{escape(account)}: {_status(detail)} in {detail.seconds:.1f}s",
                          highlight=False, soft_wrap=True)

    def render(self) -> Table:
        table = Table(box=None, show_header=False, pad_edge=False)
        for _ in range(3):
            table.add_column()
        with self._lock:
            for line in self.lines.values():
                if line.outcome is not None:
                    table.add_row(escape(line.account), _status(line.outcome),
                                  f"{line.outcome.seconds:.1f}s")
                elif line.state == "running":
                    table.add_row(escape(line.account), escape(line.doing),
                                  f"{time.monotonic() - line.started:.0f}s")
                else:
                    table.add_row(escape(line.account), "[dim]waiting[/dim]", "")
        return table


def _status(outcome: Outcome) -> str:
    colour = COLOURS.get(outcome.status, "yellow")
    return f"[{colour}]{outcome.status}[/{colour}] (exit {outcome.exit_code})"


def run_all(cfg: Config, jobs: list[Job], *, concurrency: int,
            headed: bool = False) -> list[Outcome]:
    """Run ``jobs``, ``concurrency`` at a time, showing a live line per account."""
    board = Board([j.account for j in jobs], live=console.is_terminal)
    console.print(f"{len(jobs)} account(s), {concurrency} at a time", highlight=False)
    if not board.live:
        return run_many(cfg, jobs, concurrency=concurrency, headed=headed,
                        on_event=board.on_event)
    with Live(console=console, get_renderable=board.render, refresh_per_second=4):
        return run_many(cfg, jobs, concurrency=concurrency, headed=headed,
                        on_event=board.on_event)


def _figures(data: dict[str, Any]) -> tuple[str, str, str]:
    obs = data.get("observations") or {}
    perf = obs.get("performance") or {}
    not_read = obs.get("not_read") or {}

    def shown(key: str, value: object) -> str:
        if value is not None:
            return escape(str(value))
        return "[dim]not read[/dim]" if key in not_read else "-"

    return (shown("unshipped", obs.get("unshipped")),
            shown("performance", perf.get("label") if perf else None),
            shown("buyer_messages", obs.get("buyer_messages")))


# The final table's columns after the account's name; below WIDE columns of terminal,
# a few lines an account instead.
HEADINGS = ("status", "exit", "unshipped", "performance", "messages", "replied")
WIDE = 120


def _row(o: Outcome) -> dict[str, str]:
    data = o.result.data if o.result is not None else {}
    unshipped, performance, messages = _figures(data) if data else ("-", "-", "-")
    threads = data.get("threads") or []
    opened = (data.get("escalations") or {}).get("opened") or []
    return {"status": _status(o).rsplit(" (", 1)[0], "exit": str(o.exit_code),
            "unshipped": unshipped, "performance": performance, "messages": messages,
            "replied": (f"{sum(1 for t in threads if t.get('sent'))}/{len(threads)}"
                        if data else "-"),
            "opened": escape(", ".join(opened)) or "-", "time": f"{o.seconds:.1f}s"}


def print_outcomes(outcomes: list[Outcome], *, title: str = "Accounts") -> int:
    """The table of how each account's run ended, each report, and the worst exit code
    (returned, and said)."""
    # Into a log or a pipe (no terminal, so 80 columns assumed) the table has its own
    # width: a log line does not wrap. A terminal narrower than the table gets a few lines
    # an account instead: nothing cut short ("CAPO-…").
    out = console if console.is_terminal else Console(
        file=console.file, width=250, no_color=True, highlight=False)
    rows = [_row(o) for o in outcomes]
    if out.is_terminal and out.width < WIDE:
        out.print(f"[bold]{escape(title)}[/bold]")
        for o, row in zip(outcomes, rows, strict=True):
            out.print(f"[bold]{escape(o.account)}[/bold]  {row['status']} "
                      f"(exit {o.exit_code})  {row['time']}", highlight=False)
            out.print("  " + " · ".join(f"{k} {row[k]}" for k in HEADINGS[2:]),
                      highlight=False)
            out.print(f"  opened {row['opened']}", highlight=False)
    else:
        table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False)
        for col in ("account", *HEADINGS, "opened", "time"):
            table.add_column(col, no_wrap=col == "account")
        for o, row in zip(outcomes, rows, strict=True):
            table.add_row(escape(o.account), *(row[k] for k in (*HEADINGS, "opened", "time")))
        out.print(table)
    for o in outcomes:
        if o.result is not None:
            console.print(f"  {escape(o.account)}: {o.result.report}", highlight=False,
                          soft_wrap=True)
            for error in o.result.data.get("errors") or []:
                console.print(f"    [red]{escape(error['flow'])}[/red]: "
                              f"{escape(error['message'])}", soft_wrap=True)
        elif o.message:  # why it did not run: on stderr, as a single run says it
            colour = COLOURS.get(o.status, "yellow")
            err_console.print(f"[{colour}]{escape(o.account)}:[/{colour}] "
                              f"{escape(o.message)}", highlight=False, soft_wrap=True)
    code = worst_exit(o.exit_code for o in outcomes)
    console.print(f"Exit {code}: the worst of the accounts' (6 > 2 > 3 > 1 > 5 > 4 > 0)",
                  highlight=False)
    return code
