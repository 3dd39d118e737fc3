"""The ``rpa`` command.

Exit codes: 0 ok, 1 a flow failed, 2 bad configuration, 3 a person is needed,
4 another run for the same account is in progress, 5 finished but a text to the owner
was not delivered, 6 the ledger is corrupt or lost (restore it: rpa ledger restore).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from rpa import logs
from rpa.config import (
    DEFAULT_CONFIG,
    AccountConfig,
    Config,
    load_config,
    needed_secrets,
    redacted_summary,
)
from rpa.errors import ConfigError, RunLocked
from rpa.ledger import LedgerBroken
from rpa.run.orchestrator import EXIT_CONFIG, EXIT_LEDGER, EXIT_LOCKED, RunResult, run

HELP = __doc__
app = typer.Typer(help=HELP, no_args_is_help=True, add_completion=False)
selectors_app = typer.Typer(help="Check selectors.yaml against the pages.")
config_app = typer.Typer(help="Check the configuration file.")
app.add_typer(selectors_app, name="selectors")
app.add_typer(config_app, name="config")
ledger_app = typer.Typer(help="Restore or list backups of the ledger (state/ledger.sqlite).")
app.add_typer(ledger_app, name="ledger")
console = Console()
err_console = Console(stderr=True)

ConfigOpt = typer.Option(Path(DEFAULT_CONFIG), "--config", "-c", help="configuration file")
AccountOpt = typer.Option(None, "--account", "-a", help="account name (default: the first)")


def _load(path: Path) -> Config:
    try:
        return load_config(path)
    except ConfigError as err:
        err_console.print(f"[red]configuration error:[/red] {err}")
        raise typer.Exit(EXIT_CONFIG) from err


def _show_step(event: str, rec: Any) -> None:
    if event == "end":
        colour = {"ok": "green", "failed": "red"}.get(rec.outcome, "yellow")
        console.print(f"  [{colour}]{rec.outcome:>6}[/{colour}]  {rec.flow}: {rec.name}"
                      f"  [dim]{rec.seconds:.1f}s[/dim]")


def _execute(cfg: Config, **kwargs: Any) -> RunResult:
    try:
        return run(cfg, on_step=_show_step, **kwargs)
    except ConfigError as err:
        err_console.print(f"[red]configuration error:[/red] {err}")
        raise typer.Exit(EXIT_CONFIG) from err
    except RunLocked as err:
        err_console.print(f"[yellow]{err}[/yellow]")
        raise typer.Exit(EXIT_LOCKED) from err
    except LedgerBroken as err:
        err_console.print(f"[red]ledger error:[/red] {escape(str(err))}", soft_wrap=True)
        raise typer.Exit(EXIT_LEDGER) from err


# A dry run's emails shown in the terminal, those that need a person first: a table of
# 500 took the terminal 2.9 s to lay out, more than the triage of 10,000 mails; the report
# and emails.jsonl hold the rest.
TERMINAL_EMAILS = 50


def print_summary(result: RunResult, *, alerts: bool = True) -> None:
    """The run's findings as a table, then the alerts and the report path."""
    obs = result.data["observations"]
    perf = obs.get("performance") or {}
    table = Table(title=f"Run {result.data['run_id']}: {result.status}")
    table.add_column("What")
    table.add_column("Found")
    not_read = obs.get("not_read") or {}

    def shown(key: str, value: object) -> str:
        why = not_read.get(key)
        if value is not None:
            return escape(str(value))
        return escape(f"not read: {why}" if why else "not read")

    table.add_row("Unshipped", shown("unshipped", obs.get("unshipped")))
    table.add_row("Seller Performance",
                  shown("performance",
                        f"{perf.get('label')} ({perf.get('status')})" if perf else None))
    for area in perf.get("areas") or []:
        table.add_row("  not Good", f"{area['name']}: {area['value']} (target {area['target']})")
    table.add_row("Buyer Messages", shown("buyer_messages", obs.get("buyer_messages")))
    for name, flow in result.data["flows"].items():
        table.add_row(f"flow {name}", flow["status"])
    console.print(table)
    threads = result.data.get("threads") or []
    if threads:
        tt = Table(title="Buyer messages")
        for col in ("thread", "buyer", "decision", "sent", "escalation"):
            tt.add_column(col)
        for t in threads:
            tt.add_row(t["thread_id"], t["buyer"], t["decision"], "yes" if t["sent"] else "no",
                       t["escalation"] or "")
        console.print(tt)
    folders = result.data.get("email_folders") or {}
    if folders:
        mt = Table(title="Mailbox")
        for col in ("folder", "messages", "to Trash", "buyer emails", "escalated (new)",
                    "already escalated", "owner"):
            mt.add_column(col)
        for name, c in folders.items():
            mt.add_row(name, str(c.get("total", 0)), str(c.get("to_trash", 0)),
                       str(c.get("buyer_message", 0)), str(c.get("escalated", 0)),
                       str(c.get("already_escalated", 0)), str(c.get("owner_reply", 0)))
        console.print(mt)
    if result.data.get("dry_run") and result.data.get("emails"):
        et = Table(title="Emails: what would be done (dry run, nothing changed)")
        for col in ("folder", "from", "subject", "rule", "action", "note"):
            et.add_column(col)
        emails = result.data["emails"]
        for e in emails[:TERMINAL_EMAILS]:
            et.add_row(e["folder"], e["from"], e["subject"], e["rule"], e["action"],
                       e.get("note") or e.get("summary") or "")
        console.print(et)
        total = result.data.get("emails_total") or len(emails)
        if total > TERMINAL_EMAILS:
            where = (result.folder / result.data["emails_file"] if result.data.get("emails_file")
                     else result.report)
            console.print(f"{min(len(emails), TERMINAL_EMAILS)} of {total} emails listed here, "
                          f"those that need a person first; all in {where}", highlight=False)
    escs = result.data.get("escalations") or {}
    did = [f"{name.replace('_', ' ')} {', '.join(codes)}" for name, codes in escs.items()
           if name not in ("still_open", "error") and codes]
    if did or escs.get("still_open"):
        still = escs.get("still_open") or []
        console.print("[bold]Escalations:[/bold] " + escape("; ".join(did) or "nothing new")
                      + f" — {len(still)} still open"
                      + (f" ({', '.join(e['code'] + ' ' + e['state'] for e in still[:8])}"
                         + (", …" if len(still) > 8 else "") + ")" if still else ""),
                      highlight=False, soft_wrap=True)
    for alert in result.data.get("alerts", []) if alerts else []:
        mark = "sent" if alert["delivered"] else "NOT delivered"
        text = alert["text"].splitlines()[0] if alert["text"] else ""
        more = " […]" if "\n" in alert["text"] else ""
        console.print(f"[bold]alert ({alert['channel']}, {mark}):[/bold] {escape(text)}{more}")
    for error in result.data.get("errors", []):
        console.print(f"[red]{error['flow']}[/red]: {escape(error['message'])}")
    console.print(f"Report: {result.report}")


