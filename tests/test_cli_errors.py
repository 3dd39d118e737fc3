"""No `rpa` command ends in a traceback for an error the bot raises on purpose: each ends
with its message on stderr and its exit code. Every command runs as a process of its own
through such a failure (a configuration with a mistake, a corrupt or lost ledger, a held
account lock, an unknown sandbox scenario, a broken selectors.yaml, an unknown escalation,
a PostgreSQL ledger out of reach or named with its password);
each fails before a browser would start, and a traceback fails the case."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from rpa.errors import NeedsPerson, PageError
from rpa.ledger import Ledger
from rpa.run.orchestrator import account_lock
from tests.cli_forkserver import CliForkServer

ENV = {"T_CLI_PASSWORD": "not-a-real-password",
       "T_CLI_TOTP": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",  # 160 bits of base32
       "T_CLI_SMS_URL": "json://127.0.0.1:9/sms",  # nothing listens: refused at once
       "NO_COLOR": "1", "COLUMNS": "200"}


def write_config(folder: Path, **changes: Any) -> Path:
    """A configuration whose state and recordings live in ``folder``: one account (never
    reached), the owner's texts to a closed port, and a schedule."""
    data: dict[str, Any] = {
        "accounts": [{"name": "main", "base_url": "http://127.0.0.1:9",
                      "email": "seller@example.com", "password_env": "T_CLI_PASSWORD",
                      "totp_secret_env": "T_CLI_TOTP", "account_name": "Acme Goods",
                      "marketplace": "United States"}],
        "va": {"full_name": "Maria Santos", "initials": "MS"},
        "notify": {"sms": {"url_env": "T_CLI_SMS_URL"}},
        "paths": {"state_dir": str(folder / "state"),
                  "recordings_dir": str(folder / "recordings")},
        "flows": ["followups"],
        "schedule": [{"cron": "0 8 * * *"}],
    }
    data.update(changes)
    path = folder / "rpa.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _ledger_path(folder: Path) -> Path:
    return folder / "state" / "ledger.sqlite"


def _recorded_run(folder: Path) -> None:
    """An earlier run's folder, as every run leaves one."""
    earlier = folder / "recordings" / "20250101T000000Z-main-aaaaaa"
    earlier.mkdir(parents=True)
    (earlier / "run.json").write_text(json.dumps({"status": "ok", "escalation_counter": 3}))


# ---- the failures: each prepares ``folder`` and returns the config file ----------------

def mistaken_config(folder: Path) -> Path:
    return write_config(folder, colour="blue")


def unreadable_config(folder: Path) -> Path:
    path = folder / "rpa.yaml"
    path.write_text("accounts: [unclosed\n")
    return path


def corrupt_ledger(folder: Path) -> Path:
    path = write_config(folder)
    _recorded_run(folder)
    _ledger_path(folder).parent.mkdir(parents=True)
    _ledger_path(folder).write_bytes(b"garbage" * 100)
    return path


def lost_ledger(folder: Path) -> Path:
    path = write_config(folder)
    _recorded_run(folder)
    return path


def broken_selectors(folder: Path) -> Path:
    selectors = folder / "selectors.yaml"
    selectors.write_text("home: [unclosed\n")
    return write_config(folder, paths={"state_dir": str(folder / "state"),
                                       "recordings_dir": str(folder / "recordings"),
                                       "selectors_file": str(selectors)})


def misspelt_overlay(folder: Path) -> Path:
    """Local selectors naming a key selectors.yaml does not have."""
    local = folder / "selectors.local.yaml"
    local.write_text(yaml.safe_dump({"home.unshiped_count": [{"css": "#unshipped-qty"}]}))
    return write_config(folder, paths={"state_dir": str(folder / "state"),
                                       "recordings_dir": str(folder / "recordings"),
                                       "selectors_overlay": str(local)})


def known_escalations(folder: Path) -> Path:
    """A sound ledger holding one escalation, E001, still waiting for the owner."""
    path = write_config(folder)
    ledger = Ledger(_ledger_path(folder))
    try:
        code, _ = ledger.escalate("main", "email", "<m1@example.com>",
                                  summary="{code}: Ann asks about a refund",
                                  details="{code}: the whole mail")
        assert code == "E001"
    finally:
        ledger.close()
    return path


# Nothing listens on port 9: the connection is refused at once.
UNREACHABLE_DB = "postgresql://rpa@127.0.0.1:9/ledger"


def unreachable_database(folder: Path) -> Path:
    return write_config(folder, ledger={"url": UNREACHABLE_DB})


