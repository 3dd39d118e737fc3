"""``rpa run``, ``rpa login``, ``rpa demo``, ``rpa sandbox`` and ``rpa flows``, and the
summary of a run printed after it."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer
from rich.markup import escape
from rich.table import Table

from rpa import logs
from rpa.cli.common import AccountOpt, ConfigOpt, console
from rpa.config import Config, load_config
from rpa.run.orchestrator import RunResult, run


def _show_step(event: str, rec: Any) -> None:
    if event == "end":
        colour = {"ok": "green", "failed": "red"}.get(rec.outcome, "yellow")
        console.print(f"  [{colour}]{rec.outcome:>6}[/{colour}]  {rec.flow}: {rec.name}"
                      f"  [dim]{rec.seconds:.1f}s[/dim]")


def execute(cfg: Config, **kwargs: Any) -> RunResult:
    """A run of ``cfg`` (``kwargs`` as :func:`rpa.run.orchestrator.run` takes them) whose
    steps are shown as they end."""
    return run(cfg, on_step=_show_step, **kwargs)


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
        table.add_row("  not Good", f"{area['name']}: {area['value'] or 'not read'} "
                                    f"(target {area['target'] or 'not read'})")
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
    changed = obs.get("page_snapshots") or []
    by_label = sorted(k for k in obs.get("read_by") or {} if not k.startswith("health."))
    if changed or by_label:  # a metric's status is read by its words on every classic page
        console.print(f"[yellow]A page may have changed[/yellow] (read by label: "
                      f"{', '.join(by_label) or 'nothing'}; page snapshots of "
                      f"{', '.join(k['page'] for k in changed) or 'no page'}): see README, "
                      "\"When a page changed\".", highlight=False)
    console.print(f"Report: {result.report}")


def run_cmd(config: Path = ConfigOpt, account: Optional[str] = AccountOpt,  # noqa: UP045
            flow: Optional[list[str]] = typer.Option(None, "--flow", "-f",  # noqa: UP045
                                                     help="run only this flow (repeatable)"),
            headed: bool = typer.Option(False, "--headed", help="show the browser"),
            slow_mo: int = typer.Option(0, "--slow-mo", help="slow each action by N ms"),
            dry_run: bool = typer.Option(False, "--dry-run", help="decide, send nothing"),
            all_accounts: bool = typer.Option(
                False, "--all", help="every configured account, each in a process of its "
                                     "own, --concurrency at a time"),
            concurrency: Optional[int] = typer.Option(  # noqa: UP045
                None, "--concurrency", "-j", min=1,
                help="with --all: how many accounts at once (default: the config's "
                     "concurrency, else from this machine's cores and free memory)"),
            verbose: bool = typer.Option(False, "--verbose", "-v")) -> None:
    """Run the daily routine (or the named flows) for one account, or for every one."""
    if all_accounts and account is not None:
        raise typer.BadParameter("--all runs every account: leave --account out, or run "
                                 "one account without --all", param_hint="--account")
    if concurrency is not None and not all_accounts:
        raise typer.BadParameter("goes with --all (one account's run is one process)",
                                 param_hint="--concurrency")
    logs.setup(verbose)
    cfg = load_config(config)
    if slow_mo:
        cfg.browser.slow_mo_ms = slow_mo
    if all_accounts:
        from rpa.cli.many import print_outcomes, run_all
        from rpa.run.fleet import Job, concurrency_of

        jobs = [Job(a.name, flow or None, dry_run) for a in cfg.accounts]
        outcomes = run_all(cfg, jobs, concurrency=concurrency_of(cfg, concurrency),
                           headed=headed)
        raise typer.Exit(print_outcomes(outcomes))
    result = execute(cfg, account=account, flows=flow or None, dry_run=dry_run, headed=headed)
    print_summary(result)
    raise typer.Exit(result.exit_code)


def login_cmd(config: Path = ConfigOpt, account: Optional[str] = AccountOpt,  # noqa: UP045
              headed: bool = typer.Option(False, "--headed",
                                          help="visible browser; the VA can finish by hand"),
              verbose: bool = typer.Option(False, "--verbose", "-v")) -> None:
    """Sign in on the account's browser profile, kept for the runs that follow."""
    logs.setup(verbose)
    cfg = load_config(config)
    result = execute(cfg, account=account, flows=["login"], headed=headed, assist=headed)
    print_summary(result)
    raise typer.Exit(result.exit_code)


