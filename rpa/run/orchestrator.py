"""The orchestrator: one run for one account, flows in order, evidence and summary.

It takes the account's lock, resolves secrets and selectors before any browser starts,
runs each flow (retrying application errors and browser timeouts within limits, never
business outcomes nor an error marked ``retryable = False``), skips flows whose needs did
not succeed, texts the owner when the run did not finish cleanly (once a day per cause),
and always writes run.json and report.html.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from loguru import logger
from playwright.sync_api import Error as PlaywrightError

from rpa import redact
from rpa.browser.display import needs_own_display
from rpa.browser.overlay import with_overlay
from rpa.browser.selectors import Selectors, declared_keys
from rpa.config import AccountConfig, Config, NotifyConfig, check_folders, check_secrets
from rpa.errors import ApplicationError, BusinessError, ConfigError, RunLocked
from rpa.ledger import LedgerBroken, advisory_lock
from rpa.logs import add_run_log
from rpa.owner import escalate
from rpa.owner.notify import EMAIL_SCHEME, Notifier
from rpa.run.context import RunContext, utc_now
from rpa.run.evidence import Evidence, account_of_run, emails_summary, new_run_id
from rpa.run.registry import plan
from rpa.run.storage import LedgerPlace, check, ledger_place, open_ledger
from rpa.smtp import SmtpSettings

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_PERSON, EXIT_LOCKED = 0, 1, 2, 3, 4
# 5: the run finished, but a text to the owner reached no channel (the report lists it);
# 6: the ledger is corrupt or lost, the run stopped before any side effect (restore it).
EXIT_UNDELIVERED, EXIT_LEDGER = 5, 6


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


@contextmanager
def run_lock(place: LedgerPlace, state_dir: Path, account: str) -> Iterator[None]:
    """The account's run lock where its ledger is: a PostgreSQL advisory lock (one run per
    account across every machine sharing the database), else the lock file."""
    if place.url:
        with advisory_lock(place.url, place.password, account):
            yield
    else:
        with account_lock(state_dir, account):
            yield


def notifier_urls(notify: NotifyConfig, secrets: dict[str, str]) -> dict[str, list[str]]:
    """Each channel's address: its Apprise URL, or ``email:<address>`` for a channel the
    bot sends as an email itself (through ``smtp``). ``notify`` is the account's
    (:meth:`Config.notify_for`)."""
    urls: dict[str, list[str]] = {}
    for name in ("sms", "details"):
        ch = getattr(notify, name)
        if ch is not None and ch.email_to:
            urls[name] = [f"{EMAIL_SCHEME}{ch.email_to}"]
        elif f"notify.{name}" in secrets:
            urls[name] = [secrets[f"notify.{name}"]]
    fallback = [f"{EMAIL_SCHEME}{ch.email_to}" if ch.email_to
                else secrets.get(f"notify.fallback[{i}]", "")
                for i, ch in enumerate(notify.fallback)]
    fallback = [u for u in fallback if u]
    if fallback:
        urls["fallback"] = fallback
    return urls


def smtp_settings(cfg: Config, secrets: dict[str, str]) -> SmtpSettings | None:
    """The SMTP server as the sender needs it (None when none is configured)."""
    sc = cfg.smtp
    if sc is None:
        return None
    return SmtpSettings(host=sc.host, port=sc.port, security=sc.security,
                        from_addr=sc.from_address, from_name=sc.from_name, user=sc.user,
                        password=secrets.get("smtp.password", ""),
                        ca_file=str(sc.ca_file) if sc.ca_file else None,
                        timeout_s=sc.timeout_s, allow_plaintext=sc.allow_plaintext)


def run(cfg: Config, *, account: str | None = None, flows: list[str] | None = None,
        dry_run: bool = False, headed: bool = False, assist: bool = False,
        on_step: Callable[[str, Any], None] | None = None,
        clock: Callable[[], datetime] | None = None,
        params: dict[str, Any] | None = None, worker: str | None = None,
        job: str | None = None) -> RunResult:
    """Run the chosen flows (default: the config's) for one account and return the outcome.

    ``clock`` (default: the real time, UTC) is what the flows see as now, e.g. for the
    follow-ups' 2 days; tests inject one. ``params``: what the command asks of its flows
    (``rpa teach``: the key and page), handed to them as ``RunContext.params``. ``worker``
    and ``job``: the queue's worker that took the run and the job it is (``rpa worker``),
    kept in the ledger's row of the run and in run.json.
    """
    acc = cfg.account(account)
    # Everything that can be wrong with the configuration is found here, before Chromium.
    order = plan(flows or cfg.flows)
    secrets = check_secrets(cfg, acc, [f.name for f in order])
    redact.register(*secrets.values())
    selectors = with_overlay(Selectors.load(cfg.paths.selectors_file, cfg.browser.timeout_ms),
                             cfg.paths.selectors_overlay)
    # Every key the page objects declare must be in the file (else exit 2, before Chromium);
    # they declared them as the flows planned above loaded them.
    selectors.require(declared_keys(with_check=any(f.name == "selectors_check"
                                                   for f in order)))
    check_folders(cfg)  # a folder that cannot be written: exit 2 here, not a traceback later
    if "totp_secret" in secrets:  # only runs that sign in to Seller Central have one
        from rpa.otp import totp

        idx = cfg.accounts.index(acc)
        totp(secrets["totp_secret"], key=f"accounts[{idx}].totp_secret_env", source=cfg.source)
        # A visible browser needs a display, or Xvfb to make one: exit 2 here, not later.
        needs_own_display(cfg.browser, headed)

    state_dir = Path(cfg.paths.state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    state_dir.chmod(0o700)
    place = ledger_place(cfg, secrets)
    with _stopped_by_ledger(cfg, acc, place, secrets), run_lock(place, state_dir, acc.name):
        recordings = Path(cfg.paths.recordings_dir)
        source = cfg.source if cfg.source and Path(cfg.source).is_file() else None
        check(place, recordings, config=source)
        notify, _key = cfg.notify_for(acc)
        run_id = new_run_id(acc.name)
        # before this run's folder becomes "latest"
        floor, series_floor = _last_counter(recordings)
        evidence = Evidence(recordings, run_id,
                            fast_screenshots=cfg.browser.screenshots == "fast")
        sink = add_run_log(evidence.folder / "run.log")
        ledger = open_ledger(place, code_floor=floor, series=cfg.code_series(),
                             series_floor=series_floor)
        ledger.start_run(run_id, acc.name, dry_run, worker=worker, job=job)
        sms_cfg = notify.sms
        details_cfg = notify.details
        notifier = Notifier(
            initials=cfg.va.initials, urls=notifier_urls(notify, secrets),
            sms_limit=(sms_cfg.max_chars if sms_cfg and sms_cfg.max_chars else 160),
            details_label=(details_cfg.label if details_cfg and details_cfg.label
                           else "details"),
            transliterate=bool(sms_cfg and sms_cfg.transliterate),
            ledger=ledger, run_id=run_id, smtp=smtp_settings(cfg, secrets))
        ctx = RunContext(config=cfg, account=acc, secrets=secrets, selectors=selectors,
                         ledger=ledger, notifier=notifier, evidence=evidence, run_id=run_id,
                         dry_run=dry_run, headed=headed, assist=assist,
                         on_step=on_step, clock=clock or utc_now, params=params or {})
        started = _now()
        logger.info("run {} for account {} — flows: {}", run_id, acc.name,
                    ", ".join(f.name for f in order))
        results: dict[str, dict[str, Any]] = {}
        errors: list[dict[str, Any]] = []
        try:
            if not dry_run:  # texts an earlier run's crash left unconfirmed: once more
                notifier.resend_interrupted(
                    lambda row: _runs_texts(cfg, acc.name, row.get("run_id")))
            for fl in order:
                results[fl.name] = _run_flow(ctx, fl, results, errors, cfg.retries.attempts)
        finally:
            if ctx.session is not None:
                evidence.stop_trace()  # first: the state saved next is the session
                try:
                    ctx.save_state()
                except Exception as err:  # noqa: BLE001
                    logger.warning("browser state not saved: {}", err)
                ctx.session.close()
            statuses = [r["status"] for r in results.values()]
            status = ("needs_person" if "needs_person" in statuses
                      else "failed" if "failed" in statuses or len(results) < len(order)
                      else "ok")
            run_alert = _alert_owner(ctx, status, results, errors) if status != "ok" else None
            data = _summary(ctx, started, status, results, errors)
            data["run_alert"] = run_alert
            if worker or job:
                data["worker"], data["job"] = worker, job
            data["warnings"] = [*ctx.warnings, *evidence.notes]
            data["undelivered"] = notifier.undelivered()
            data["escalation_counter"] = ledger.escalation_counter()
            data["escalation_series"] = ledger.series_counters()
            try:
                data["escalations"] = escalate.run_summary(ledger, acc.name, run_id,
                                                           ctx.clock())
            except Exception as err:  # noqa: BLE001 - the report must still be written
                logger.error("escalations summary not made: {}", err)
                data["escalations"] = {"error": str(err)}
            evidence.write_json(data)
            evidence.write_report(data)
            ledger.finish_run(run_id, status)
            if status == "ok":
                try:
                    with _backup_lock(state_dir):
                        ledger.backup()
                except Exception as err:  # noqa: BLE001 - the run's outcome stands
                    logger.error("ledger backup failed: {}", err)
            ledger.close()
            logger.info("run {} finished: {} — report {}", run_id, status,
                        evidence.folder / "report.html")
            logger.remove(sink)
    return RunResult(status, exit_code_of(status, data), evidence.folder, data)


def exit_code_of(status: str, data: dict[str, Any]) -> int:
    """A run's exit code from its status and its run.json's data (a text that reached no
    channel, a configuration error)."""
    code = {"ok": EXIT_OK, "needs_person": EXIT_PERSON}.get(status, EXIT_FAILED)
    if code == EXIT_OK and data.get("undelivered"):
        code = EXIT_UNDELIVERED
    if status == "failed" and any((e or {}).get("kind") == "config"
                                  for e in data.get("errors") or []):
        code = EXIT_CONFIG
    return code


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
        except BusinessError as err:
            status = "needs_person"
            errors.append(_error(fl.name, err, attempt))
            break
        except ConfigError as err:
            # Met only when reached (a mail server's certificate): configuration, not retried.
            errors.append(_error(fl.name, err, attempt))
            logger.error("[{}] configuration error: {}", fl.name, err)
            break
        except (ApplicationError, PlaywrightError) as err:
            # A browser timeout or dropped navigation is as technical as a missing element.
            errors.append(_error(fl.name, err, attempt))
            logger.warning("[{}] attempt {} of {} failed: {}", fl.name, attempt, attempts, err)
            if not getattr(err, "retryable", True):  # trying again would meet the same
                break
        except Exception as err:  # noqa: BLE001 - any other failure is recorded, run goes on
            wrapped = _error(fl.name, err, attempt)
            errors.append(wrapped)
            logger.exception("[{}] failed: {}", fl.name, err)
            break
    return {"status": status, "attempts": attempt,
            "steps": [s.as_dict() for s in ctx.steps[first_step:]]}


def _stop_cause(status: str, results: dict[str, dict[str, Any]],
                errors: list[dict[str, Any]]) -> dict[str, Any]:
    """What stopped the run: the person-needed error, else the first failed flow's last error."""
    if status == "needs_person":
        found = next((e for e in errors if e["kind"] == "needs_person"), None)
    else:
        failed = [name for name, r in results.items() if r["status"] == "failed"]
        found = next((e for e in reversed(errors) if failed and e["flow"] == failed[0]), None)
    if found is None:
        return {"flow": "run", "kind": "unexpected", "type": "Incomplete", "reason": None,
                "message": "the run ended before every flow had run", "url": ""}
    return found


def _alert_owner(ctx: RunContext, status: str, results: dict[str, dict[str, Any]],
                 errors: list[dict[str, Any]]) -> dict[str, Any]:
    """Text the owner that the run did not finish cleanly; the same cause once a day.

    The claim is written to the ledger before the text goes out, so a crash in between
    costs at most a repeat of an undelivered text, never a flood.
    """
    err = _stop_cause(status, results, errors)
    cause = f"{status}:{err['flow']}:{err.get('reason') or err['type']}"
    message = str(err["message"]).rstrip(".")
    if status == "needs_person":
        where = "The mailbox" if err["flow"] == "mailbox" else "Seller Central"
        text = f"{where} needs a person: {message}. Run {ctx.run_id}."
        short = f"{where} needs a person ({err.get('reason') or err['type']}). Run {ctx.run_id}."
    else:
        text = f"The {err['flow']} step failed: {message}. Run {ctx.run_id}."
        short = f"The {err['flow']} step failed ({err['type']}). Run {ctx.run_id}."
    details = "\n".join([text, *(f"- {e['flow']} (attempt {e['attempt']}): {e['message']}"
                                 + (f" at {e['url']}" if e.get("url") else "")
                                 for e in errors),
                         f"Evidence: {ctx.evidence.folder}"])
    day = datetime.now().astimezone().date().isoformat()
    record: dict[str, Any] = {"cause": cause, "day": day, "text": text, "sent": False,
                              "delivered": False, "already_texted_by": None}
    try:
        earlier = ctx.ledger.claim_run_alert(ctx.account.name, cause, day, ctx.run_id, text)
        if earlier is not None:
            record["already_texted_by"] = earlier["run_id"]
            logger.info("owner already told today about {} (run {}); no new text",
                        cause, earlier["run_id"])
            return record
        record["sent"] = True
        record["delivered"] = ctx.notifier.sms(text, details=details, short=short,
                                               title="Seller Central run",
                                               key=f"run_alert:{ctx.account.name}:{cause}:{day}")
        if record["delivered"]:
            ctx.ledger.run_alert_sent(ctx.account.name, cause, day)
    except Exception as err2:  # noqa: BLE001 - telling the owner must not hide the outcome
        logger.error("could not tell the owner about run {}: {}", ctx.run_id, err2)
    return record


def _last_counter(recordings: Path) -> tuple[int, dict[str, int]]:
    """The escalation counter the newest run.json recorded, and each code series' (0 and
    none when they cannot be read)."""
    try:
        data = json.loads((recordings / "latest" / "run.json").read_text())
        series = data.get("escalation_series") or {}
        return int(data.get("escalation_counter") or 0), {
            str(k): int(v) for k, v in series.items() if isinstance(v, int)}
    except (OSError, ValueError, TypeError, AttributeError):
        return 0, {}


def _runs_texts(cfg: Config, account: str, run_id: str | None) -> bool:
    """Whether a text an earlier run left "sending" is this account's run to send again: it
    is when that run was this account's (no run of it is in progress: the account's lock),
    never another account's, whose run may be sending it right now. A text of no known
    run goes to the first account's runs, so that only one process ever takes it."""
    owner = account_of_run(run_id)
    if owner is not None and any(a.name == owner for a in cfg.accounts):
        return owner == account
    return account == cfg.accounts[0].name


@contextmanager
def _backup_lock(state_dir: Path) -> Iterator[None]:
    """One ledger backup at a time on this state folder: runs of several accounts end
    together, and each keeps only the newest backups (two would delete the same old one).
    The lock file's name has a character no account name has."""
    lock_dir = state_dir / "locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_dir / "+ledger-backup.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def text_owner(cfg: Config, acc: AccountConfig, secrets: dict[str, str], text: str, *,
               details: str, title: str) -> bool:
    """Text the account's owner from outside a run (a Notifier without the ledger: the
    ledger may be what failed); ``secrets`` has the owner's channels. Never raises: a
    failure is logged and False returned."""
    notify, _key = cfg.notify_for(acc)
    notifier = Notifier(initials=cfg.va.initials, urls=notifier_urls(notify, secrets),
                        sms_limit=(notify.sms.max_chars if notify.sms
                                   and notify.sms.max_chars else 160),
                        smtp=smtp_settings(cfg, secrets))
    try:
        return bool(notifier.sms(text, details=details, title=title))
    except Exception as err:  # noqa: BLE001 - the caller's outcome must still be reported
        logger.error("could not text the owner of {}: {}", acc.name, err)
        return False


@contextmanager
def _stopped_by_ledger(cfg: Config, acc: AccountConfig, place: LedgerPlace,
                       secrets: dict[str, str]) -> Iterator[None]:
    """A run the ledger stops before any side effect (corrupt, lost, or its database out
    of reach: LedgerBroken) is texted to the owner (a Notifier without the ledger) with
    the way back, and the error raised on."""
    try:
        yield
    except LedgerBroken as err:
        logger.error("{}", err)
        what = {"corrupt": "corrupt", "unreachable": "out of reach",
                "outdated": "not up to date"}.get(err.reason, "missing")
        if err.reason == "unreachable":
            way = "The VA checks the database server and ledger.url"
        elif err.reason == "outdated":
            way = "The VA runs: rpa ledger migrate"
        elif place.url:
            way = "The VA copies the SQLite ledger over: rpa ledger copy"
        else:
            way = ("The VA restores it with: rpa ledger restore (or rpa ledger new when no "
                   "backup is left)")
        text_owner(cfg, acc, secrets, f"Bot stopped: its ledger is {what}; nothing was done. "
                   f"{way}", details=str(err), title="Seller Central bot stopped")
        raise


def _error(flow: str, err: BaseException, attempt: int) -> dict[str, Any]:
    kind = ("needs_person" if isinstance(err, BusinessError)
            else "config" if isinstance(err, ConfigError)
            else "application" if isinstance(err, (ApplicationError, PlaywrightError))
            else "unexpected")
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
        **emails_summary(obs.get("emails", [])),
        "email_folders": obs.get("email_folders", {}),
        "alerts": [s.__dict__ for s in ctx.notifier.sent],
        "errors": errors,
    }


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