def without_schedule(folder: Path) -> Path:
    return write_config(folder, schedule=[])


def no_config(folder: Path) -> Path:
    """Nothing to prepare: the command's own arguments name the failure."""
    return folder / "rpa.yaml"  # never read


def broken_scenario_file(folder: Path) -> Path:
    (folder / "bad-scenario.yaml").write_text("seller: [unclosed\n")
    return no_config(folder)


@dataclass(frozen=True)
class Case:
    command: tuple[str, ...]  # the arguments before --config
    failure: Callable[[Path], Path]
    exit_code: int
    said: tuple[str, ...]  # what stderr says
    config: bool = True  # the command takes --config
    locked: bool = False  # the account's lock is held by another process meanwhile
    stdin: str = ""
    hidden: tuple[str, ...] = ()  # what neither stdout nor stderr may show (a password)


def _named(cmd: tuple[str, ...]) -> str:
    """The command's words, for a case's name: "escalations-show" for escalations show E001,
    "selectors-check-live" for selectors check --live."""
    words = [w.removeprefix("--") for w in cmd]
    return "-".join(w for w in words if w.islower() and w.replace("-", "").isalpha())


ANSWER = ("answer", "E001", "Yes, it ships today.")
CONFIG_ERROR = ("configuration error:", "colour")
LEDGER_CORRUPT = ("ledger error:", "is corrupt", "rpa ledger")
LEDGER_LOST = ("ledger error:", "is missing", "earlier runs are recorded")
LOCKED = ("another run for account 'main' is in progress",)
UNREACHABLE = ("ledger error:", "the PostgreSQL ledger at", "cannot be reached")
SELECTORS = ("configuration error:", "selectors.yaml", "not valid YAML")
LIVE_CHECK = ("selectors", "check", "--live")
# Without its window (the hidden --headless): a person's window needs a display, and a
# session without one is refused before the ledger or the lock are looked at (exit 2).
TEACH = ("teach", "home.unshipped_count", "--headless")
OVERLAY_KEY = ("configuration error:", "selectors.local.yaml",
               "home.unshiped_count (did you mean 'home.unshipped_count'?)")
UNKNOWN_SCENARIO = ("scenario error:", "unknown scenario 'nosuch'", "bundled:")

