"""The queue's refusals and failures, with real ``rpa worker`` processes, a throwaway
Redis and (where a run would reach it) PostgreSQL: what ``rpa config check`` says of the
queue; broker URLs that cannot be used; a job whose ledger is out of reach, whose worker
has another configuration, or that meets a bug of its own (tried again, then the owner
told; nothing run); a worker whose ledger would forget the SQLite one (refused at its
start)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from rpa.config import Config, parse_config
from rpa.ledger import Ledger
from rpa.practice.receiver import Receiver
from rpa.practice.redis import RedisServer
from rpa.queue import enqueue, make_app
from tests.conftest import PgDatabase
from tests.test_queue import Workers, _queued_config, _ready, _result, worker_env

pytestmark = [pytest.mark.queue]


def test_config_check_names_the_queue_and_its_missing_password(tmp_path: Path) -> None:
    """Without a server: the check says whether the queue's password is set (the workers
    and rpa enqueue need it), and never shows it."""
    data = {"accounts": [{"name": "shop", "email": "va@example.org", "password_env": "X_PW",
                          "totp_secret_env": "X_TOTP"}],
            "va": {"full_name": "Maria Santos", "initials": "MS"},
            "flows": ["followups"],
            "paths": {"state_dir": str(tmp_path / "state"),
                      "recordings_dir": str(tmp_path / "recordings")},
            "ledger": {"url": "postgresql://rpa@127.0.0.1:9/ledger"},
            "queue": {"broker_url": "redis://127.0.0.1:9/0", "password_env": "T_Q_PASSWORD"}}
    path = tmp_path / "rpa.yaml"
    path.write_text(yaml.safe_dump(data))
    env = {k: v for k, v in worker_env().items() if k != "T_Q_PASSWORD"}

    def check(**more: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "rpa.cli", "config", "check", "--config",
                               str(path)], cwd=tmp_path, env={**env, **more},
                              capture_output=True, text=True, timeout=120, check=False)

    missing = check()
    assert missing.returncode == 2, missing.stdout + missing.stderr
    assert "T_Q_PASSWORD is NOT set" in missing.stdout
    assert "queue.password_env: T_Q_PASSWORD is not set" in missing.stderr
    present = check(T_Q_PASSWORD="s3cret-queue-pass")
    assert present.returncode == 0, present.stdout + present.stderr
    assert "its password is set" in present.stdout
    assert "s3cret-queue-pass" not in present.stdout + present.stderr


@pytest.mark.parametrize(("url", "said"), [
    ("http://queue:6379/0", "must start with redis:// or rediss://"),
    ("redis://:hunter4@queue:6379/0", "holds a password"),
    ("redis:///0", "names no host"),
    ("redis://queue:port/0", "not a URL"),
])
def test_a_queue_url_that_cannot_be_used_is_refused_naming_the_key(
        url: str, said: str, tmp_path: Path) -> None:
    from rpa.errors import ConfigError

    data = {"accounts": [{"name": "shop", "email": "va@example.org", "password_env": "X_PW",
                          "totp_secret_env": "X_TOTP"}],
            "va": {"full_name": "Maria Santos", "initials": "MS"},
            "ledger": {"url": "postgresql://rpa@db:5432/rpa"},
            "queue": {"broker_url": url}}
    with pytest.raises(ConfigError) as err:
        parse_config(data, "test-queue-url")
    assert "queue.broker_url" in str(err.value) and said in str(err.value)
    assert "hunter4" not in str(err.value)


def _shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receiver: Receiver | None = None,
          ledger: dict[str, Any] | None = None) -> dict[str, Any]:
    """One account whose run never reaches Seller Central in these tests; its owner texted
    at ``receiver``; the ledger out of reach unless ``ledger`` is given."""
    monkeypatch.setenv("X_PW", "not-used")
    monkeypatch.setenv("X_TOTP", "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    data: dict[str, Any] = {
        "accounts": [{"name": "shop", "email": "va@example.org", "password_env": "X_PW",
                      "totp_secret_env": "X_TOTP"}],
        "va": {"full_name": "Maria Santos", "initials": "MS"},
        "paths": {"state_dir": str(tmp_path / "state"),
                  "recordings_dir": str(tmp_path / "recordings")},
        "ledger": ledger or {"url": "postgresql://rpa@127.0.0.1:9/ledger"},
    }
    if receiver is not None:
        monkeypatch.setenv("T_SMS_URL", receiver.url("sms"))
        data["notify"] = {"sms": {"url_env": "T_SMS_URL"}}
    return data


def _one_job(queuer: Config, config: Path, folder: Path) -> tuple[dict[str, Any], str]:
    """A worker on ``config`` takes the one job ``queuer`` puts on the queue: the job's
    outcome, and the worker's log."""
    workers = Workers(config, worker_env(), folder)
    workers.start(1)
    try:
        _ready(queuer, workers, 1)
        (queued,) = enqueue(queuer, ["shop"])
        return _result(queuer, str(queued.job_id), workers, timeout_s=120), \
            workers.log("w1@test")
    finally:
        workers.stop()


def _nothing_ran(tmp_path: Path) -> bool:
    return not (tmp_path / "recordings").exists() or not any(
        (tmp_path / "recordings").iterdir())


