"""What every command shares: the consoles, the common options, and the error boundary
that ends a command on an error the bot raises on purpose with its message and exit code."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from rpa.config import DEFAULT_CONFIG
from rpa.errors import ApplicationError, BusinessError, ConfigError, RpaError, RunLocked
from rpa.ledger import LedgerBroken
from rpa.owner.answers import AnswerError
from rpa.owner.escalate import UnknownEscalation
from rpa.run.orchestrator import (
    EXIT_CONFIG,
    EXIT_FAILED,
    EXIT_LEDGER,
    EXIT_LOCKED,
    EXIT_PERSON,
)

console = Console()
err_console = Console(stderr=True)

ConfigOpt = typer.Option(Path(DEFAULT_CONFIG), "--config", "-c", help="configuration file")
AccountOpt = typer.Option(None, "--account", "-a", help="account name (default: the first)")


@dataclass(frozen=True)
class Shown:
    """How an error ends a command: its message on stderr after ``label`` (none when
    empty), in ``colour``, and the exit code."""

    label: str
    colour: str
    exit_code: int

    def line(self, message: str) -> str:
        """The stderr line (rich markup) for ``message``."""
        text = escape(message)
        if not self.label:
            return f"[{self.colour}]{text}[/{self.colour}]"
        return f"[{self.colour}]{self.label}:[/{self.colour}] {text}"


# Each error the bot raises on purpose, the more specific before the more general. Any
# other exception is a bug: it keeps its traceback.
KNOWN_ERRORS: tuple[tuple[type[Exception], Shown], ...] = (
    (LedgerBroken, Shown("ledger error", "red", EXIT_LEDGER)),
    (ConfigError, Shown("configuration error", "red", EXIT_CONFIG)),
    (RunLocked, Shown("", "yellow", EXIT_LOCKED)),
    (AnswerError, Shown("answer refused", "red", EXIT_CONFIG)),
    (UnknownEscalation, Shown("unknown escalation", "red", EXIT_CONFIG)),
    (BusinessError, Shown("a person is needed", "yellow", EXIT_PERSON)),
    (ApplicationError, Shown("failed", "red", EXIT_FAILED)),
    (RpaError, Shown("error", "red", EXIT_FAILED)),
)
SCENARIO_ERROR = Shown("scenario error", "red", EXIT_CONFIG)  # the sandbox's and the demo's


def shown_as(err: Exception) -> Shown | None:
    """How ``err`` ends a command, or None for an exception the bot does not raise on
    purpose."""
    for cls, shown in KNOWN_ERRORS:
        if isinstance(err, cls):
            return shown
    if not isinstance(err, ValueError):
        return None
    # The practice sandbox is loaded only by the commands that serve it.
    from rpa.practice.sandbox.scenario import ScenarioError

    return SCENARIO_ERROR if isinstance(err, ScenarioError) else None


class ErrorBoundary(TyperGroup):
    """The ``rpa`` command group: an error the bot raises on purpose ends any of its
    commands with a one-paragraph message on stderr and the error's exit code."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort):
            raise  # a command's own exit code; Ctrl-C at a prompt
        except Exception as err:
            shown = shown_as(err)
            if shown is None:
                raise
            err_console.print(shown.line(str(err)), soft_wrap=True)
            raise typer.Exit(shown.exit_code) from err
