"""``rpa worker`` and ``rpa enqueue``: runs through the queue (the configuration's
``queue``; see README, "Many accounts")."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer
from loguru import logger
from rich.markup import escape

from rpa import logs
from rpa.cli.common import AccountOpt, ConfigOpt, console, err_console
from rpa.config import Config, load_config
from rpa.errors import ConfigError
from rpa.ledger import LedgerBroken


def _queued_config(path: Path) -> Config:
    cfg = load_config(path)
    if cfg.queue is None:
        raise ConfigError("no queue is configured: add queue: {broker_url: redis://...} "
                          "(and ledger: {url: postgresql://...}); without one, rpa run "
                          "--all runs every account on this machine", file=cfg.source,
                          key="queue")
    return cfg


def worker_cmd(config: Path = ConfigOpt,
               concurrency: Optional[int] = typer.Option(  # noqa: UP045
                   None, "--concurrency", "-j", min=1,
                   help="runs at once (default: queue.worker_concurrency, else from this "
                        "machine's cores and free memory)"),
               name: Optional[str] = typer.Option(  # noqa: UP045
                   None, "--name", "-n", help="the worker's name (default: rpa-<pid>@<host>)"),
               verbose: bool = typer.Option(False, "--verbose", "-v")) -> None:
    """Take runs from the queue and run them, until stopped (SIGTERM: the runs in progress
    end first)."""
    logs.setup(verbose)
    cfg = _queued_config(config)
    from rpa.config import check_folders
    from rpa.queue import start_worker
    from rpa.run.storage import check, ledger_place

    # What every job's run would find first, found at the start: folders it cannot write
    # (exit 2), a shared ledger that is empty beside a SQLite file with runs, or of a
    # newer version (6). One out of reach now may be back by the first job (a machine
    # that starts before its database): said, and each job tries it again.
    check_folders(cfg)
    try:
        check(ledger_place(cfg), Path(cfg.paths.recordings_dir), config=cfg.source or None)
    except LedgerBroken as err:
        if err.reason != "unreachable":
            raise
        logger.error("{}; starting all the same: each job tries again, and the owner is "
                     "told when one gives up", err)

    start_worker(cfg, concurrency=concurrency, name=name,
                 loglevel="DEBUG" if verbose else "INFO")


def enqueue_cmd(config: Path = ConfigOpt, account: Optional[str] = AccountOpt,  # noqa: UP045
                all_accounts: bool = typer.Option(False, "--all",
                                                  help="a run for every configured account"),
                flow: Optional[list[str]] = typer.Option(  # noqa: UP045
                    None, "--flow", "-f", help="run only this flow (repeatable)"),
                dry_run: bool = typer.Option(False, "--dry-run", help="decide, send nothing"),
                wait: bool = typer.Option(False, "--wait",
                                          help="wait for the runs to end, then show them"),
                timeout: Optional[float] = typer.Option(  # noqa: UP045
                    None, "--timeout", min=1, help="with --wait: give up after N seconds")
                ) -> None:
    """Put runs on the queue for the workers: one account's (default: the first), or every
    account's."""
    if all_accounts and account is not None:
        raise typer.BadParameter("--all queues every account: leave --account out",
                                 param_hint="--account")
    logs.setup(False)
    cfg = _queued_config(config)
    names = ([a.name for a in cfg.accounts] if all_accounts
             else [cfg.account(account).name])
    from rpa.queue import enqueue, wait_for

    queued = enqueue(cfg, names, flows=flow or None, dry_run=dry_run)
    for q in queued:
        if q.job_id:
            console.print(f"{escape(q.account)}: queued, job {q.job_id}", highlight=False)
        else:
            console.print(f"{escape(q.account)}: a job is already waiting ({q.waiting}); "
                          "not queued again", highlight=False)
    if not wait:
        raise typer.Exit(0)
    ids = [q.job_id or q.waiting for q in queued if (q.job_id or q.waiting)]
    results = wait_for(cfg, [i for i in ids if i], timeout_s=timeout)
    raise typer.Exit(print_results(cfg, results))


def print_results(cfg: Config, results: dict[str, dict[str, Any]]) -> int:
    """The runs' table (the one ``rpa run --all`` prints, each run read from its run.json
    in the shared recordings) with each run's worker; the worst exit code."""
    from rpa.cli.many import print_outcomes
    from rpa.run.fleet import Outcome
    from rpa.run.orchestrator import EXIT_FAILED, RunResult

    outcomes: list[Outcome] = []
    for job_id, r in results.items():
        if r.get("state") != "SUCCESS":
            outcomes.append(Outcome(r.get("account") or job_id, "not_ended", EXIT_FAILED,
                                    message=f"job {job_id}: {r.get('state')} "
                                            f"{r.get('message') or ''}".strip()))
            continue
        result = None
        folder = Path(r["folder"]) if r.get("folder") else None
        if folder is not None and (folder / "run.json").is_file():
            data = json.loads((folder / "run.json").read_text(encoding="utf-8"))
            result = RunResult(r["status"], r["exit_code"], folder, data)
        outcomes.append(Outcome(r["account"], r["status"], r["exit_code"], r["seconds"],
                                f"{r.get('message') or ''} (worker {r.get('worker')})".strip()
                                if result is None else "", result))
        err_console.print(f"{escape(r['account'])}: worker {escape(str(r.get('worker')))}, "
                          f"attempt {r.get('attempt')}", highlight=False)
    return print_outcomes(outcomes, title=f"{len(outcomes)} queued run(s)")