CASES: dict[str, Case] = {
    # a configuration with a mistake: every command that reads one
    **{f"config-{_named(cmd)}": Case(cmd, mistaken_config, 2, CONFIG_ERROR)
       for cmd in [("run",), ("login",), ("followups",), ANSWER, ("escalations",),
                   ("escalations", "show", "E001"), ("schedule", "--list"), ("serve",),
                   ("console",), ("ledger", "restore"), ("ledger", "new"),
                   ("ledger", "backups"), ("ledger", "migrate"),
                   ("ledger", "copy", "--to", UNREACHABLE_DB), ("selectors", "check"),
                   LIVE_CHECK, ("selectors", "diff"), ("selectors", "export"), TEACH,
                   ("config", "check"), ("worker",), ("enqueue",)]},
    "config-console-add-user": Case(
        ("console", "add-user", "ann", "--role", "va", "--password-stdin", "--write"),
        unreadable_config, 2, ("add-user:", "rpa.yaml", "cannot read it"),
        stdin="a long enough password\n"),
    # a corrupt ledger, and one lost after runs were recorded
    **{f"corrupt-ledger-{_named(cmd)}": Case(cmd, corrupt_ledger, 6, LEDGER_CORRUPT)
       for cmd in [("run",), ("login",), ("followups",), LIVE_CHECK, TEACH, ANSWER,
                   ("escalations",), ("escalations", "show", "E001")]},
    **{f"lost-ledger-{_named(cmd)}": Case(cmd, lost_ledger, 6, LEDGER_LOST)
       for cmd in [("run",), ("escalations",), ANSWER]},
    # the PostgreSQL ledger cannot be reached: stopped before anything, exit 6
    **{f"unreachable-ledger-{_named(cmd)}": Case(cmd, unreachable_database, 6, UNREACHABLE)
       for cmd in [("run",), ("escalations",), ("ledger", "migrate")]},
    # a PostgreSQL URL with a password in it: refused, and the password shown nowhere
    "password-in-url-ledger-copy": Case(
        ("ledger", "copy", "--to", "postgresql://rpa:hunter2secret@127.0.0.1:9/ledger"),
        write_config, 2, ("configuration error:", "holds a password", "environment"),
        hidden=("hunter2secret",)),
    "postgres-ledger-restore": Case(("ledger", "restore"), unreachable_database, 2,
                                    ("configuration error:", "ledger.url", "pg_dump")),
    # another run holds the account's lock
    **{f"locked-{_named(cmd)}": Case(cmd, write_config, 4, LOCKED, locked=True)
       for cmd in [("run",), ("login",), ("followups",), LIVE_CHECK, TEACH]},
    # a selectors.yaml that is not valid YAML
    **{f"selectors-{_named(cmd)}": Case(cmd, broken_selectors, 2, SELECTORS)
       for cmd in [("run",), ("login",), ("followups",), ("selectors", "check"),
                   ("selectors", "diff"), ("selectors", "export"), TEACH]},
    # local selectors naming a key selectors.yaml does not have
    **{f"overlay-{_named(cmd)}": Case(cmd, misspelt_overlay, 2, OVERLAY_KEY)
       for cmd in [("run",), ("selectors", "check"), ("selectors", "diff"),
                   ("selectors", "export"), TEACH]},
    # a key to teach that selectors.yaml does not have, or whose page is not known
    "unknown-key-teach": Case(("teach", "home.unshiped_count"), write_config, 2,
                              ("configuration error:", "unknown selector key "
                               "'home.unshiped_count' (did you mean 'home.unshipped_count'?)")),
    "signin-key-teach": Case(("teach", "signin.email"), write_config, 2,
                             ("configuration error:", "signin.email shows only while signing "
                              "in: give its page's address with --page URL")),
    # the sandbox's scenarios
    "scenario-sandbox": Case(("sandbox", "--scenario", "nosuch", "--port", "0"), no_config,
                             2, UNKNOWN_SCENARIO, config=False),
    "scenario-demo": Case(("demo", "--scenario", "nosuch"), no_config, 2, UNKNOWN_SCENARIO,
                          config=False),
    "scenario-file-sandbox": Case(("sandbox", "--scenario", "bad-scenario.yaml", "--port",
                                   "0"), broken_scenario_file, 2,
                                  ("scenario error:", "bad-scenario.yaml", "not valid YAML"),
                                  config=False),
    # an escalation code the ledger does not hold
    "unknown-code-answer": Case(("answer", "E999", "Yes, it ships today."),
                                known_escalations, 2,
                                ("answer refused:", "there is no escalation E999")),
    "unknown-code-escalations-show": Case(("escalations", "show", "E999"), known_escalations,
                                          2, ("unknown escalation:", "E999")),
    # many accounts: options that do not go together, and each account's run refused
    "all-and-account-run": Case(("run", "--all", "--account", "main"), write_config, 2,
                                ("Invalid value for --account", "--all runs every account")),
    "concurrency-without-all-run": Case(("run", "--concurrency", "2"), write_config, 2,
                                        ("Invalid value for --concurrency",
                                         "goes with --all")),
    "no-concurrency-run": Case(("run", "--all", "--concurrency", "0"), write_config, 2,
                               ("Invalid value for '--concurrency'",
                                "greater than or equal to 1")),
    "locked-run-all": Case(("run", "--all"), write_config, 4,
                           ("main:", *LOCKED), locked=True),
    "corrupt-ledger-run-all": Case(("run", "--all"), corrupt_ledger, 6,
                                   ("main:", "is corrupt", "rpa ledger")),
    "too-many-sellers-demo": Case(("demo", "--accounts", "13"), no_config, 2,
                                  ("scenario error:", "has 12 sellers", "ask for 1 to 12"),
                                  config=False),
    "scenario-and-accounts-demo": Case(("demo", "--accounts", "2", "--scenario", "healthy"),
                                       no_config, 2,
                                       ("Invalid value for --scenario", "leave --scenario out"),
                                       config=False),
    # the queue: none configured, one without the shared ledger, a password in its URL,
    # and a Redis server that is not there
    **{f"no-queue-{_named(cmd)}": Case(cmd, write_config, 2,
                                  ("configuration error:", "no queue is configured"))
       for cmd in [("worker",), ("enqueue",)]},
    "queue-without-ledger-enqueue": Case(
        ("enqueue", "--all"), lambda folder: write_config(
            folder, queue={"broker_url": "redis://127.0.0.1:9/0"}), 2,
        ("configuration error:", "a queue needs the PostgreSQL ledger")),
    "password-in-url-enqueue": Case(
        ("enqueue",), lambda folder: write_config(
            folder, queue={"broker_url": "redis://:hunter3secret@127.0.0.1:9/0"},
            ledger={"url": UNREACHABLE_DB}), 2,
        ("configuration error:", "holds a password", "environment"), hidden=("hunter3secret",)),
    "unreachable-queue-enqueue": Case(
        ("enqueue", "--all"), lambda folder: write_config(
            folder, queue={"broker_url": "redis://127.0.0.1:9/0"},
            ledger={"url": UNREACHABLE_DB}), 1,
        ("failed:", "the queue at redis://127.0.0.1:9/0 cannot be reached")),
    # a schedule is needed
    **{f"no-schedule-{_named(cmd)}": Case(cmd, without_schedule, 2,
                                     ("configuration error:", "schedule: is empty"))
       for cmd in [("schedule", "--once"), ("serve",)]},
}


