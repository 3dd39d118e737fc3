"""Shared fixtures: a real sandbox Seller Central, a real HTTP receiver, configs for them,
and a throwaway PostgreSQL server with a database per test."""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rpa import logs
from rpa.browser.chromium import KeptBrowser, kept_open
from rpa.config import Config, parse_config
from rpa.practice import postgres
from rpa.practice import redis as throwaway_redis
from rpa.practice.demo import scenario_login
from rpa.practice.receiver import Receiver
from rpa.practice.sandbox import SandboxServer


class Sandbox:
    """The running sandbox plus its control API."""

    def __init__(self, server: SandboxServer) -> None:
        self.server = server
        self.url = server.url
        self.scenario_name = "healthy"

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def reset(self, scenario: str) -> None:
        self.scenario_name = scenario
        self._call("POST", "/__sandbox/reset", {"scenario": scenario})

    def state(self) -> dict[str, Any]:
        return self._call("GET", "/__sandbox/state")

    def fault(self, **faults: Any) -> None:
        self._call("POST", "/__sandbox/faults", faults)

    def login(self) -> dict[str, str]:
        return scenario_login(self.server)

    def saved_state(self, path: Path) -> None:
        """Write a browser state at ``path`` holding a session the sandbox granted: the
        next run starts signed in, as on a machine that signed in yesterday."""
        granted = self._call("POST", "/__sandbox/session")
        host = self.url.split("://", 1)[1].split(":", 1)[0]
        state = {"cookies": [{"name": granted["cookie"], "value": granted["token"],
                              "domain": host, "path": "/", "expires": -1, "httpOnly": True,
                              "secure": False, "sameSite": "Lax"}], "origins": []}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(state))
        path.chmod(0o600)


