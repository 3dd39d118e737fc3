"""``rpa escalations`` (and ``show``), ``rpa answer`` and ``rpa followups``: the owner's
escalations, the answers given to them and the reminders of those unanswered."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Optional

import typer
from rich.markup import escape
from rich.table import Table

from rpa import logs
from rpa.cli.common import AccountOpt, ConfigOpt, console, err_console
from rpa.cli.runs import execute, print_summary
from rpa.config import Config, load_config
from rpa.owner.answers import normalise_code
from rpa.run.orchestrator import EXIT_CONFIG

escalations_app = typer.Typer(help="The owner's escalations (B/R/E codes) and their state.")


def _age(created: str) -> str:
    from datetime import datetime, timezone

    at = datetime.fromisoformat(created)
    at = at if at.tzinfo is not None else at.replace(tzinfo=timezone.utc)
    minutes = max(int((datetime.now(timezone.utc) - at).total_seconds() // 60), 0)
    days, hours = minutes // 1440, minutes % 1440 // 60
    return f"{days}d {hours}h" if days else f"{hours}h" if hours else f"{minutes}m"


def _open_ledger(cfg: Config) -> Any:
    """The run ledger, or None when no run has made one yet (never created here). A ledger
    that is corrupt, lost although runs happened, or out of reach raises LedgerBroken."""
    from rpa.run.storage import check, existing, ledger_place

    place = ledger_place(cfg)
    source = cfg.source if cfg.source and Path(cfg.source).is_file() else None
    check(place, Path(cfg.paths.recordings_dir), config=source)
    return existing(place)


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

    cfg = load_config(config)
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
    cfg = load_config(config)
    ledger = _open_ledger(cfg)
    esc = ledger.escalation(normalise_code(code)) if ledger is not None else None
    deliveries = ledger.deliveries(esc["code"]) if esc is not None else []
    history = ledger.events(esc["code"]) if esc is not None else []
    if ledger is not None:
        ledger.close()
    if esc is None:
        where = ledger.where if ledger is not None else Path(cfg.paths.state_dir) / "ledger.sqlite"
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


def answer_cmd(code: str = typer.Argument(
                   ..., help="the code the owner answered, e.g. B004 or ACME-B004"),
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
    from rpa.owner.answers import DELIVERY_FLOWS, submit

    logs.setup(verbose)
    cfg = load_config(config)
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
    result = execute(cfg, account=account, flows=[flow_name])
    print_summary(result)
    raise typer.Exit(result.exit_code)


def followups_cmd(config: Path = ConfigOpt, account: Optional[str] = AccountOpt,  # noqa: UP045
                  dry_run: bool = typer.Option(False, "--dry-run", help="decide, send nothing"),
                  verbose: bool = typer.Option(False, "--verbose", "-v")) -> None:
    """Remind the owner of unanswered escalations (the followups flow alone; no browser)."""
    logs.setup(verbose)
    cfg = load_config(config)
    result = execute(cfg, account=account, flows=["followups"], dry_run=dry_run)
    print_summary(result)
    raise typer.Exit(result.exit_code)