@contextmanager
def _prepared(name: str, case: Case, root: Path) -> Iterator[list[str]]:
    """The case's folder made and its failure in place (the lock held while it runs);
    yields the `rpa` arguments."""
    folder = root / name
    folder.mkdir()
    config = case.failure(folder)
    args = [*case.command, *(["--config", str(config)] if case.config else [])]
    if not case.locked:
        yield args
        return
    with account_lock(folder / "state", "main"):
        yield args


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[dict[str, Future[subprocess.CompletedProcess[str]]]]:
    """Every case's process, three at a time. Each is a process of its own, forked from a
    server that has imported what `python -m rpa.cli` imports (tests/cli_forkserver.py):
    a fresh Python's start-up is about 0.7 s of CPU, eighty-odd times."""
    root = tmp_path_factory.mktemp("cli-errors")
    with CliForkServer({**os.environ, **ENV}) as server, ExitStack() as stack, \
            ThreadPoolExecutor(max_workers=3) as pool:
        running = {}
        for name, case in CASES.items():
            args = stack.enter_context(_prepared(name, case, root))
            running[name] = pool.submit(server.run, args, cwd=root / name, input=case.stdin,
                                        timeout=120)
        yield running  # the pool ends first, then the locks are let go, then the server


@pytest.mark.parametrize("name", list(CASES))
def test_an_error_raised_on_purpose_ends_the_command_with_its_message_and_exit_code(
        name: str, outcomes: dict[str, Future[subprocess.CompletedProcess[str]]]) -> None:
    case = CASES[name]
    proc = outcomes[name].result()
    shown = f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert "Traceback" not in proc.stdout + proc.stderr, shown
    for words in case.hidden:
        assert words not in proc.stdout + proc.stderr, shown
    assert proc.returncode == case.exit_code, shown
    stderr = " ".join(proc.stderr.split())
    for words in case.said:
        assert words in stderr, shown


def test_every_command_meets_a_failure() -> None:
    """A command added later gets a case here."""
    from typer.main import get_command

    from rpa.cli import app

    root = get_command(app)

    def paths(group: Any, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
        found: set[tuple[str, ...]] = set()
        for name, command in getattr(group, "commands", {}).items():
            found |= {(*prefix, name), *paths(command, (*prefix, name))}
        return found

    def command_of(args: tuple[str, ...]) -> tuple[str, ...]:
        node: Any = root
        path: tuple[str, ...] = ()
        for arg in args:
            node = getattr(node, "commands", {}).get(arg)
            if node is None:
                break
            path = (*path, arg)
        return path

    only_subcommands = {("selectors",), ("config",), ("ledger",)}
    reads_nothing = {("flows",)}  # lists the flows: no configuration, ledger or scenario
    covered = {command_of(case.command) for case in CASES.values()}
    assert paths(root) - only_subcommands - reads_nothing - covered == set()


@pytest.mark.parametrize(("raised", "exit_code", "said"), [
    (NeedsPerson("a puzzle [captcha] only a person can solve"), 3,
     "a person is needed: a puzzle [captcha] only a person can solve"),  # markup kept as text
    (PageError("HTTP 500 on /home"), 1, "failed: HTTP 500 on /home"),
    (RuntimeError("a bug"), None, None),
    (ValueError("a bug as well"), None, None),
])
def test_the_boundary_knows_the_bot_s_errors_and_lets_a_bug_s_traceback_through(
        raised: Exception, exit_code: int | None, said: str | None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from rpa.cli import app

    def load_flows() -> None:
        raise raised

    monkeypatch.setattr("rpa.run.registry.load_flows", load_flows)
    result = CliRunner().invoke(app, ["flows"])
    if exit_code is None or said is None:  # a bug: the exception leaves as it was raised
        assert result.exception is raised
        return
    assert result.exit_code == exit_code, result.output
    assert said in " ".join(result.output.split())
