"""``rpa ledger restore``, ``rpa ledger new`` and ``rpa ledger backups``: putting back a
SQLite ledger that is corrupt or lost; ``rpa ledger migrate`` (the schema brought up to
date) and ``rpa ledger copy --to postgresql://...`` (the SQLite ledger moved into
PostgreSQL)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Optional

import typer
from rich.markup import escape

from rpa.cli.common import ConfigOpt, console, err_console
from rpa.config import Config, load_config
from rpa.errors import ConfigError

ledger_app = typer.Typer(help="The ledger: restore or list backups of the SQLite file "
                              "(state/ledger.sqlite), bring its schema up to date, copy it "
                              "into PostgreSQL.")


def _sqlite_only(cfg: Config, command: str) -> None:
    """``command`` works on the SQLite file: refused when the ledger is PostgreSQL."""
    if cfg.ledger is not None:
        raise ConfigError(f"`rpa ledger {command}` puts back the SQLite file, but the ledger"
                          " is the PostgreSQL database this names: its backups are the"
                          " database server's (pg_dump)", file=cfg.source, key="ledger.url")


@ledger_app.command("restore")
def ledger_restore(config: Path = ConfigOpt,
                   source: Optional[Path] = typer.Option(  # noqa: UP045
                       None, "--from", help="a backup file (default: the newest)")) -> None:
    """Put the newest ledger backup (or --from FILE) in place of the ledger; the file it
    replaces is kept beside it as ledger.sqlite.broken-<time>."""
    from rpa.ledger import restore

    cfg = load_config(config)
    _sqlite_only(cfg, "restore")
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

    cfg = load_config(config)
    _sqlite_only(cfg, "new")
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
    recordings = Path(cfg.paths.recordings_dir)
    ledger = Ledger(path, code_floor=_recorded_counter(recordings))
    ledger.series_floor = _recorded_series(recordings)
    try:
        floor = ledger.escalation_counter()
        if floor:
            ledger._write_counter(floor)  # kept beside the ledger: codes never go back
        series = ledger.keep_series_counters()  # each account's series, in the ledger
    finally:
        ledger.close()
    more = "".join(f", {prefix}- after {n}" for prefix, n in series.items() if n)
    console.print(f"new ledger at {path}; escalation codes go on after number {floor}{more}; "
                  "earlier escalations are unknown to it", soft_wrap=True, highlight=False)


def _run_jsons(recordings: Path) -> Iterator[dict[str, Any]]:
    for found in recordings.glob("*/run.json") if recordings.is_dir() else []:
        try:
            data = json.loads(found.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            yield data


def _recorded_counter(recordings: Path) -> int:
    """The highest escalation count any run.json in ``recordings`` names (0 for none)."""
    top = 0
    for data in _run_jsons(recordings):
        try:
            top = max(top, int(data.get("escalation_counter") or 0))
        except (ValueError, TypeError):
            continue
    return top


def _recorded_series(recordings: Path) -> dict[str, int]:
    """Each code series' highest number any run.json in ``recordings`` names."""
    top: dict[str, int] = {}
    for data in _run_jsons(recordings):
        series = data.get("escalation_series")
        for prefix, number in (series.items() if isinstance(series, dict) else ()):
            if isinstance(number, int):
                top[str(prefix)] = max(top.get(str(prefix), 0), number)
    return top


@ledger_app.command("backups")
def ledger_backups(config: Path = ConfigOpt) -> None:
    """List the ledger backups, newest last (one is made after every successful run)."""
    from rpa.ledger import backups

    cfg = load_config(config)
    found = backups(Path(cfg.paths.state_dir))
    if not found:
        console.print("no ledger backups yet")
    for path in found:
        console.print(f"{path}  {path.stat().st_size} bytes", soft_wrap=True, highlight=False)