@app.command("run")
def run_cmd(config: Path = ConfigOpt, account: Optional[str] = AccountOpt,  # noqa: UP045
            flow: Optional[list[str]] = typer.Option(None, "--flow", "-f",  # noqa: UP045
                                                     help="run only this flow (repeatable)"),
            headed: bool = typer.Option(False, "--headed", help="show the browser"),
            slow_mo: int = typer.Option(0, "--slow-mo", help="slow each action by N ms"),
            dry_run: bool = typer.Option(False, "--dry-run", help="decide, send nothing"),
            verbose: bool = typer.Option(False, "--verbose", "-v")) -> None:
    """Run the daily routine (or the named flows) for one account."""
    logs.setup(verbose)
    cfg = _load(config)
    if slow_mo:
        cfg.browser.slow_mo_ms = slow_mo
    result = _execute(cfg, account=account, flows=flow or None, dry_run=dry_run, headed=headed)
    print_summary(result)
    raise typer.Exit(result.exit_code)


@app.command("login")
def login_cmd(config: Path = ConfigOpt, account: Optional[str] = AccountOpt,  # noqa: UP045
              headed: bool = typer.Option(False, "--headed",
                                          help="visible browser; the VA can finish by hand"),
              verbose: bool = typer.Option(False, "--verbose", "-v")) -> None:
    """Sign in and save the browser state for later headless runs."""
    logs.setup(verbose)
    cfg = _load(config)
    result = _execute(cfg, account=account, flows=["login"], headed=headed, assist=headed)
    print_summary(result)
    raise typer.Exit(result.exit_code)


