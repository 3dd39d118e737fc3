"""Many accounts on one machine: every account N at a time, each isolated.

- Six sandbox sellers (``six-sellers``: one login, names, figures and buyer messages each)
  run three at a time, each in a process of its own, tell the same per-account story as
  six runs one after another in this process: figures, every thread's decision and reply
  (as the sandbox received it), the owner's texts on that account's own channel. One of
  them meets a CAPTCHA in both: it needs a person (exit 3) and the five others are as
  they are when it does not fail.
  To stay affordable the runs are the flows that matter for isolation, ``dashboard`` and
  ``buyer_messages`` (``login`` before them, on a saved sign-in): about a minute of the
  suite, not six whole routines twice.
- The same account is never run twice at once: a second ``rpa run --account A`` exits 4
  while the first holds the account's lock; ``rpa run --all`` leaves an account whose run
  is in progress elsewhere (``locked``, exit 4) and runs the others.
- The pieces: the worst exit code, the default concurrency, each account's own owner
  channels (and the texts a crash left half-sent, sent again only by that account's
  runs), a run's process killed from outside, and the configuration's checks.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from rpa.config import Config, needed_secrets, parse_config
from rpa.errors import ConfigError
from rpa.ledger import Ledger
from rpa.owner.notify import Notifier
from rpa.practice.receiver import Receiver
from rpa.practice.sandbox import SandboxServer, SellersSandbox
from rpa.practice.sandbox.web import SESSION_COOKIE
from rpa.practice.scale import account_name, scale_config_data
from rpa.run.fleet import Job, Outcome, default_concurrency, run_many, worst_exit
from rpa.run.orchestrator import _runs_texts, account_lock, notifier_urls, run

FLOWS = ["dashboard", "buyer_messages"]
CAPTCHA_SELLER = 2  # cedar-and-pine-outdoors: its sandbox shows a CAPTCHA
# An escalation code's answer token ("AG-B004-K7QP") and a run id differ from one run to
# the next by design (random; a fresh id each run). The code itself does not: each account
# numbers its own series, whatever the others do meanwhile.
CODE = re.compile(r"\b((?:[A-Z][A-Z0-9]{0,4}-)?[BREFS]\d{3,5})-[A-Z2-9]{4}\b")
RUN_ID = re.compile(r"\d{8}T\d{6}Z-[A-Za-z0-9_.-]+-[0-9a-f]{6}")


@pytest.fixture(scope="module")
def sellers() -> Iterator[SellersSandbox]:
    with SellersSandbox("six-sellers") as fleet:
        yield fleet


def _fresh(sellers: SellersSandbox, cfg: Config) -> None:
    """Every seller's sandbox as new, each account signed in yesterday (a saved browser
    state), the CAPTCHA seller's next page a CAPTCHA."""
    for n, (server, acc) in enumerate(zip(sellers.servers, cfg.accounts, strict=True)):
        server.state.reset()
        token = server.state.grant_session()
        host = server.url.split("://", 1)[1].split(":", 1)[0]
        state = {"cookies": [{"name": SESSION_COOKIE, "value": token, "domain": host,
                              "path": "/", "expires": -1, "httpOnly": True, "secure": False,
                              "sameSite": "Lax"}], "origins": []}
        path = Path(cfg.paths.state_dir) / "browser" / f"{acc.name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(state))
        path.chmod(0o600)
        if n == CAPTCHA_SELLER:
            server.state.apply_faults({"captcha": True})


def _story(result: Any, server: SandboxServer, texts: list[str]) -> dict[str, Any]:
    """What one account's run did, without what differs between runs by design."""
    data = result.data
    obs = data["observations"]
    state = server.state.snapshot()
    return {
        "status": data["status"], "exit": result.exit_code,
        "flows": {name: f["status"] for name, f in data["flows"].items()},
        "errors": [(e["flow"], e["kind"], e["reason"]) for e in data["errors"]],
        "figures": CODE.sub(r"\1", json.dumps([obs["unshipped"], obs["performance"],
                                                obs["buyer_messages"]])),
        "threads": sorted((t["thread_id"], t["buyer"], t["decision"], t["sent"],
                           CODE.sub(r"\1", t["escalation"] or "")) for t in data["threads"]),
        "replies": sorted((r["thread_id"], r["text"]) for r in state["replies"]),
        "no_response": sorted(r["thread_id"] for r in state["no_response"]),
        "texts": sorted(RUN_ID.sub("RUN", CODE.sub(r"\1", t)) for t in texts),
    }