@ledger_app.command("migrate")
def ledger_migrate(config: Path = ConfigOpt) -> None:
    """Bring the ledger's schema up to date now: the PostgreSQL database's missing
    migrations (ledger.url), or the SQLite file's missing tables and columns. A ledger
    does it itself when it opens; this does it before workers start on a new database,
    or as a role that may change the schema."""
    from rpa.ledger import POSTGRES_SCHEMA_VERSION, Ledger, check_ledger, migrate_database
    from rpa.run.storage import ledger_place

    cfg = load_config(config)
    place = ledger_place(cfg)
    if place.url:
        before, applied = migrate_database(place.url, place.password)
        for step in applied:
            console.print(f"applied migration {step.version}: {step.name}", highlight=False)
        now = f"schema version {POSTGRES_SCHEMA_VERSION}"
        console.print(f"PostgreSQL ledger at {place.where}: {now}"
                      + (f" (was {before})" if applied else ", already up to date"),
                      soft_wrap=True, highlight=False)
        return
    path = place.sqlite_path
    source = cfg.source if cfg.source and Path(cfg.source).is_file() else None
    check_ledger(path, Path(cfg.paths.recordings_dir), config=source)
    if not path.is_file() or not path.stat().st_size:
        console.print(f"no ledger at {path} yet: the first run makes it", soft_wrap=True,
                      highlight=False)
        return
    Ledger(path).close()
    console.print(f"SQLite ledger {path}: up to date", soft_wrap=True, highlight=False)


@ledger_app.command("copy")
def ledger_copy(config: Path = ConfigOpt,
                to: str = typer.Option(..., "--to", help="the PostgreSQL ledger: "
                                       "postgresql://user@host:5432/database (no password)"),
                password_env: Optional[str] = typer.Option(  # noqa: UP045
                    None, "--password-env", help="the environment variable holding the "
                    "database's password (default: ledger.password_env when --to is "
                    "ledger.url; else libpq's PGPASSWORD or ~/.pgpass)")) -> None:
    """Copy the SQLite ledger (state/ledger.sqlite) into an empty PostgreSQL database:
    every row, counted on both sides (printed); all or nothing. Every account's run lock
    is held meanwhile, so no run writes to the file during the copy. Then set ledger.url
    in the config."""
    from rich.table import Table

    from rpa.ledger import NotEmpty, copy_ledger, display_url, quick_check, url_problem
    from rpa.run.orchestrator import account_lock

    cfg = load_config(config)
    problem = url_problem(to)
    if problem:
        raise ConfigError(f"--to {display_url(to)} {problem}")
    password = _password(cfg, to, password_env)
    state = Path(cfg.paths.state_dir)
    source = state / "ledger.sqlite"
    if not source.is_file() or not source.stat().st_size:
        err_console.print(f"[red]nothing to copy:[/red] no ledger at {escape(str(source))}",
                          soft_wrap=True)
        raise typer.Exit(1)
    verdict = quick_check(source)
    if verdict != "ok":
        err_console.print(f"[red]not copied:[/red] {escape(str(source))} is corrupt"
                          f" ({escape(verdict)}); restore it first (`rpa ledger restore`)",
                          soft_wrap=True)
        raise typer.Exit(1)
    with ExitStack() as locks:
        for acc in cfg.accounts:
            locks.enter_context(account_lock(state, acc.name))
        try:
            copied, counter = copy_ledger(source, to, password, code_floor=_recorded_counter(
                Path(cfg.paths.recordings_dir)))
        except (NotEmpty, ValueError) as err:
            err_console.print(f"[red]not copied:[/red] {escape(str(err))}", soft_wrap=True)
            raise typer.Exit(1) from err
    table = Table("table", "SQLite", "PostgreSQL", title="rows copied")
    for row in copied:
        table.add_row(row.table, str(row.source), str(row.target))
    console.print(table)
    total = sum(row.target for row in copied)
    console.print(f"{total} rows copied to {display_url(to)}, every count the same; escalation"
                  f" codes go on after number {counter}. Point the config at it: ledger:"
                  f" {{url: {display_url(to)}}} (the password in ledger.password_env).",
                  soft_wrap=True, highlight=False)


def _password(cfg: Config, url: str, variable: str | None) -> str:
    """The database's password: from ``variable``, or ledger.password_env when ``url`` is
    the configured ledger ("" to leave it to libpq)."""
    key = "--password-env"
    if variable is None and cfg.ledger is not None and cfg.ledger.url == url:
        variable, key = cfg.ledger.password_env, "ledger.password_env"
    if not variable:
        return ""
    value = os.environ.get(variable, "")
    if not value:
        raise ConfigError(f"environment variable {variable} is not set (needed for {key})",
                          file=cfg.source if key != "--password-env" else "", key=key)
    return value