@app.command("demo")
def demo_cmd(scenario: str = typer.Option("at-risk", "--scenario", "-s"),
             headed: bool = typer.Option(False, "--headed"),
             home: Path = typer.Option(Path("demo"), "--folder",
                                       help="where demos keep their state and recordings, "
                                            "one folder each (FOLDER/latest: the newest)"),
             verbose: bool = typer.Option(False, "--verbose", "-v")) -> None:
    """Run the routine against the bundled sandbox, in a fresh demo folder."""
    from rpa.practice.demo import run_demo
    from rpa.practice.sandbox import ScenarioError

    logs.setup(verbose)
    try:
        result, received, mail_skipped, loop, folder = run_demo(
            scenario, headed=headed, home=home, on_step=_show_step)
    except ScenarioError as err:  # an unknown or invalid scenario, named with its key
        err_console.print(f"[red]scenario error:[/red] {escape(str(err))}", soft_wrap=True)
        raise typer.Exit(EXIT_CONFIG) from None
    print_summary(result, alerts=False)
    if mail_skipped:
        console.print(f"[yellow]Mailbox skipped:[/yellow] {escape(mail_skipped)}")
    if received:
        console.print("[bold]Texts the owner would have received:[/bold]")
        for channel, text in received:
            first = text.splitlines()[0] if text else ""
            more = " […]" if "\n" in text else ""
            console.print(f"  {escape(f'[{channel}]')} {escape(first)}{more}")
    if loop:
        console.print("[bold]The loop closed (the owner answers, the bot delivers):[/bold]")
        for line in loop:
            console.print(f"  {escape(line)}", highlight=False, soft_wrap=True)
    console.print(f"This demo's state and recordings: {folder} ({home / 'latest'} is the "
                  "newest demo; each demo starts afresh)", highlight=False, soft_wrap=True)
    look = "" if home == Path("demo") else f" --folder {home}"
    console.print(f"Look at it in the console: .venv/bin/rpa console --demo{look}",
                  highlight=False, soft_wrap=True)
    raise typer.Exit(result.exit_code)


@app.command("sandbox")
def sandbox_cmd(scenario: str = typer.Option(
                    "healthy", "--scenario", "-s",
                    help="a bundled scenario (an unknown name lists them) or a YAML file"),
                port: int = typer.Option(8321, "--port", "-p"),
                host: str = typer.Option("127.0.0.1", "--host")) -> None:
    """Serve the practice Seller Central until Ctrl-C."""
    import threading

    from rpa.practice.demo import scenario_login
    from rpa.practice.sandbox import SandboxServer, ScenarioError

    try:
        server = SandboxServer(scenario, host=host, port=port)
    except ScenarioError as err:  # an unknown or invalid scenario, named with its key
        err_console.print(f"[red]scenario error:[/red] {escape(str(err))}", soft_wrap=True)
        raise typer.Exit(2) from None
    server.start()
    login = scenario_login(server)
    console.print(f"Sandbox Seller Central ({scenario}) at {server.url}")
    console.print(f"  email:       {login['email']}")
    console.print(f"  password:    {login['password']}")
    console.print(f"  TOTP secret: {login['totp_secret']}  (practice only)")
    console.print("Press Ctrl-C to stop.")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


@app.command("flows")
def flows_cmd() -> None:
    """List the flows and what each needs."""
    from rpa.run.registry import load_flows

    table = Table(title="Flows")
    for col in ("name", "needs", "what it does"):
        table.add_column(col)
    for fl in load_flows().values():
        table.add_row(fl.name, ", ".join(fl.needs) or "-", fl.summary)
    console.print(table)


@config_app.command("check")
def config_check(config: Path = ConfigOpt) -> None:
    """Validate the configuration, show it with secrets redacted, and say which flows can
    run with the secrets set now (exit 2 when one in ``flows`` cannot)."""
    cfg = _load(config)
    console.print_json(json.dumps(redacted_summary(cfg)))
    blocked: list[str] = []
    for acc in cfg.accounts:
        console.print(f"Account '{escape(acc.name)}': flows with the secrets set now "
                      "(* = in the configured flows)", soft_wrap=True)
        stopped: dict[str, list[str]] = {}  # problem -> configured flows it stops
        for name, problems in runnable_flows(cfg, acc).items():
            mark = "*" if name in cfg.flows else " "
            state = "runnable" if not problems else "NOT runnable: " + "; ".join(problems)
            if name == "mailbox" and cfg.mailbox is None and not problems:
                state = "runnable (no mailbox configured: it skips itself)"
            console.print(f"  {mark} {name:<16} {escape(state)}", highlight=False,
                          soft_wrap=True)
            for problem in problems if name in cfg.flows else []:
                if not problem.startswith("needs "):  # the cause is named at its own flow
                    stopped.setdefault(problem, []).append(name)
        blocked += [f"account '{acc.name}': {problem} (stops {', '.join(names)} and the "
                    "flows that need it)" for problem, names in stopped.items()]
    mb = cfg.mailbox
    if mb is not None and mb.authentication == "required" and not mb.authserv_id:
        # Without the id, the topmost Authentication-Results header is believed; on a server
        # that adds none, that is whatever the sender wrote ("dmarc=pass").
        err_console.print("[yellow]warning:[/yellow] mailbox.authentication is 'required' "
                          "but mailbox.authserv_id is not set: set it to the id your mail "
                          "server writes in Authentication-Results, or a sender's own "
                          "forged header could be believed", soft_wrap=True)
    if blocked:
        for line in blocked:
            err_console.print(f"[red]configuration error:[/red] {escape(line)}",
                              soft_wrap=True)
        raise typer.Exit(EXIT_CONFIG)
    console.print("[green]configuration OK[/green]")


