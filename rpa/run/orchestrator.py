"""The orchestrator: one run for one account, flows in order, evidence and summary.

It takes the account's lock, resolves secrets and selectors before any browser starts,
runs each flow (retrying application errors within limits, never business outcomes),
skips flows whose needs did not succeed, and always writes run.json and report.html.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from loguru import logger

from rpa import redact
from rpa.config import Config, check_secrets
from rpa.errors import ApplicationError, BusinessError, NeedsPerson, RunLocked
from rpa.logs import add_run_log
from rpa.owner.notify import Notifier
from rpa.run.context import RunContext
from rpa.run.evidence import Evidence, new_run_id
from rpa.run.ledger import Ledger
from rpa.run.registry import plan
from rpa.seller_central.selectors import Selectors

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_PERSON, EXIT_LOCKED = 0, 1, 2, 3, 4


@dataclass
class RunResult:
    status: str
    exit_code: int
    folder: Path
    data: dict[str, Any]

    @property
    def report(self) -> Path:
        return self.folder / "report.html"


@contextmanager
def account_lock(state_dir: Path, account: str) -> Iterator[None]:
    """One run at a time per account; a second one fails at once with RunLocked."""
    lock_dir = state_dir / "locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    path = lock_dir / f"{account}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as err:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip()
            pid = f" (pid {holder})" if holder else ""
            raise RunLocked(f"another run for account '{account}' is in progress{pid}; "
                            "try again when it ends") from err
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)


def notifier_urls(cfg: Config, secrets: dict[str, str]) -> dict[str, list[str]]:
    urls: dict[str, list[str]] = {}
    for name in ("sms", "details"):
        if f"notify.{name}" in secrets:
            urls[name] = [secrets[f"notify.{name}"]]
    fallback = [v for k, v in secrets.items() if k.startswith("notify.fallback")]
    if fallback:
        urls["fallback"] = fallback
    return urls


def run(cfg: Config, *, account: str | None = None, flows: list[str] | None = None,
        dry_run: bool = False, headed: bool = False, assist: bool = False,
        on_step: Callable[[str, Any], None] | None = None) -> RunResult:
    """Run the chosen flows (default: the config's) for one account and return the outcome."""
    acc = cfg.account(account)
    # Everything that can be wrong with the configuration is found here, before Chromium.
    order = plan(flows or cfg.flows)
    secrets = check_secrets(cfg, acc, [f.name for f in order])
    redact.register(*secrets.values())
    selectors = Selectors.load(cfg.paths.selectors_file, cfg.browser.timeout_ms)
    from rpa.seller_central.otp import totp

    totp(secrets["totp_secret"])

    state_dir = Path(cfg.paths.state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    state_dir.chmod(0o700)
    with account_lock(state_dir, acc.name):
        run_id = new_run_id(acc.name)
        evidence = Evidence(Path(cfg.paths.recordings_dir), run_id)
        sink = add_run_log(evidence.folder / "run.log")
        ledger = Ledger(state_dir / "ledger.sqlite")
        ledger.start_run(run_id, acc.name, dry_run)
        sms_cfg = cfg.notify.sms
        details_cfg = cfg.notify.details
        notifier = Notifier(
            initials=cfg.va.initials, urls=notifier_urls(cfg, secrets),
            sms_limit=(sms_cfg.max_chars if sms_cfg and sms_cfg.max_chars else 160),
            details_label=(details_cfg.label if details_cfg and details_cfg.label
                           else "details"),
            ledger=ledger, run_id=run_id)
        ctx = RunContext(config=cfg, account=acc, secrets=secrets, selectors=selectors,
                         ledger=ledger, notifier=notifier, evidence=evidence, run_id=run_id,
                         dry_run=dry_run, headed=headed, assist=assist,
                         on_step=on_step)
        started = _now()
        logger.info("run {} for account {} — flows: {}", run_id, acc.name,
                    ", ".join(f.name for f in order))
        results: dict[str, dict[str, Any]] = {}
        errors: list[dict[str, Any]] = []
        try:
            for fl in order:
                results[fl.name] = _run_flow(ctx, fl, results, errors, cfg.retries.attempts)
        finally:
            if ctx.session is not None:
                try:
                    ctx.session.save_state()
                except Exception as err:  # noqa: BLE001
                    logger.warning("browser state not saved: {}", err)
                evidence.stop_trace()
                ctx.session.close()
            statuses = [r["status"] for r in results.values()]
            status = ("needs_person" if "needs_person" in statuses
                      else "failed" if "failed" in statuses or len(results) < len(order)
                      else "ok")
            data = _summary(ctx, started, status, results, errors)
            evidence.write_json(data)
            evidence.write_report(data)
            ledger.finish_run(run_id, status)
            ledger.close()
            logger.info("run {} finished: {} — report {}", run_id, status,
                        evidence.folder / "report.html")
            logger.remove(sink)
    code = {"ok": EXIT_OK, "failed": EXIT_FAILED, "needs_person": EXIT_PERSON}[status]
    return RunResult(status, code, evidence.folder, data)


def _run_flow(ctx: RunContext, fl: Any, results: dict[str, dict[str, Any]],
              errors: list[dict[str, Any]], attempts: int) -> dict[str, Any]:
    ctx.flow_name = fl.name
    first_step = len(ctx.steps)
    blocked = [n for n in fl.needs if results.get(n, {}).get("status") != "ok"]
    if blocked:
        logger.info("[{}] skipped: needs {}", fl.name, ", ".join(blocked))
        return {"status": "skipped", "reason": f"needs {', '.join(blocked)}",
                "attempts": 0, "steps": []}
    status, attempt = "failed", 0
    while attempt < attempts:
        attempt += 1
        try:
            fl.func(ctx)
            status = "ok"
            break
        except NeedsPerson as err:
            status = "needs_person"
            errors.append(_error(fl.name, err, attempt))
            ctx.alert(f"Seller Central needs a person: {err}. Run {ctx.run_id}.",
                      details=f"{err}\nPage: {err.url}\nEvidence: {ctx.evidence.folder}")
            break
        except BusinessError as err:
            status = "needs_person"
            errors.append(_error(fl.name, err, attempt))
            break
        except ApplicationError as err:
            errors.append(_error(fl.name, err, attempt))
            logger.warning("[{}] attempt {} of {} failed: {}", fl.name, attempt, attempts, err)
        except Exception as err:  # noqa: BLE001 - any other failure is recorded, run goes on
            wrapped = _error(fl.name, err, attempt)
            errors.append(wrapped)
            logger.exception("[{}] failed: {}", fl.name, err)
            break
    return {"status": status, "attempts": attempt,
            "steps": [s.as_dict() for s in ctx.steps[first_step:]]}


def _error(flow: str, err: BaseException, attempt: int) -> dict[str, Any]:
    kind = ("needs_person" if isinstance(err, BusinessError)
            else "application" if isinstance(err, ApplicationError) else "unexpected")
    return {"flow": flow, "kind": kind, "type": type(err).__name__,
            "message": str(err).splitlines()[0] if str(err) else type(err).__name__,
            "attempt": attempt, "url": getattr(err, "url", ""),
            "reason": getattr(err, "reason", None)}


def _summary(ctx: RunContext, started: str, status: str, results: dict[str, dict[str, Any]],
             errors: list[dict[str, Any]]) -> dict[str, Any]:
    obs = ctx.observations
    return {
        "run_id": ctx.run_id,
        "account": ctx.account.name,
        "started_at": started,
        "finished_at": _now(),
        "status": status,
        "dry_run": ctx.dry_run,
        "flows": results,
        "observations": {
            "unshipped": obs.get("unshipped"),
            "performance": obs.get("performance"),
            "buyer_messages": obs.get("buyer_messages"),
            **{k: v for k, v in obs.items()
               if k not in ("unshipped", "performance", "buyer_messages", "threads", "emails",
                            "email_folders")},
        },
        "threads": obs.get("threads", []),
        "emails": obs.get("emails", []),
        "email_folders": obs.get("email_folders", {}),
        "alerts": [s.__dict__ for s in ctx.notifier.sent],
        "errors": errors,
    }


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