def demo_cmd(scenario: Optional[str] = typer.Option(  # noqa: UP045
                 None, "--scenario", "-s", help="a bundled scenario (default: at-risk)"),
             headed: bool = typer.Option(False, "--headed"),
             home: Path = typer.Option(Path("demo"), "--folder",
                                       help="where demos keep their state and recordings, "
                                            "one folder each (FOLDER/latest: the newest)"),
             accounts: Optional[int] = typer.Option(  # noqa: UP045
                 None, "--accounts", "-n", min=1,
                 help="the demo of scale: this many sandbox sellers (1 to 12), one "
                      "account each, --concurrency at a time"),
             concurrency: int = typer.Option(3, "--concurrency", "-j", min=1,
                                             help="with --accounts: how many at once"),
             verbose: bool = typer.Option(False, "--verbose", "-v")) -> None:
    """Run the routine against the bundled sandbox, in a fresh demo folder."""
    from rpa.practice.demo import run_demo

    if accounts is not None and scenario is not None:
        raise typer.BadParameter("the demo of scale runs the sandbox's sellers, each its own "
                                 "scenario: leave --scenario out", param_hint="--scenario")
    logs.setup(verbose)
    if accounts is not None:
        scale_demo(accounts, concurrency, headed, home)
    result, received, mail_skipped, loop, folder = run_demo(
        scenario or "at-risk", headed=headed, home=home, on_step=_show_step)
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


def scale_demo(count: int, concurrency: int, headed: bool, home: Path) -> None:
    """``rpa demo --accounts N``: N sandbox sellers' accounts, ``concurrency`` at a time,
    with a live line per account, the table and each owner's first text; exits with the
    worst exit code."""
    from rpa.cli.many import print_outcomes, run_all
    from rpa.practice.scale import run_scale_demo

    done = run_scale_demo(count, concurrency=concurrency, headed=headed, home=home,
                          run=lambda cfg, jobs: run_all(cfg, jobs, concurrency=concurrency,
                                                        headed=headed))
    code = print_outcomes(done.outcomes, title=f"{count} sandbox sellers, {concurrency} at "
                                               "a time")
    console.print("[bold]Each owner's texts (each account has channels of its own):[/bold]")
    for account, texts in done.received.items():
        sms = [text for channel, text in texts if channel == "sms"]
        first = sms[0].splitlines()[0] if sms else "(none)"
        more = f" (+{len(sms) - 1} more)" if len(sms) > 1 else ""
        console.print(f"  {escape(account)}: {escape(first)}{more}", highlight=False,
                      soft_wrap=True)
    console.print(f"This demo's state and recordings: {done.folder}; look at it in the "
                  "console: .venv/bin/rpa console --demo"
                  + ("" if home == Path("demo") else f" --folder {home}"),
                  highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def sandbox_cmd(scenario: str = typer.Option(
                    "healthy", "--scenario", "-s",
                    help="a bundled scenario (an unknown name lists them) or a YAML file"),
                port: int = typer.Option(8321, "--port", "-p"),
                host: str = typer.Option("127.0.0.1", "--host")) -> None:
    """Serve the practice Seller Central until Ctrl-C."""
    import threading

    from rpa.practice.demo import scenario_login
    from rpa.practice.sandbox import SandboxServer

    server = SandboxServer(scenario, host=host, port=port)
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


def flows_cmd() -> None:
    """List the flows and what each needs."""
    from rpa.run.registry import load_flows

    table = Table(title="Flows")
    for col in ("name", "needs", "what it does"):
        table.add_column(col)
    for fl in load_flows().values():
        table.add_row(fl.name, ", ".join(fl.needs) or "-", fl.summary)
    console.print(table)