def runnable_flows(cfg: Config, acc: AccountConfig) -> dict[str, list[str]]:
    """Each registered flow, needed ones first -> what keeps it from running now (empty:
    it can run). A flow needs its own secrets, the owner's channels and the flows it needs.
    """
    from rpa.otp import secret_problem
    from rpa.run.registry import load_flows, plan

    known = load_flows()
    out: dict[str, list[str]] = {}
    for fl in plan([*cfg.flows, *sorted(set(known) - set(cfg.flows))]):
        needed = needed_secrets(cfg, acc, [fl.name])
        problems = [f"{var} is not set ({key})" for var, key in needed.values()
                    if not os.environ.get(var)]
        if "totp_secret" in needed:
            var, key = needed["totp_secret"]
            why = secret_problem(os.environ[var]) if os.environ.get(var) else None
            if why:
                problems.append(f"{var} ({key}) is not a usable TOTP secret: {why}")
        problems += [f"needs {need}, which cannot run" for need in fl.needs if out.get(need)]
        out[fl.name] = problems
    return out


@selectors_app.command("check")
def selectors_check(config: Path = ConfigOpt, account: Optional[str] = AccountOpt,  # noqa: UP045
                    headed: bool = typer.Option(False, "--headed")) -> None:
    """Sign in, open the pages and report which candidate resolves each key."""
    logs.setup(False)
    cfg = _load(config)
    try:
        result = run(cfg, account=account, flows=["selectors_check"], headed=headed)
        rows = result.data["observations"].get("selectors") or []
    except ConfigError as err:
        err_console.print(f"[red]configuration error:[/red] {err}")
        raise typer.Exit(EXIT_CONFIG) from err
    table = Table(title="selectors.yaml")
    for col in ("key", "page", "resolved by"):
        table.add_column(col)
    missing = 0
    for key, page, how in rows:
        table.add_row(key, page, how or "[red]nothing[/red]")
        missing += how is None
    console.print(table)
    raise typer.Exit(1 if missing else 0)


@ledger_app.command("restore")
def ledger_restore(config: Path = ConfigOpt,
                   source: Optional[Path] = typer.Option(  # noqa: UP045
                       None, "--from", help="a backup file (default: the newest)")) -> None:
    """Put the newest ledger backup (or --from FILE) in place of the ledger; the file it
    replaces is kept beside it as ledger.sqlite.broken-<time>."""
    from rpa.ledger import restore

    cfg = _load(config)
    path = Path(cfg.paths.state_dir) / "ledger.sqlite"
    try:
        used, aside = restore(path, source)
    except (FileNotFoundError, ValueError) as err:
        err_console.print(f"[red]restore failed:[/red] {escape(str(err))}", soft_wrap=True)
        raise typer.Exit(1) from err
    console.print(f"ledger restored from {used}", soft_wrap=True, highlight=False)
    if aside is not None:
        console.print(f"the file it replaced is kept as {aside}", soft_wrap=True,
                      highlight=False)


@ledger_app.command("new")
def ledger_new(config: Path = ConfigOpt) -> None:
    """Start an empty ledger when the old one is lost or broken and no backup is left (a
    lost state folder): escalation codes go on after the last run.json's count, and a file
    in the way is kept beside it as ledger.sqlite.broken-<time>. With a backup, use
    `rpa ledger restore`."""
    from datetime import datetime, timezone

    from rpa.ledger import Ledger, backups, quick_check

    cfg = _load(config)
    path = Path(cfg.paths.state_dir) / "ledger.sqlite"
    found = backups(path.parent)
    if found:
        err_console.print(f"[red]not started:[/red] a backup exists ({escape(found[-1].name)});"
                          " restore it with `rpa ledger restore`", soft_wrap=True)
        raise typer.Exit(1)
    if path.exists() and path.stat().st_size and quick_check(path) == "ok":
        err_console.print(f"[red]not started:[/red] {escape(str(path))} is a sound ledger",
                          soft_wrap=True)
        raise typer.Exit(1)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    for suffix in ("", "-wal", "-shm"):
        current = path.with_name(path.name + suffix)
        if current.exists():
            kept = current.with_name(f"{path.name}.broken-{stamp}{suffix}")
            current.replace(kept)
            console.print(f"the file in the way is kept as {kept}", soft_wrap=True,
                          highlight=False)
    ledger = Ledger(path, code_floor=_recorded_counter(Path(cfg.paths.recordings_dir)))
    try:
        floor = ledger.escalation_counter()
        if floor:
            ledger._write_counter(floor)  # kept beside the ledger: codes never go back
    finally:
        ledger.close()
    console.print(f"new ledger at {path}; escalation codes go on after number {floor}; "
                  "earlier escalations are unknown to it", soft_wrap=True, highlight=False)


