"""The ``rpa`` command.

Exit codes: 0 ok, 1 a flow failed, 2 bad configuration, 3 a person is needed,
4 another run for the same account is in progress, 5 finished but a text to the owner
was not delivered, 6 the ledger is corrupt or lost (restore it: rpa ledger restore), or
its PostgreSQL database cannot be reached.
Several accounts (run --all) end with the worst: 6, 2, 3, 1, 5, 4, then 0.
\f
``rpa --help`` shows the text above the form feed. The commands, one module per group:
``runs`` (run, login, demo, sandbox, flows and the summary printed after a run),
``escalations`` (escalations, escalations show, answer, followups), ``serving`` (console,
console add-user, schedule, serve), ``ledger`` (ledger restore, new, backups, migrate,
copy), ``selectors`` (selectors check, diff, export, and teach) and ``config`` (config
check); ``queue`` (worker, enqueue: runs
through the queue); ``many`` shows the runs of many accounts (``run --all``, ``demo --accounts``) as
they go and their table; ``common`` holds what they share: the consoles, the common options
and the error boundary, which ends any command on an error the bot raises on purpose with
its message and exit code, never a traceback.
``__main__`` runs the command as ``python -m rpa.cli``. May import every package;
``practice`` only inside the commands that use it (and the boundary, to name a scenario
error), never when the command loads.
"""

from __future__ import annotations

import typer

from rpa.cli.common import ErrorBoundary
from rpa.cli.config import config_app
from rpa.cli.escalations import answer_cmd, escalations_app, followups_cmd
from rpa.cli.ledger import ledger_app
from rpa.cli.queue import enqueue_cmd, worker_cmd
from rpa.cli.runs import (
    TERMINAL_EMAILS,
    demo_cmd,
    flows_cmd,
    login_cmd,
    print_summary,
    run_cmd,
    sandbox_cmd,
)
from rpa.cli.selectors import selectors_app, teach_cmd
from rpa.cli.serving import console_app, schedule_cmd, serve_cmd

app = typer.Typer(cls=ErrorBoundary, help=__doc__, no_args_is_help=True, add_completion=False)
# The commands in the order `rpa --help` lists them, then the command groups.
for name, command in (("run", run_cmd), ("login", login_cmd), ("demo", demo_cmd),
                      ("sandbox", sandbox_cmd), ("flows", flows_cmd), ("answer", answer_cmd),
                      ("followups", followups_cmd), ("teach", teach_cmd),
                      ("schedule", schedule_cmd), ("serve", serve_cmd),
                      ("enqueue", enqueue_cmd), ("worker", worker_cmd)):
    app.command(name)(command)
for name, group in (("selectors", selectors_app), ("config", config_app),
                    ("ledger", ledger_app), ("escalations", escalations_app),
                    ("console", console_app)):
    app.add_typer(group, name=name)

__all__ = ["TERMINAL_EMAILS", "app", "main", "print_summary"]


def main() -> None:
    """The ``rpa`` entry point."""
    app()