def _texts(receiver: Receiver, account: str) -> list[str]:
    return [i.message for i in receiver.items if i.path.strip("/") == f"sms/{account}"]


def _config(sellers: SellersSandbox, receiver: Receiver, folder: Path,
            monkeypatch: pytest.MonkeyPatch) -> Config:
    data, env = scale_config_data(sellers, receiver, folder / "state", folder / "recordings",
                                  FLOWS)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    data["browser"] = {"timeout_ms": 8000, "trace": False, "screenshots": "fast"}
    return parse_config(data, "test-many")


def test_six_accounts_three_at_a_time_tell_the_serial_story_and_a_failing_one_changes_none(
        sellers: SellersSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Six runs one after another, in this process.
    serial: dict[str, dict[str, Any]] = {}
    with Receiver() as receiver:
        cfg = _config(sellers, receiver, tmp_path / "serial", monkeypatch)
        _fresh(sellers, cfg)
        results = [run(cfg, account=acc.name) for acc in cfg.accounts]
        # Each seller's sandbox is its own, and a text has arrived once its run returned.
        for result, server, acc in zip(results, sellers.servers, cfg.accounts, strict=True):
            serial[acc.name] = _story(result, server, _texts(receiver, acc.name))

    # The same six, three at a time, each in a process of its own.
    running: set[str] = set()
    most = 0
    lock = threading.Lock()

    def on_event(account: str, what: str, detail: Any) -> None:
        nonlocal most
        with lock:
            if what == "start":
                running.add(account)
                most = max(most, len(running))
            elif what == "end":
                running.discard(account)

    with Receiver() as receiver:
        cfg = _config(sellers, receiver, tmp_path / "together", monkeypatch)
        _fresh(sellers, cfg)
        outcomes = run_many(cfg, [Job(a.name) for a in cfg.accounts], concurrency=3,
                            on_event=on_event)
        together = {o.account: _story(o.result, server, _texts(receiver, o.account))
                    for o, server in zip(outcomes, sellers.servers, strict=True)
                    if o.result is not None}

    assert most == 3, "three at a time, no more and no fewer"
    assert [o.account for o in outcomes] == [a.name for a in cfg.accounts]
    assert sorted(together) == sorted(serial), [(o.account, o.status, o.message)
                                                for o in outcomes]
    for name in serial:
        assert together[name] == serial[name], name
    failing = cfg.accounts[CAPTCHA_SELLER].name
    assert together[failing]["exit"] == 3 and together[failing]["errors"][0][2] == "captcha"
    assert together[failing]["texts"], "its owner is told, on its own channel"
    others = [n for n in together if n != failing]
    assert all(together[n]["status"] == "ok" for n in others)
    assert sum(len(together[n]["replies"]) for n in others) >= 5
    assert worst_exit(o.exit_code for o in outcomes) == 3
    # Each account's run keeps its own run.json; the codes of all of them never repeat.
    folders = [o.result.folder for o in outcomes if o.result is not None]
    assert len({f.name for f in folders}) == 6
    assert all(json.loads((f / "run.json").read_text())["account"] in f.name for f in folders)
    codes = [t["escalation"] for o in outcomes if o.result is not None
             for t in o.result.data["threads"] if t["escalation"]]
    assert codes and len(codes) == len(set(codes))
    # ... and each account's are its own series: its prefix, numbered from 001 on
    series = cfg.code_series()
    assert len(set(series.values())) == 6
    for o in outcomes:
        if o.result is None:
            continue
        opened = o.result.data["escalations"].get("opened", [])
        assert all(c.startswith(series[o.account] + "-") for c in opened), (o.account, opened)
        mine = sorted(int(c.rsplit("-", 1)[1][1:]) for c in opened)
        assert mine == list(range(1, len(mine) + 1)), (o.account, opened)


# ---- the same account is never run twice at once -----------------------------------------

def _rpa(*args: str, cwd: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.Popen([sys.executable, "-m", "rpa.cli", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _cli_config(folder: Path, accounts: list[dict[str, Any]], **more: Any) -> Path:
    data = {"accounts": accounts, "va": {"full_name": "Maria Santos", "initials": "MS"},
            "paths": {"state_dir": str(folder / "state"),
                      "recordings_dir": str(folder / "recordings")}, **more}
    path = folder / "rpa.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_second_run_of_the_same_account_exits_4_while_the_first_holds_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server = SandboxServer("healthy").start()
    try:
        sc = server.scenario
        monkeypatch.setenv("T_MANY_PW", sc.seller.password)
        monkeypatch.setenv("T_MANY_TOTP", sc.seller.totp_secret)
        config = _cli_config(tmp_path, [{
            "name": "A", "base_url": server.url, "email": sc.seller.email,
            "password_env": "T_MANY_PW", "totp_secret_env": "T_MANY_TOTP",
            "account_name": sc.accounts[0].name,
            "marketplace": sc.accounts[0].marketplaces[0].name}],
            flows=["login"], browser={"trace": False})
        # The first run's first page is held unanswered: it holds the lock meanwhile.
        server.state.apply_faults({"hang": "/home"})
        first = _rpa("run", "--account", "A", "--config", str(config), cwd=tmp_path)
        lock = tmp_path / "state" / "locks" / "A.lock"
        deadline = time.monotonic() + 60
        while not (lock.is_file() and lock.read_text().strip() == str(first.pid)):
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "the first run never took the lock"
            time.sleep(0.05)
        second = _rpa("run", "--account", "A", "--config", str(config), cwd=tmp_path)
        out, err = second.communicate(timeout=120)
        assert second.returncode == 4, out + err
        assert f"another run for account 'A' is in progress (pid {first.pid})" in \
            " ".join(err.split())
        server.state.clear_faults()  # the held page is answered: the first run goes on
        out, err = first.communicate(timeout=180)
        assert first.returncode == 0, out + err
    finally:
        server.stop()


def test_run_all_leaves_an_account_in_progress_elsewhere_and_runs_the_others(
        tmp_path: Path) -> None:
    accounts = [{"name": n, "email": "va@example.org", "password_env": "T_NONE",
                 "totp_secret_env": "T_NONE"} for n in ("north", "south", "west")]
    config = _cli_config(tmp_path, accounts, flows=["followups"])
    with account_lock(tmp_path / "state", "south"):
        proc = _rpa("run", "--all", "--concurrency", "2", "--config", str(config),
                    cwd=tmp_path)
        out, err = proc.communicate(timeout=180)
    assert proc.returncode == 4, out + err  # the worst: locked (4) beats ok (0)
    rows = {line.split()[0]: line.split() for line in out.splitlines()  # the table's rows
            if line.split() and line.split()[0] in ("north", "south", "west")}
    assert rows["north"][1:3] == ["ok", "0"] and rows["west"][1:3] == ["ok", "0"], out
    assert rows["south"][1:3] == ["locked", "4"], out
    assert "south: another run for account 'south' is in progress" in " ".join(err.split())
    assert "2 at a time" in out and "Traceback" not in out + err
    runs = sorted(p.name for p in (tmp_path / "recordings").iterdir() if not p.is_symlink())
    assert [r.split("-")[1] for r in runs] == sorted(["north", "west"])


# ---- the pieces -----------------------------------------------------------------------------

@pytest.mark.parametrize(("codes", "worst"), [
    ([0, 4, 5, 1, 3, 2, 6], 6), ([0, 4, 5, 1, 3, 2], 2), ([0, 4, 5, 1, 3], 3),
    ([0, 4, 5, 1], 1), ([0, 4, 5], 5), ([0, 4], 4), ([0, 0], 0), ([], 0), ([0, 9], 1),
])
def test_the_worst_exit_code_of_many(codes: list[int], worst: int) -> None:
    assert worst_exit(codes) == worst
    assert worst_exit(reversed(codes)) == worst


@pytest.mark.parametrize(("cores", "memory_mb", "expected"), [
    (2, 24_000, 3),  # at most the cores + 1
    (8, 2_100, 3),  # one browser per 700 MB of available memory
    (8, 500, 1),  # at least one
    (1, 1_400, 2),
])
def test_the_default_concurrency(cores: int, memory_mb: int, expected: int) -> None:
    assert default_concurrency(cores, memory_mb) == expected


def _two_accounts(**first: Any) -> Config:
    base = {"email": "va@example.org", "password_env": "T_PW", "totp_secret_env": "T_TOTP"}
    return parse_config({
        "accounts": [{"name": "acme", **base, **first}, {"name": "birch", **base}],
        "va": {"full_name": "Maria Santos", "initials": "MS"},
        "notify": {"sms": {"url_env": "T_AGENCY_SMS"}},
    }, "test-many")


def test_an_account_s_own_owner_channels_replace_the_top_level_ones(
        monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = _two_accounts(notify={"sms": {"url_env": "T_ACME_SMS"},
                                "details": {"url_env": "T_ACME_DETAILS"}})
    acme, birch = cfg.accounts
    assert needed_secrets(cfg, acme, ["followups"]) == {
        "notify.sms": ("T_ACME_SMS", "accounts[0].notify.sms.url_env"),
        "notify.details": ("T_ACME_DETAILS", "accounts[0].notify.details.url_env")}
    assert needed_secrets(cfg, birch, ["followups"]) == {
        "notify.sms": ("T_AGENCY_SMS", "notify.sms.url_env")}
    secrets = {"notify.sms": "json://acme/sms", "notify.details": "json://acme/details"}
    assert notifier_urls(cfg.notify_for(acme)[0], secrets) == {
        "sms": ["json://acme/sms"], "details": ["json://acme/details"]}


@pytest.mark.parametrize(("change", "key", "words"), [
    ({"accounts": [{"name": "acme", "email": "a@b.example", "password_env": "P",
                    "totp_secret_env": "T"}] * 2}, "accounts[1].name", "used twice"),
    ({"concurrency": 0}, "concurrency", "greater than or equal to 1"),
    ({"schedule": [{"cron": "0 8 * * *", "account": "acme", "all_accounts": True}]},
     "schedule[0]", "not both"),
    ({"accounts": [{"name": "acme", "email": "a@b.example", "password_env": "P",
                    "totp_secret_env": "T", "notify": {"sms": {"email_to": "o@b.example"}}}]},
     "accounts[0].notify.sms.email_to", "needs the smtp section"),
])
def test_the_configuration_of_many_accounts_is_checked(change: dict[str, Any], key: str,
                                                       words: str) -> None:
    data: dict[str, Any] = {
        "accounts": [{"name": "acme", "email": "a@b.example", "password_env": "P",
                      "totp_secret_env": "T"}],
        "va": {"full_name": "Maria Santos", "initials": "MS"}, **change}
    with pytest.raises(ConfigError) as caught:
        parse_config(data, "test-many")
    assert key in str(caught.value) and words in str(caught.value)


def test_a_text_left_half_sent_is_sent_again_only_by_its_own_account_s_runs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs of several accounts share the outbox: a run sends again only the texts its own
    account's earlier runs left "sending", through its channels. Another account's run
    may be sending its own at this very moment; a text of no known run goes to the first
    account's runs only."""
    cfg = _two_accounts()
    ledger = Ledger(tmp_path / "ledger.sqlite")
    try:
        for key, text, run_id in [
                ("escalation:B001", "acme's text", "20261206T070000Z-acme-a1b2c3"),
                ("escalation:B002", "birch's text", "20261206T070001Z-birch-d4e5f6"),
                ("one-off", "no run's text", None)]:
            ledger.outbox_sending(key, "sms", text, "title", run_id)
        sent: dict[str, list[str]] = {}
        for account in ("birch", "acme"):
            notifier = Notifier(initials="MS", urls={"sms": ["json://127.0.0.1:9/sms"]},
                                ledger=ledger, run_id=f"20261206T080000Z-{account}-000000")
            got = sent.setdefault(account, [])
            monkeypatch.setattr(notifier, "_send",
                                lambda channel, text, title, only=None, got=got:
                                got.append(text) or True)
            notifier.resend_interrupted(
                lambda row, account=account: _runs_texts(cfg, account, row.get("run_id")))
    finally:
        ledger.close()
    assert sent == {"birch": ["birch's text"], "acme": ["acme's text", "no run's text"]}


def test_a_child_that_dies_is_reported_and_the_others_go_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run's process killed from outside (out of memory, a crash) is that account's
    outcome, exit 1, and its owner is texted (the run could not); the account after it
    still runs."""
    receiver = Receiver().start()
    monkeypatch.setenv("T_DOOMED_SMS", receiver.url("sms/doomed"))
    cfg = parse_config({
        "accounts": [{"name": n, "email": "va@example.org", "password_env": "T_NONE",
                      "totp_secret_env": "T_NONE",
                      **({"notify": {"sms": {"url_env": "T_DOOMED_SMS"}}} if n == "doomed"
                         else {})} for n in ("doomed", "fine")],
        "va": {"full_name": "Maria Santos", "initials": "MS"}, "flows": ["followups"],
        "paths": {"state_dir": str(tmp_path / "state"),
                  "recordings_dir": str(tmp_path / "recordings")},
    }, "test-many")

    def on_event(account: str, what: str, detail: Any) -> None:
        if account == "doomed" and what == "step" and detail[0] == "start":
            import signal

            lock = tmp_path / "state" / "locks" / "doomed.lock"
            os.kill(int(lock.read_text()), signal.SIGKILL)

    from loguru import logger

    said: list[str] = []  # what the bot logged meanwhile, to tell why a text went missing
    sink = logger.add(lambda m: said.append(str(m)), level="INFO")
    try:
        outcomes = run_many(cfg, [Job("doomed"), Job("fine")], concurrency=1,
                            on_event=on_event)
    finally:
        logger.remove(sink)
        receiver.stop()
    doomed, fine = outcomes
    assert (doomed.status, doomed.exit_code) == ("crashed", 1), doomed
    texts = _texts(receiver, "doomed")
    assert len(texts) == 1 and "doomed's run ended before it finished" in texts[0], (
        texts, receiver.items, said)
    assert _texts(receiver, "fine") == [], "a run that ended is not the subject"
    assert "SIGKILL" in doomed.message and doomed.result is None
    assert (fine.status, fine.exit_code) == ("ok", 0) and isinstance(fine, Outcome)
    assert worst_exit(o.exit_code for o in outcomes) == 1


def test_the_scale_demo_names_accounts_after_the_sellers() -> None:
    assert account_name("Cedar and Pine Outdoors") == "cedar-and-pine-outdoors"
    assert account_name("Acme Goods") == "acme-goods"


@pytest.mark.parametrize(("width", "terminal"), [(80, False), (80, True), (200, True)])
def test_the_final_table_shows_every_code_whole(width: int, terminal: bool, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Into a log or a pipe the table keeps its own width; in a narrow terminal the codes
    wrap, one a line: never cut short to "CAPO-…"."""
    import io

    from rich.console import Console

    from rpa.cli import many
    from rpa.run.orchestrator import RunResult

    out = io.StringIO()
    monkeypatch.setattr(many, "console", Console(file=out, width=width,
                                                 force_terminal=terminal, no_color=True))
    opened = ["CAPO-F001", "CAPO-B002", "CAPO-B003"]
    data = {"observations": {"unshipped": 2, "performance": {"label": "At Risk"},
                             "buyer_messages": 3},
            "threads": [{"sent": True}] * 3, "escalations": {"opened": opened}}
    outcomes = [Outcome("cedar-and-pine-outdoors", "ok", 0, 31.4,
                        result=RunResult("ok", 0, tmp_path, data)),
                Outcome("acme-goods", "needs_person", 3, 12.0,
                        result=RunResult("needs_person", 3, tmp_path, {}))]
    assert many.print_outcomes(outcomes, title="t") == 3
    said = out.getvalue()
    for code in opened:
        assert code in said, said
    assert "cedar-and-pine-outdoors" in said and "31.4s" in said
    if not terminal:
        assert "CAPO-F001, CAPO-B002, CAPO-B003" in said, "one line in a log"
