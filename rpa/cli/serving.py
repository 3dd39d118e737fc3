"""``rpa console`` (and ``add-user``), ``rpa schedule`` and ``rpa serve``: the web console,
the schedule, and both in one process."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Optional

import typer
from rich.markup import escape

from rpa import logs
from rpa.cli.common import ConfigOpt, console, err_console
from rpa.config import Config, load_config
from rpa.errors import ConfigError
from rpa.run.orchestrator import EXIT_CONFIG

console_app = typer.Typer(help="The web console: runs, escalations, run now, health.")


def _scheduled(cfg: Config) -> Any:
    """A Scheduler for ``cfg``; a config without a schedule raises ConfigError."""
    from rpa.scheduling.scheduler import Scheduler

    if not cfg.schedule:
        raise ConfigError("schedule: is empty; add entries such as "
                          "{cron: \"0 8,13,18 * * 1-6\"} (see the README's Schedule)")
    return Scheduler(cfg)


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
    cfg = load_config(config)
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
    cfg = load_config(config)
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
    cfg = load_config(config)
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
