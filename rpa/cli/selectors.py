"""``rpa selectors check``: sign in, open the pages and say which candidate of
selectors.yaml resolves each key."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from rpa import logs
from rpa.browser.selectors import unconfirmed_keys
from rpa.cli.common import AccountOpt, ConfigOpt, console
from rpa.config import load_config
from rpa.run.orchestrator import run

selectors_app = typer.Typer(help="Check selectors.yaml against the pages.")


@selectors_app.command("check")
def selectors_check(config: Path = ConfigOpt, account: Optional[str] = AccountOpt,  # noqa: UP045
                    headed: bool = typer.Option(False, "--headed")) -> None:
    """Sign in, open the pages and report which candidate resolves each key."""
    logs.setup(False)
    cfg = load_config(config)
    result = run(cfg, account=account, flows=["selectors_check"], headed=headed)
    rows = result.data["observations"].get("selectors") or []
    table = Table(title="selectors.yaml")
    for col in ("key", "page", "resolved by"):
        table.add_column(col)
    missing = 0
    for key, page, how in rows:
        table.add_row(key, page, how or "[red]nothing[/red]")
        missing += how is None
    console.print(table)
    doubtful = unconfirmed_keys(cfg.paths.selectors_file)
    if doubtful:
        console.print(f"{len(doubtful)} key(s) no public source confirms (# unconfirmed in "
                      f"selectors.yaml): {', '.join(doubtful)}", soft_wrap=True,
                      highlight=False)
    raise typer.Exit(1 if missing else 0)
