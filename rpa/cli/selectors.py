"""``rpa selectors check`` (the files, or ``--live`` the pages), ``rpa selectors diff``,
``rpa selectors export`` and ``rpa teach KEY``: selectors.yaml, the local overlay
(selectors.local.yaml) and teaching a key on the live page."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer
from rich.markup import escape
from rich.table import Table

from rpa import logs
from rpa.browser.confirmed import UNCONFIRMED, sources
from rpa.browser.overlay import diff, export, near, with_overlay
from rpa.browser.selectors import Selectors, declared_keys
from rpa.cli.common import AccountOpt, ConfigOpt, console
from rpa.config import Config, load_config
from rpa.errors import ConfigError
from rpa.run.orchestrator import EXIT_FAILED, run
from rpa.run.registry import plan
from rpa.seller_central.selectcheck import LABEL, MISSES

selectors_app = typer.Typer(help="selectors.yaml and the local selectors (selectors.local.yaml).")


def load_selectors(cfg: Config) -> Selectors:
    """selectors.yaml with the overlay, checked as a run checks them (before any browser):
    every key the code asks for there, every overlay key one of selectors.yaml's."""
    plan([*cfg.flows, "selectors_check"])  # loads the page modules, which declare keys
    shipped = Selectors.load(cfg.paths.selectors_file, cfg.browser.timeout_ms)
    shipped.require(declared_keys(with_check=True))
    return with_overlay(shipped, cfg.paths.selectors_overlay)


def _overlay_name(cfg: Config) -> str:
    return str(cfg.paths.selectors_overlay or "selectors.local.yaml")


@selectors_app.command("check")
def selectors_check(config: Path = ConfigOpt, account: Optional[str] = AccountOpt,  # noqa: UP045
                    live: bool = typer.Option(False, "--live", help=(
                        "sign in and try every key on the pages, acting on nothing")),
                    headed: bool = typer.Option(False, "--headed")) -> None:
    """Check selectors.yaml and the local selectors; --live tries them on the pages."""
    logs.setup(False)
    cfg = load_config(config)
    selectors = load_selectors(cfg)
    notes = sources(Path(selectors.source).read_text(encoding="utf-8"))
    unconfirmed = {k: note for k, (kind, note) in notes.items() if kind == UNCONFIRMED}
    if not live:
        _files(cfg, selectors, unconfirmed, notes)
        return
    result = run(cfg, account=account, flows=["selectors_check"], headed=headed)
    obs = result.data["observations"]
    rows = obs.get("selectors") or []
    wanted = set(obs.get("selectors_needed") or [])
    table = Table(title="selectors.yaml on the live pages")
    for col in ("key", "page", "resolved by", "source", "flows need it"):
        table.add_column(col)
    missing = []
    for key, page, how in rows:
        shown = escape(str(how)) if how else "[red]nothing[/red]"
        if how and str(how).startswith(LABEL):
            shown = f"[yellow]{escape(str(how))}[/yellow]"
        elif how and str(how).startswith(MISSES):
            shown = f"[red]{escape(str(how))}[/red]"
        table.add_row(key, page, shown, UNCONFIRMED if key in unconfirmed else "",
                      "yes" if key in wanted else "")
        if (how is None or str(how).startswith(MISSES)) and key in wanted:
            missing.append(key)
    console.print(table)
    stopped = obs.get("stopped_requests") or []
    console.print(f"Read-only: nothing was changed; {len(stopped)} request(s) that could "
                  "change something were stopped" + (f": {escape(', '.join(stopped[:5]))}"
                                                     if stopped else "."), highlight=False)
    for error in result.data.get("errors", []):
        console.print(f"[red]{error['flow']}[/red]: {escape(error['message'])}")
    if missing:
        console.print(f"[red]{len(missing)} key(s) a configured flow needs find nothing or "
                      "miss what the page shows: "
                      f"{', '.join(missing)}[/red]. `rpa teach KEY` points one at its "
                      "element; see README, \"When a page changed\".")
    console.print(f"Report: {result.report}")
    if result.exit_code:
        raise typer.Exit(result.exit_code)
    raise typer.Exit(EXIT_FAILED if missing else 0)


def _files(cfg: Config, selectors: Selectors, unconfirmed: dict[str, str],
           notes: dict[str, Any]) -> None:
    """The offline check: the files are sound; which keys no public source confirms."""
    bare = sorted(k for k in selectors.keys if notes.get(k, (None, ""))[0] is None)
    console.print(f"{selectors.source}: {len(selectors.keys)} keys, sound; "
                  f"{len(unconfirmed)} unconfirmed (no public source shows them):",
                  highlight=False, soft_wrap=True)  # a path stays whole, to be copied
    for key, note in sorted(unconfirmed.items()):
        console.print(f"  {key}  [dim]# {escape(note)}[/dim]", highlight=False)
    if bare:
        console.print(f"[yellow]{len(bare)} key(s) say no source: {', '.join(bare)}[/yellow]")
    if selectors.local:
        console.print(f"{selectors.local_source}: {len(selectors.local)} key(s) taught here, "
                      f"tried first: {', '.join(sorted(selectors.local))} "
                      "(rpa selectors diff shows them)", highlight=False, soft_wrap=True)
    else:
        console.print(f"{_overlay_name(cfg)}: no local selectors.", highlight=False,
                      soft_wrap=True)
    console.print("Checked without a browser; `rpa selectors check --live` signs in and tries "
                  "every key on the pages.")


