"""``rpa config check``: the configuration validated, shown with its secrets redacted, and
the flows the secrets set now allow."""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer
from rich.markup import escape

from rpa.cli.common import ConfigOpt, console, err_console
from rpa.config import AccountConfig, Config, load_config, needed_secrets, redacted_summary
from rpa.run.orchestrator import EXIT_CONFIG

config_app = typer.Typer(help="Check the configuration file.")


@config_app.command("check")
def config_check(config: Path = ConfigOpt) -> None:
    """Validate the configuration, show it with secrets redacted, and say which flows can
    run with the secrets set now (exit 2 when one in ``flows`` cannot)."""
    cfg = load_config(config)
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