def _recorded_counter(recordings: Path) -> int:
    """The highest escalation count any run.json in ``recordings`` names (0 for none)."""
    top = 0
    for found in recordings.glob("*/run.json") if recordings.is_dir() else []:
        try:
            top = max(top, int(json.loads(found.read_text()).get("escalation_counter") or 0))
        except (OSError, ValueError, TypeError, AttributeError):
            continue
    return top


@ledger_app.command("backups")
def ledger_backups(config: Path = ConfigOpt) -> None:
    """List the ledger backups, newest last (one is made after every successful run)."""
    from rpa.ledger import backups

    cfg = _load(config)
    found = backups(Path(cfg.paths.state_dir))
    if not found:
        console.print("no ledger backups yet")
    for path in found:
        console.print(f"{path}  {path.stat().st_size} bytes", soft_wrap=True, highlight=False)


escalations_app = typer.Typer(help="The owner's escalations (B/R/E codes) and their state.")
app.add_typer(escalations_app, name="escalations")


def _age(created: str) -> str:
    from datetime import datetime, timezone

    at = datetime.fromisoformat(created)
    at = at if at.tzinfo is not None else at.replace(tzinfo=timezone.utc)
    minutes = max(int((datetime.now(timezone.utc) - at).total_seconds() // 60), 0)
    days, hours = minutes // 1440, minutes % 1440 // 60
    return f"{days}d {hours}h" if days else f"{hours}h" if hours else f"{minutes}m"


def _open_ledger(cfg: Config) -> Any:
    """The run ledger, or None when no run has made one yet (never created here)."""
    from rpa.ledger import Ledger

    path = Path(cfg.paths.state_dir) / "ledger.sqlite"
    return Ledger(path) if path.is_file() and path.stat().st_size else None


@escalations_app.callback(invoke_without_command=True)
def escalations_cmd(ctx: typer.Context, config: Path = ConfigOpt,
                    account: Optional[str] = AccountOpt,  # noqa: UP045
                    every: bool = typer.Option(False, "--all",
                                               help="also those answered, closed, expired")
                    ) -> None:
    """List the escalations still waiting for the owner, or answered and waiting for
    delivery (code, age, state, kind, summary); --all lists every one.
    `rpa escalations show CODE` prints one whole."""
    if ctx.invoked_subcommand is not None:
        return
    from rpa.ledger import WAITING_STATES

    cfg = _load(config)
    name = cfg.account(account).name if account else None
    ledger = _open_ledger(cfg)
    # Not yet done with: waiting for the owner, or answered and waiting for delivery.
    rows = (ledger.escalations(name, states=None if every else (*WAITING_STATES, "answered"))
            if ledger is not None else [])
    if ledger is not None:
        ledger.close()
    if not rows:
        console.print("no escalations" if every else "no escalations waiting for the owner")
        return
    table = Table(title="Escalations" if every
                  else "Escalations waiting for the owner or for delivery")
    for col in ("code", "age", "state", "kind", "summary"):
        table.add_column(col, overflow="fold")
    for esc in rows:
        table.add_row(esc["code"], _age(esc["created_at"]), esc["status"], esc["kind"],
                      escape(str(esc["summary"])))
    console.print(table)


@escalations_app.command("show")
def escalations_show(code: str = typer.Argument(..., help="the code, e.g. E004"),
                     config: Path = ConfigOpt) -> None:
    """Print one escalation whole: every field, its state's times and its deliveries."""
    cfg = _load(config)
    ledger = _open_ledger(cfg)
    esc = ledger.escalation(code.strip().upper()) if ledger is not None else None
    deliveries = ledger.deliveries(esc["code"]) if esc is not None else []
    history = ledger.events(esc["code"]) if esc is not None else []
    if ledger is not None:
        ledger.close()
    if esc is None:
        where = Path(cfg.paths.state_dir) / "ledger.sqlite"
        err_console.print(f"[red]unknown escalation:[/red] no escalation {escape(code)} in "
                          f"the ledger {where} (list them with `rpa escalations --all`)",
                          soft_wrap=True)
        raise typer.Exit(EXIT_CONFIG)
    for key in ("code", "status", "kind", "account", "buyer", "order_id", "url", "source_key",
                "run_id", "created_at", "notified_at", "reminded_at", "escalated_further_at",
                "answered_at", "answer_via", "answer_by", "answer_ref", "delivery_state",
                "delivery_error", "delivery_attempts", "delivered_at", "closed_at",
                "expired_at"):
        value = esc.get(key)
        if value not in (None, ""):
            console.print(f"{key + ':':<22}{escape(str(value))}", highlight=False,
                          soft_wrap=True)
    for key in ("summary", "short", "details", "answer"):
        if esc.get(key):
            console.print(f"{key}:", highlight=False)
            console.print(escape(str(esc[key])), highlight=False, soft_wrap=True)
    console.print("deliveries:" if deliveries else "deliveries: none recorded",
                  highlight=False)
    for d in deliveries:
        console.print(f"  {d['key']:<16} {d['channel']:<12} {d['state']:<8} "
                      f"attempts {d['attempts']}  {d['updated_at']}", highlight=False,
                      soft_wrap=True)
    console.print("history:" if history else "history: none recorded", highlight=False)
    for ev in history:
        console.print(f"  {ev['at']}  {ev['event']:<18} {escape(str(ev['detail']))}"
                      + (f"  (run {ev['run_id']})" if ev["run_id"] else ""),
                      highlight=False, soft_wrap=True)


@app.command("answer")
def answer_cmd(code: str = typer.Argument(..., help="the code the owner answered, e.g. B004"),
               text: Optional[str] = typer.Argument(  # noqa: UP045
                   None, help="the owner's answer (or --file)"),
               file: Optional[Path] = typer.Option(  # noqa: UP045
                   None, "--file", "-f", help="read the answer from this file ('-': stdin)"),
               by: str = typer.Option("", "--by", help="who gave the answer (default: the VA)"),
               later: bool = typer.Option(False, "--later",
                                          help="only record it; the next run delivers it"),
               config: Path = ConfigOpt,
               verbose: bool = typer.Option(False, "--verbose", "-v")) -> None:
    """Give the owner's answer to an escalation (got by phone or chat): it is checked,
    recorded, and delivered at once (to the buyer's thread, or by email to the sender);
    a finding is acknowledged. Unknown or closed codes are refused."""
    from rpa.owner.answers import DELIVERY_FLOWS, AnswerError, submit

    logs.setup(verbose)
    cfg = _load(config)
    if (text is None) == (file is None):
        err_console.print("[red]answer:[/red] give the answer as text or with --file, "
                          "not both and not neither", soft_wrap=True)
        raise typer.Exit(EXIT_CONFIG)
    if file is not None:
        try:
            body = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            err_console.print(f"[red]answer:[/red] cannot read {escape(str(file))}: "
                              f"{escape(str(err))}", soft_wrap=True)
            raise typer.Exit(EXIT_CONFIG) from err
    else:
        body = text or ""
    ledger = _open_ledger(cfg)
    if ledger is None:
        where = Path(cfg.paths.state_dir) / "ledger.sqlite"
        err_console.print(f"[red]answer:[/red] no ledger at {where}: no escalation to "
                          "answer yet", soft_wrap=True)
        raise typer.Exit(EXIT_CONFIG)
    try:
        outcome = submit(ledger, cfg, code, body, via="cli", by=by or cfg.va.full_name)
    except AnswerError as err:
        err_console.print(f"[red]answer refused:[/red] {escape(str(err))}", soft_wrap=True)
        raise typer.Exit(EXIT_CONFIG) from err
    finally:
        ledger.close()
    if not outcome.accepted:
        err_console.print(f"[red]answer NOT taken:[/red] {outcome.code} goes to a buyer and "
                          f"the text breaks Amazon's messaging rules ({escape(outcome.problems)}"
                          "). Nothing was sent; give a corrected answer.", soft_wrap=True)
        raise typer.Exit(EXIT_CONFIG)
    if outcome.status == "closed":
        console.print(f"{outcome.code} acknowledged and closed.", highlight=False)
        return
    flow_name = DELIVERY_FLOWS[outcome.kind]
    console.print(f"{outcome.code}: answer recorded; it goes to "
                  + ("the buyer's Seller Central thread" if flow_name == "answers"
                     else "the sender by email") + ".", highlight=False)
    if later:
        console.print("Delivered by the next run (--later).", highlight=False)
        return
    account = (outcome.escalation or {}).get("account")
    result = _execute(cfg, account=account, flows=[flow_name])
    print_summary(result)
    raise typer.Exit(result.exit_code)


@app.command("followups")
def followups_cmd(config: Path = ConfigOpt, account: Optional[str] = AccountOpt,  # noqa: UP045
                  dry_run: bool = typer.Option(False, "--dry-run", help="decide, send nothing"),
                  verbose: bool = typer.Option(False, "--verbose", "-v")) -> None:
    """Remind the owner of unanswered escalations (the followups flow alone; no browser)."""
    logs.setup(verbose)
    cfg = _load(config)
    result = _execute(cfg, account=account, flows=["followups"], dry_run=dry_run)
    print_summary(result)
    raise typer.Exit(result.exit_code)


def _scheduled(cfg: Config) -> Any:
    """A Scheduler for ``cfg``; a config without a schedule is refused (exit 2)."""
    from rpa.scheduling.scheduler import Scheduler

    if not cfg.schedule:
        err_console.print("[red]configuration error:[/red] schedule: is empty; add entries "
                          "such as {cron: \"0 8,13,18 * * 1-6\"} (see the README's Schedule)",
                          soft_wrap=True)
        raise typer.Exit(EXIT_CONFIG)
    return Scheduler(cfg)


@app.command("schedule")
def schedule_cmd(config: Path = ConfigOpt,
                 once: bool = typer.Option(False, "--once",
                                           help="run what is due now and exit (for cron)"),
                 list_: bool = typer.Option(False, "--list", help="print the next runs"),
                 count: int = typer.Option(10, "--count", "-n", help="how many for --list"),
                 verbose: bool = typer.Option(False, "--verbose", "-v")) -> None:
    """Run the config's schedule: waits for each cron slot (Ctrl-C or SIGTERM stops it once
    the run in progress ends), or --once, or --list."""
    import threading

    from rpa.scheduling.scheduler import stop_on_signals

    logs.setup(verbose)
    cfg = _load(config)
    sched = _scheduled(cfg)
    if list_:
        for when, account, flows in sched.next_due(count):
            console.print(f"{when:%a %Y-%m-%d %H:%M %Z}  {escape(account)}  "
                          f"{escape(', '.join(flows))}", highlight=False, soft_wrap=True)
        return
    stop = threading.Event()
    with stop_on_signals(stop):
        if once:
            sched.stop_event = stop
            fired = sched.tick()
            for f in fired:
                console.print(f"{escape(f.account)}: {f.status} {f.run_id or ''} "
                              f"{escape(f.note)}", highlight=False)
            if not fired:
                console.print("nothing due", highlight=False)
            bad = [f for f in fired if f.status not in ("ok", "skipped", "locked")]
            raise typer.Exit(1 if bad else 0)
        sched.run_forever(stop)


@app.command("serve")
def serve_cmd(config: Path = ConfigOpt,
              host: Optional[str] = typer.Option(  # noqa: UP045
                  None, "--host", help="address to listen on (default: console.host)"),
              port: Optional[int] = typer.Option(  # noqa: UP045
                  None, "--port", help="port (default: console.port)"),
              verbose: bool = typer.Option(False, "--verbose", "-v")) -> None:
    """The console and the schedule in one process: the scheduler in a thread, the console
    in front; stopping waits for a scheduled run in progress to finish."""
    import threading

    from rpa.console.app import serve
    from rpa.scheduling.scheduler import stop_on_signals

    logs.setup(verbose)
    cfg = _load(config)
    sched = _scheduled(cfg)
    if not cfg.console.users:
        err_console.print("[red]serve:[/red] no user may sign in to the console yet; add one "
                          "with `rpa console add-user NAME --role owner`", soft_wrap=True)
        raise typer.Exit(EXIT_CONFIG)
    stop = threading.Event()
    worker = threading.Thread(target=sched.run_forever, args=(stop,), name="scheduler",
                              daemon=True)
    where = f"http://{host or cfg.console.host}:{port or cfg.console.port}/"
    console.print(f"Console at {where}, schedule running (Ctrl-C stops both)",
                  highlight=False)
    # uvicorn hands the stop signal back to this handler when it has shut down.
    with stop_on_signals(stop):
        worker.start()
        try:
            serve(cfg, host, port)
        finally:
            stop.set()
            if worker.is_alive():
                console.print("waiting for the scheduled run in progress to finish…",
                              highlight=False)
            worker.join()


console_app = typer.Typer(help="The web console: runs, escalations, run now, health.")
app.add_typer(console_app, name="console")


@console_app.callback(invoke_without_command=True)
def console_cmd(ctx: typer.Context, config: Path = ConfigOpt,
                host: Optional[str] = typer.Option(  # noqa: UP045
                    None, "--host", help="address to listen on (default: console.host)"),
                port: Optional[int] = typer.Option(  # noqa: UP045
                    None, "--port", help="port (default: console.port)"),
                demo: bool = typer.Option(False, "--demo",
                                          help="look at the newest demo: no config needed, "
                                               "a one-time viewer password, this machine only"),
                home: Path = typer.Option(Path("demo"), "--folder",
                                          help="with --demo: the demos' folder (rpa demo "
                                               "--folder)")
                ) -> None:
    """Serve the console (127.0.0.1:8765 unless configured or told otherwise)."""
    if ctx.invoked_subcommand is not None:
        return

    from rpa.config import is_loopback
    from rpa.console.app import serve

    logs.setup(False)
    if demo:
        from rpa.practice.demo import demo_console_config, latest_demo

        if host is not None and not is_loopback(host):
            err_console.print("[red]console:[/red] --demo serves this machine only "
                              "(127.0.0.1)", soft_wrap=True)
            raise typer.Exit(EXIT_CONFIG)
        folder = latest_demo(home)
        if folder is None:
            err_console.print(f"[red]console:[/red] no demo has run in {escape(str(home))} "
                              "yet: `make demo` (or `rpa demo`) first", soft_wrap=True)
            raise typer.Exit(EXIT_CONFIG)
        cfg, user, password = demo_console_config(folder)
        where = f"http://{host or cfg.console.host}:{port or cfg.console.port}/"
        console.print(f"Console at {where} for the demo in {folder} — sign in as '{user}' "
                      f"with the one-time password {password} (Ctrl-C stops it)",
                      highlight=False, soft_wrap=True)
        serve(cfg, host, port)
        return
    cfg = _load(config)
    if not cfg.console.users:
        err_console.print("[red]console:[/red] no user may sign in yet; add one with "
                          "`rpa console add-user NAME --role owner`", soft_wrap=True)
        raise typer.Exit(EXIT_CONFIG)
    where = f"http://{host or cfg.console.host}:{port or cfg.console.port}/"
    console.print(f"Console at {where} (Ctrl-C stops it)", highlight=False)
    serve(cfg, host, port)


@console_app.command("add-user")
def console_add_user(name: str = typer.Argument(..., help="the user name to sign in with"),
                     role: str = typer.Option(..., "--role", "-r",
                                              help="viewer, va or owner"),
                     password_stdin: bool = typer.Option(
                         False, "--password-stdin", help="read the password from stdin"),
                     write: bool = typer.Option(
                         False, "--write", help="add the user to the config file"),
                     config: Path = ConfigOpt) -> None:
    """Make a console user: asks for the password twice and prints the entry to paste
    under console.users (only the Argon2 hash; never the password), or adds it with
    --write."""
    from pydantic import ValidationError

    from rpa.config import ConsoleUserConfig
    from rpa.console.app import add_user_to_file, user_yaml
    from rpa.console.web import hash_password

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        import getpass

        password = getpass.getpass(f"Password for {name}: ")
        if getpass.getpass("Again: ") != password:
            err_console.print("[red]add-user:[/red] the two passwords differ", soft_wrap=True)
            raise typer.Exit(EXIT_CONFIG)
    try:
        entry = ConsoleUserConfig(name=name, role=role,  # type: ignore[arg-type]
                                  password_hash=hash_password(password))
    except ValidationError as err:
        why = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
        err_console.print(f"[red]add-user:[/red] {escape(why)}", soft_wrap=True)
        raise typer.Exit(EXIT_CONFIG) from err
    except ValueError as err:  # the password is too short
        err_console.print(f"[red]add-user:[/red] {escape(str(err))}", soft_wrap=True)
        raise typer.Exit(EXIT_CONFIG) from err
    if not write:
        console.print("Put this under console.users in the config:\n", highlight=False)
        console.print(escape(user_yaml(entry)), highlight=False, soft_wrap=True)
        return
    try:
        add_user_to_file(config, entry)
    except ConfigError as err:
        err_console.print(f"[red]add-user:[/red] {escape(str(err))}", soft_wrap=True)
        console.print(escape(user_yaml(entry)), highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_CONFIG) from err
    console.print(f"User {name} ({role}) added to {config}.", highlight=False)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
