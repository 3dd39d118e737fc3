"""``rpa ledger restore``, ``rpa ledger new`` and ``rpa ledger backups``: putting back a
ledger that is corrupt or lost."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from rpa.cli.common import ConfigOpt, console, err_console
from rpa.config import load_config

ledger_app = typer.Typer(help="Restore or list backups of the ledger (state/ledger.sqlite).")


@ledger_app.command("restore")
def ledger_restore(config: Path = ConfigOpt,
                   source: Optional[Path] = typer.Option(  # noqa: UP045
                       None, "--from", help="a backup file (default: the newest)")) -> None:
    """Put the newest ledger backup (or --from FILE) in place of the ledger; the file it
    replaces is kept beside it as ledger.sqlite.broken-<time>."""
    from rpa.ledger import restore

    cfg = load_config(config)
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

    cfg = load_config(config)
    found = backups(Path(cfg.paths.state_dir))
    if not found:
        console.print("no ledger backups yet")
    for path in found:
        console.print(f"{path}  {path.stat().st_size} bytes", soft_wrap=True, highlight=False)