def test_a_job_that_cannot_read_the_ledger_is_tried_again_then_the_owner_is_told(
        redis_server: RedisServer, receiver: Receiver, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The database out of reach: the job is not dropped on the first try, nothing runs,
    and after the last attempt the owner hears why (the run itself could not say)."""
    base = parse_config(_shop(tmp_path, monkeypatch, receiver), "test-queue-ledger")
    cfg, config = _queued_config(base, redis_server, tmp_path, monkeypatch,
                                 retry_delay_s=1, max_attempts=2)
    outcome, said = _one_job(cfg, config, tmp_path)
    assert outcome["status"] == "ledger" and outcome["exit_code"] == 6, outcome
    assert "cannot be reached" in said and "starting all the same" in said, said[-2000:]
    assert outcome["attempt"] == 2 and outcome["run_id"] is None
    assert "could not be read" in outcome["message"]
    texts = receiver.messages("sms")
    assert len(texts) == 1 and "shop's run did not happen after 2 attempts" in texts[0]
    assert "ledger could not be read" in texts[0]
    assert _nothing_ran(tmp_path), "nothing ran"


def test_a_worker_whose_configuration_differs_does_not_run_the_job(
        redis_server: RedisServer, receiver: Receiver, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The job was queued with one rpa.yaml and the only worker has another (its VA's
    initials and a template changed, its folders its own): nothing runs with the worker's
    file; the job is tried again, then the owner is told, naming what differs."""
    data = _shop(tmp_path, monkeypatch, receiver)
    queuer, _ = _queued_config(parse_config(data, "queuer"), redis_server, tmp_path,
                               monkeypatch, retry_delay_s=1, max_attempts=2)
    other = tmp_path / "other"
    other.mkdir()
    changed = {**data, "va": {"full_name": "Maria Santos", "initials": "XY"},
               "paths": {"state_dir": str(other / "state"),
                         "recordings_dir": str(tmp_path / "recordings")},
               "browser": {"headless": True, "timeout_ms": 9000}}
    changed_cfg = parse_config(changed, "worker")
    changed_cfg = changed_cfg.model_copy(update={"replies": changed_cfg.replies[1:]})
    _, config = _queued_config(changed_cfg, redis_server, other, monkeypatch,
                               retry_delay_s=1, max_attempts=2)
    config_data = yaml.safe_load(config.read_text())
    config_data["queue"]["name"] = queuer.queue.name  # type: ignore[union-attr]
    config.write_text(yaml.safe_dump(config_data))
    outcome, _said = _one_job(queuer, config, other)
    assert outcome["status"] == "config" and outcome["exit_code"] == 2, outcome
    assert outcome["attempt"] == 2 and outcome["run_id"] is None
    assert "replies, va differ" in outcome["message"], outcome["message"]
    texts = receiver.messages("sms")
    assert len(texts) == 1 and "not the one that queued it" in texts[0], texts
    assert _nothing_ran(tmp_path), "nothing ran"


@pytest.mark.postgres
def test_a_worker_whose_ledger_would_forget_the_sqlite_one_does_not_start(
        redis_server: RedisServer, pg_database: PgDatabase, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty PostgreSQL ledger beside a SQLite one that has runs (not copied yet): the
    worker refuses at its start, exit 6, as each of its runs would."""
    base = parse_config(_shop(tmp_path, monkeypatch, ledger=pg_database.config),
                        "test-queue-copy-first")
    cfg, config = _queued_config(base, redis_server, tmp_path, monkeypatch)
    old = Ledger(tmp_path / "state" / "ledger.sqlite")
    old.start_run("20261206T070000Z-shop-a1b2c3", "shop", False)
    old.close()
    done = subprocess.run([sys.executable, "-m", "rpa.cli", "worker", "--config", str(config)],
                          cwd=tmp_path, env=worker_env(), capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 6, done.stdout + done.stderr
    assert "has no runs yet" in done.stderr and "rpa ledger copy" in done.stderr


BUG_HOOK = r'''
import os, sys

if os.environ.get("BUG_IN_JOB") and sys.argv[:1] != ["-c"]:
    import rpa.queue.jobs as jobs

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug of the job's own")

    jobs.run_in_child = broken
'''


@pytest.mark.postgres
def test_a_job_that_meets_a_bug_texts_the_owner_and_fails_visibly(
        redis_server: RedisServer, receiver: Receiver, pg_database: PgDatabase,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An exception of the job's own (not a run's outcome): the owner is texted, and the
    job ends FAILURE with the error, never quietly."""
    base = parse_config(_shop(tmp_path, monkeypatch, receiver, ledger=pg_database.config),
                        "test-queue-bug")
    cfg, config = _queued_config(base, redis_server, tmp_path, monkeypatch)
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(BUG_HOOK)
    env = worker_env()
    env.update(BUG_IN_JOB="1", PYTHONPATH=f"{hook}{os.pathsep}{env['PYTHONPATH']}")
    workers = Workers(config, env, tmp_path)
    workers.start(1)
    try:
        _ready(cfg, workers, 1)
        (queued,) = enqueue(cfg, ["shop"])
        app = make_app(cfg)
        try:
            res = app.AsyncResult(queued.job_id)
            res.get(timeout=120, propagate=False)
            state, error = res.state, str(res.result)
        finally:
            app.close()
    finally:
        workers.stop()
    assert state == "FAILURE" and "a bug of the job's own" in error
    texts = receiver.messages("sms")
    assert len(texts) == 1 and "shop's run did not happen after 1 attempt:" in texts[0], texts
    assert "a bug" in texts[0]