@selectors_app.command("diff")
def selectors_diff(config: Path = ConfigOpt) -> None:
    """The local selectors against selectors.yaml, key by key."""
    logs.setup(False)
    cfg = load_config(config)
    selectors = load_selectors(cfg)
    if not selectors.local:
        console.print(f"{_overlay_name(cfg)}: no local selectors; selectors.yaml is used as "
                      "shipped.", highlight=False)
        return
    console.print(f"{selectors.local_source} (+ tried first) against {selectors.source}:",
                  highlight=False)
    for line in diff(selectors):
        console.print(escape(line), highlight=False)


@selectors_app.command("export")
def selectors_export(config: Path = ConfigOpt) -> None:
    """The local selectors as selectors.yaml text, with where and on what each was taught,
    for the maintainers (no secrets, no buyer data)."""
    logs.setup(False)
    selectors = load_selectors(load_config(config))
    typer.echo(export(selectors), nl=False)


def teach_cmd(key: str = typer.Argument(..., help="the selectors.yaml key, e.g. "
                                                   "home.unshipped_count"),
              page: Optional[str] = typer.Option(  # noqa: UP045
                  None, "--page", help="the page's address, for a key shown while signing in"),
              config: Path = ConfigOpt, account: Optional[str] = AccountOpt,  # noqa: UP045
              headless: bool = typer.Option(False, "--headless", hidden=True),
              yes: bool = typer.Option(False, "--yes", help="write what is found, unasked")
              ) -> None:
    """Open the key's page signed in, let the VA click the element meant, and keep the
    candidates that find exactly it in the local selectors."""
    from rpa.seller_central.teach import page_of

    logs.setup(False)
    cfg = load_config(config)
    selectors = load_selectors(cfg)
    if key not in selectors:
        raise ConfigError(f"unknown selector key {key!r}{near(key, selectors.keys)}",
                          file=selectors.source)
    if page is None and page_of(key) is None:
        raise ConfigError(f"{key} shows only while signing in: give its page's address "
                          "with --page URL")
    console.print(f"Opening the page of {key} in a browser window. Click the element "
                  f"{key} should find; nothing in the page reacts meanwhile.", highlight=False)
    params: dict[str, Any] = {"key": key, "page": page, "decide": _decide(yes)}
    result = run(cfg, account=account, flows=["teach"], headed=not headless, params=params)
    taught = result.data["observations"].get("teach") or {}
    for error in result.data.get("errors", []):
        console.print(f"[red]{error['flow']}[/red]: {escape(error['message'])}")
    if taught.get("written"):
        console.print(f"Written to {taught['written']}: {key} → "
                      f"{escape(', '.join(taught.get('kept') or []))}. The next run tries "
                      "them first; `rpa selectors export` prints them for the maintainers.",
                      highlight=False)
    elif result.exit_code == 0:
        console.print("Nothing written.")
    console.print(f"Report: {result.report}")
    raise typer.Exit(result.exit_code)


def _decide(yes: bool) -> Any:
    """How the person answers a proposal in the terminal (the window stays open)."""

    def decide(proposal: Any) -> str:
        before = [f"{d} finds {n}" for d, n in proposal.found_now if n]
        console.print(f"\n[bold]{proposal.key}[/bold] on {proposal.page}: its candidates find "
                      f"{escape('; '.join(before)) if before else 'nothing'} on this page. "
                      "The element clicked:", highlight=False)
        for line in (proposal.element or "(no snapshot)").splitlines():
            console.print(f"    {escape(line)}", highlight=False)
        for cand in proposal.kept:
            how = ("finds it and the rows like it" if cand.describe() in proposal.rows_too
                   else "finds exactly it")
            console.print(f"  [green]{how}[/green]  {escape(cand.describe())}", highlight=False)
        for cand, why in proposal.refused:
            console.print(f"  [red]refused[/red]  {escape(cand.describe())}: {escape(why)}",
                          highlight=False)
        if not proposal.kept:
            console.print("No candidate finds exactly this element: take the element around "
                          "it (u), click again (a) or stop (s).")
        if yes and proposal.kept:
            return "write"
        if yes:
            return "stop"
        answer = typer.prompt("w = write these, u = the element around it, a = click again, "
                              "s = stop", default="w" if proposal.kept else "u")
        return {"w": "write", "u": "up", "a": "again"}.get(answer.strip().lower()[:1], "stop")

    return decide
