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
    series = cfg.code_series()
    for acc in cfg.accounts:
        prefix = series.get(acc.name)
        console.print(f"Account '{escape(acc.name)}': escalation codes "
                      + (f"{prefix}-B001, {prefix}-E002..." if prefix else "B001, E002...")
                      + (" (code_prefix)" if acc.code_prefix else " (made from the name)"
                         if prefix else ""), highlight=False, soft_wrap=True)
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
    if mb is not None:
        authentication_check(cfg)
    q = cfg.queue
    if q is not None:  # rpa worker and rpa enqueue need it; runs themselves do not
        unset = q.password_env and not os.environ.get(q.password_env)
        console.print(f"queue {escape(q.broker_url)} ({escape(q.name)}): "
                      + (f"{q.password_env} is NOT set" if unset else "its password is set"
                         if q.password_env else "no password"), highlight=False,
                      soft_wrap=True)
        if unset:
            blocked.append(f"queue.password_env: {q.password_env} is not set (rpa worker "
                           "and rpa enqueue need it)")
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


SURVEY_MAILS = 50  # the newest mails of the Inbox looked at by ``config check``


def authentication_check(cfg: Config) -> None:
    """Whether mailbox.authserv_id can be trusted: the newest Inbox mails must all carry
    it (a server stamps every mail it takes in); the id they all carry is suggested. Says
    why when the mailbox cannot be reached; never fails the check for that."""
    from rpa.mail import auth
    from rpa.mail.headers import parse_headers
    from rpa.mail.imap import Mailbox

    mb = cfg.mailbox
    assert mb is not None
    configured = mb.authserv_id
    if not configured:
        console.print("mailbox.authserv_id is not set: no Authentication-Results header is "
                      "trusted (Amazon's mail is trusted by its domain only as "
                      f"mailbox.authentication '{mb.authentication}' allows; an owner's email "
                      "answer needs a reply to the bot's alert or the answer token)",
                      soft_wrap=True, highlight=False)
    password = os.environ.get(mb.password_env or "", "")
    if not password:
        console.print(f"mailbox not checked: {mb.password_env} is not set", highlight=False)
        return
    box = Mailbox(mb.host, mb.port, mb.user, password, tls=mb.tls, timeout=mb.timeout_s,
                  chunk=mb.chunk_size, ca_file=str(mb.ca_file) if mb.ca_file else None)
    try:
        box.connect()
        box.select("INBOX", readonly=True)
        uids = box.all_uids()[-SURVEY_MAILS:]
        mails = [parse_headers(raw).header_values("authentication-results")
                 for _uid, raw, _flags, _size in box.headers(uids)]
    except Exception as err:  # noqa: BLE001 - an unreachable mailbox is reported, not fatal
        console.print(f"mailbox not checked: {escape(str(err))}", soft_wrap=True)
        return
    finally:
        box.close()
    seen = auth.survey(mails, configured)
    every, n = seen.on_every_mail, seen.checked
    if configured:
        state = ("on all of them: trusted" if seen.configured_on == n and n else
                 f"on {seen.configured_on} of them: NOT trusted while mail lacks it")
        console.print(f"mailbox.authserv_id '{escape(configured)}': the newest {n} Inbox "
                      f"mails checked, {state}", soft_wrap=True, highlight=False)
    if len(every) == 1 and every[0] != (configured or "").lower():
        console.print(f"every one of the newest {n} Inbox mails carries Authentication-"
                      f"Results from '{escape(every[0])}': set mailbox.authserv_id to it if "
                      "that is your receiving server", soft_wrap=True, highlight=False)
    elif not every and n:
        console.print(f"no authserv-id is on all of the newest {n} Inbox mails: this server "
                      "does not stamp every mail, so leave mailbox.authserv_id unset",
                      soft_wrap=True, highlight=False)