# The files that take longest go first (with --no-loadscope-reorder, in pyproject.toml):
# each worker takes whole files as it frees up, and a long file handed out last keeps one
# worker busy while the others wait (35 s in one run). The order is their time on a worker
# in a whole run with `-n 3` (--durations, 6 Dec, the machine shared): a file not named
# here takes under 20 s and comes after these, in file order.
LONGEST_FIRST = (
    "test_cli.py",  # 114 s: the demo twice (then the console), selectors check --live x3
    "test_buyer_messages.py",  # 79 s: the 14-thread flow, five times and a killed run
    "test_many_accounts.py",  # 78 s: six sellers one after another, then three at a time
    "test_queue.py",  # 61 s: workers killed at each point
    "test_signin_variants.py",  # 60 s, much of it waiting out pages that never load
    "test_ledger_postgres_faults.py",  # 55 s: two runs killed at a reply, and re-run
    "test_queue_refusals.py",  # jobs tried again then given up, at 1 s between tries
    "test_answers.py", "test_ledger_reliability.py", "test_messaging_variants.py",
    "test_code_series.py",  # a run answered by email, a ledger made anew
    "test_routine.py", "test_console_actions.py",
    "test_browser_profile.py",  # 38 s: a Chromium start a run
    "test_home_labels.py",  # 33 s, 20 of them a first paint waited for on purpose
    "test_console.py", "test_account_picker.py", "test_failures.py", "test_teach.py",
    "test_cli_errors.py",  # 82 `rpa` processes, forked: a fifth of a second of CPU each
    "test_signin_saved_pages.py", "test_home_variants.py", "test_console_guards.py",
    "test_mailbox.py", "test_artifacts_security.py", "test_new_seller_central.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: file order kept


@pytest.fixture(scope="session", autouse=True)
def kept_browser() -> Iterator[KeptBrowser]:
    """The runs of a test worker share one driver and Chromium, a context each (as the demo's
    runs do): a run's launch costs a context instead of a start, over a second of CPU.
    Tests that start browsers of their own take its driver (``kept_browser.playwright()``),
    since a thread has one; a test of the launch itself sets it aside."""
    with kept_open() as kept:
        yield kept


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    server = SandboxServer("healthy")
    server.start()
    yield server
    server.stop()


@pytest.fixture()
def sandbox(sandbox_server: SandboxServer) -> Sandbox:
    sb = Sandbox(sandbox_server)
    sb.reset("healthy")
    return sb


@pytest.fixture(scope="session")
def pg_server() -> Iterator[postgres.PostgresServer]:
    """One throwaway PostgreSQL server per test worker, started on first use (about a
    second) and stopped when the worker ends; each test takes a database of its own."""
    ok, why = postgres.available()
    if not ok:
        pytest.skip(f"PostgreSQL is not available: {why}")
    with postgres.PostgresServer() as server:
        yield server


@pytest.fixture(scope="session")
def redis_server() -> Iterator[throwaway_redis.RedisServer]:
    """One throwaway Redis server per test worker, started on first use (a tenth of a
    second) and stopped when the worker ends; what a test leaves in it stays for the next
    (FLUSHALL, or a key prefix of the test's own)."""
    ok, why = throwaway_redis.available()
    if not ok:
        pytest.skip(f"Redis is not available: {why}")
    with throwaway_redis.RedisServer() as server:
        yield server


@dataclass(frozen=True)
class PgDatabase:
    """A fresh database on the throwaway server: its URL (no password in it), the
    password, and the environment variable a configuration names for it."""

    url: str
    password: str
    password_env: str = "T_PG_PASSWORD"

    @property
    def config(self) -> dict[str, str]:
        """The configuration's ``ledger:`` section for it."""
        return {"url": self.url, "password_env": self.password_env}


@pytest.fixture()
def pg_database(pg_server: postgres.PostgresServer,
                monkeypatch: pytest.MonkeyPatch) -> Iterator[PgDatabase]:
    """A database of this test's own (dropped after it), its password in the environment."""
    url = pg_server.create_database()
    db = PgDatabase(url, pg_server.password)
    monkeypatch.setenv(db.password_env, db.password)
    yield db
    pg_server.drop_database(url.rsplit("/", 1)[1])


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    rx = Receiver().start()
    yield rx
    rx.stop()


@pytest.fixture(autouse=True)
def _quiet_logs() -> None:
    logs.setup(False)


@pytest.fixture()
def make_config(tmp_path: Path, sandbox: Sandbox, receiver: Receiver,
                monkeypatch: pytest.MonkeyPatch) -> Callable[..., Config]:
    """Build a config for the sandbox's current scenario; secrets go into the environment."""

    def build(*, signed_in: bool = False, **overrides: Any) -> Config:
        """``signed_in``: the run starts with a saved sign-in (for tests that are not
        about signing in: a full sign-in costs seconds); it holds until the sandbox is
        reset, after which the bot signs in as usual."""
        login = sandbox.login()
        monkeypatch.setenv("T_SC_PASSWORD", login["password"])
        monkeypatch.setenv("T_SC_TOTP", login["totp_secret"])
        monkeypatch.setenv("T_SMS_URL", receiver.url("sms"))
        monkeypatch.setenv("T_DETAILS_URL", receiver.url("details"))
        data: dict[str, Any] = {
            "accounts": [{
                "name": "test",
                "base_url": sandbox.url,
                "email": login["email"],
                "password_env": "T_SC_PASSWORD",
                "totp_secret_env": "T_SC_TOTP",
                "account_name": login["account_name"],
                "marketplace": login["marketplace"],
            }],
            "va": {"full_name": "Maria Santos", "initials": "MS"},
            "notify": {"sms": {"url_env": "T_SMS_URL"},
                       "details": {"url_env": "T_DETAILS_URL", "label": "Upwork"}},
            "browser": {"timeout_ms": 8000},
            "flows": ["login", "dashboard", "performance"],
            "paths": {"state_dir": str(tmp_path / "state"),
                      "recordings_dir": str(tmp_path / "recordings")},
        }
        for key, value in overrides.items():
            section, _, field = key.partition("__")
            if field:
                data.setdefault(section, {})[field] = value
            else:
                data[key] = value
        # No Playwright trace unless a test asks (``browser__trace=True``): the trace's
        # own tests look at it, and it costs a run about a tenth of its CPU.
        data["browser"].setdefault("trace", False)
        # Screenshots encoded for speed unless a test asks: the same pixels for half the
        # encoding CPU. The product's default ("compact") is taken by the `rpa` commands the
        # tests run and by tests/test_screenshots.py.
        data["browser"].setdefault("screenshots", "fast")
        # The saved state file unless a test asks for the persistent profile (the product's
        # default; tests/test_browser_profile.py, the `rpa` commands the tests run): a
        # profile is a Chromium start per run where the kept browser costs a context. A
        # login run on a saved sign-in took 0.35-0.4 s more CPU with a profile and 0.5-1.5 s
        # more time (1.0-1.5 s a run against 1.8-3.0 s, 2 busy cores, 6 Dec): over the
        # suite's few hundred runs, a minute or two of CPU.
        data["browser"].setdefault("profile", "storage_state")
        cfg = parse_config(data, "test-config")
        if signed_in:
            sandbox.saved_state(Path(cfg.paths.state_dir) / "browser" / "test.json")
        return cfg

    return build


def all_text_files(folder: Path) -> Iterator[tuple[Path, bytes]]:
    """Every file under ``folder`` as bytes, zip members unpacked (traces are zips)."""
    import zipfile

    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as zf:
                for name in zf.namelist():
                    yield path / name, zf.read(name)
        else:
            yield path, path.read_bytes()


os.environ.setdefault("RPA_TEST", "1")


# ---- docs/reliability.md: written when scripts/reliability_matrix.py runs the suite ----
_fault_results: dict[str, str] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if not os.environ.get("RPA_RELIABILITY_OUT"):
        return
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        test = report.nodeid.split("[", 1)[0]  # every parameter set must pass
        if _fault_results.get(test) != "failed":
            _fault_results[test] = report.outcome


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    out = os.environ.get("RPA_RELIABILITY_OUT")
    if not out or hasattr(session.config, "workerinput"):
        return  # with pytest-xdist the controller, which hears every worker, writes it
    from tests.faults import render

    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(render(_fault_results), encoding="utf-8")
