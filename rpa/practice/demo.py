"""The demo: the whole routine against the bundled sandbox, in a folder of its own.

A sandbox Seller Central and a local notification receiver are started on loopback; the
practice credentials go into this process's environment only. Each demo keeps its state
(ledger, saved sign-in) and its recordings together in a fresh folder under the demo home
(``demo/<time>/``, ``demo/latest`` pointing at the newest), so a second demo tells the same
story from a clean start, and ``rpa console --demo`` shows one demo's runs beside its own
ledger. The last few demos are kept; older ones are removed.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from rpa.browser.chromium import kept_open
from rpa.config import parse_config
from rpa.messaging.replies import DEFAULT_REPLIES
from rpa.practice.receiver import Receiver
from rpa.practice.sandbox import SandboxServer
from rpa.run.orchestrator import RunResult, run

DEMO_HOME = Path("demo")
KEEP_DEMOS = 5
LATEST = "latest"
_DEMO_NAME = re.compile(r"^\d{8}-\d{6}-\d{6}$")  # date-time-microseconds: sorts by age


def new_demo_folder(home: Path = DEMO_HOME, *, keep: int = KEEP_DEMOS) -> Path:
    """A fresh folder for one demo (``home/<time>/`` with ``state/`` and ``recordings/``);
    ``home/latest`` points at it, and demos beyond the newest ``keep`` are removed."""
    home.mkdir(parents=True, exist_ok=True)
    while True:  # another demo started in the same microsecond: take the next one
        folder = home / datetime.now().strftime("%Y%m%d-%H%M%S-%f")
        try:
            folder.mkdir(mode=0o700)
            break
        except FileExistsError:
            continue
    for sub in ("state", "recordings"):
        (folder / sub).mkdir(mode=0o700)
    link = home / f".{LATEST}-{os.getpid()}"
    link.unlink(missing_ok=True)
    link.symlink_to(folder.name)
    os.replace(link, home / LATEST)  # the switch is atomic: never a missing "latest"
    demos = sorted(p for p in home.iterdir()
                   if p.is_dir() and not p.is_symlink() and _DEMO_NAME.match(p.name))
    for old in demos[:-keep] if keep > 0 else []:
        if old != folder:
            shutil.rmtree(old, ignore_errors=True)
    return folder


def latest_demo(home: Path = DEMO_HOME) -> Path | None:
    """The newest demo's folder, or None when no demo has run under ``home``."""
    link = home / LATEST
    if not link.is_symlink() and not link.is_dir():
        return None
    folder = link.resolve()
    return folder if (folder / "state").is_dir() else None


def _get(obj: Any, name: str) -> Any:
    return obj[name] if isinstance(obj, dict) else getattr(obj, name)


def scenario_login(server: SandboxServer) -> dict[str, str]:
    """Practice credentials and the account/marketplace to pick, from the sandbox scenario."""
    sc = server.scenario
    seller = _get(sc, "seller")
    account = _get(sc, "accounts")[0]
    markets = _get(account, "marketplaces")
    return {
        "email": str(_get(seller, "email")),
        "password": str(_get(seller, "password")),
        "totp_secret": str(_get(seller, "totp_secret")),
        "account_name": str(_get(account, "name")),
        "marketplace": str(_get(markets[-1], "name")),
    }


# The demo seller keeps one template that breaks Amazon's rules (it holds a link), so the
# demo shows a reply being stopped and escalated instead of sent.
DEMO_BAD_TEMPLATE = {
    "name": "warranty",
    "when": ["warranty"],
    "text": ("Hello {buyer_first_name}, every product comes with a one-year warranty; "
             "register it at www.acme-goods.example/warranty. Best regards, {va_full_name}"),
}


# The owner's answers the demo gives, to show the loop closing.
DEMO_BUYER_ANSWER = ("Thank you for waiting. We checked with our warehouse: your order is "
                     "updated as you asked, and you will see the change in Your Orders today.")
DEMO_EMAIL_ANSWER = "Thank you, we accept. Please go ahead as proposed."


def demo_config_data(url: str, login: dict[str, str], state_dir: Path,
                     recordings: Path, mail: Any = None,
                     smtp_port: int | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "replies": [*DEFAULT_REPLIES, DEMO_BAD_TEMPLATE],
        "accounts": [{
            "name": "demo", "base_url": url, "email": login["email"],
            "password_env": "RPA_DEMO_SC_PASSWORD", "totp_secret_env": "RPA_DEMO_SC_TOTP",
            "account_name": login["account_name"], "marketplace": login["marketplace"],
        }],
        "va": {"full_name": "Maria Santos", "initials": "MS"},
        "notify": {"sms": {"url_env": "RPA_DEMO_SMS_URL"},
                   "details": {"url_env": "RPA_DEMO_DETAILS_URL", "label": "Upwork"}},
        "paths": {"state_dir": str(state_dir), "recordings_dir": str(recordings)},
    }
    if mail is not None:
        from rpa.practice.mailcorpus import OWNER_ADDRESS

        data["mailbox"] = {"host": mail.host, "port": mail.port, "tls": False,
                           "user": mail.user, "password_env": "RPA_DEMO_MAIL_PASSWORD",
                           "owner_addresses": [OWNER_ADDRESS]}
    if smtp_port is not None:
        data["smtp"] = {"host": "127.0.0.1", "port": smtp_port, "security": "none",
                        "from_address": "support@acme-goods.example",
                        "from_name": "Acme Goods Support"}
    return data


def _owner_email(code: str, token: str, answer: str) -> bytes:
    """The owner's reply to an escalation text, by email: the demo's mail server (a plain
    Dovecot) authenticates nothing, so the answer carries its proof itself: the code with
    the answer token the owner's text showed ("E005-K7QP: ...")."""
    from email.message import EmailMessage
    from email.utils import formatdate, make_msgid

    from rpa.practice.mailcorpus import OWNER_ADDRESS

    msg = EmailMessage()
    msg["From"] = f"Sam Carter <{OWNER_ADDRESS}>"
    msg["To"] = "support@acme-goods.example"
    msg["Subject"] = f"{code}-{token}"
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain="acme-goods.example")
    msg.set_content(f"{code}-{token}: {answer}\n\nSam\n")
    return msg.as_bytes()


def close_the_loop(cfg: Any, result: RunResult, mail: Any, smtp: Any,
                   on_step: Callable[[str, Any], None] | None = None) -> list[str]:
    """After the routine: the owner answers one buyer question (entered with the same
    path as ``rpa answer``) and one email (a reply mail); the bot delivers both. Returns
    one line per step, for the summary."""
    from rpa.ledger import Ledger
    from rpa.owner.answers import submit

    lines: list[str] = []
    threads = [t for t in result.data.get("threads", [])
               if str(t.get("escalation") or "").startswith("B")]
    emails = [e for e in result.data.get("emails", [])
              if str(e.get("escalation") or "").startswith("E") and e["folder"] == "INBOX"]
    ledger = Ledger(Path(cfg.paths.state_dir) / "ledger.sqlite")
    try:
        if threads:
            code = threads[0]["escalation"]
            submit(ledger, cfg, code, DEMO_BUYER_ANSWER, via="cli", by=cfg.va.full_name)
            lines.append(f"{code}: the owner's answer entered (rpa answer {code} \"...\")")
        token = ledger.answer_token(emails[0]["escalation"]) if emails else ""
    finally:
        ledger.close()
    if threads:
        delivered = run(cfg, flows=["answers"], on_step=on_step)
        code, tid = threads[0]["escalation"], threads[0]["thread_id"]
        ok = delivered.data["escalations"].get("delivered") == [code]
        lines.append(f"{code}: " + (f"answer sent in thread {tid} ({threads[0]['buyer']}); "
                                    "the sandbox thread shows it" if ok
                                    else f"answer NOT delivered (run {delivered.status})"))
    if emails and mail is not None and smtp is not None:
        code = emails[0]["escalation"]
        mail.append("INBOX", _owner_email(code, token, DEMO_EMAIL_ANSWER))
        lines.append(f"{code}: the owner replied by email with the code and the answer token "
                     f"from the text ({code}-{token}), the proof the mail is the owner's")
        replied = run(cfg, flows=["mailbox"], on_step=on_step)
        sent = [m for m in smtp.messages() if str(m["Subject"]).startswith("Re:")]
        proof = (replied.data.get("observations", {}).get("email_answers") or {}) \
            .get("proofs", {}).get(code)
        if replied.data["escalations"].get("delivered") == [code] and sent:
            lines.append(f"{code}: answer taken (proof: {proof}); threaded reply to "
                         f"{sent[-1]['To']} caught by the local SMTP server "
                         f"(\"{sent[-1]['Subject']}\"); original marked read, escalation "
                         "closed")
        else:
            lines.append(f"{code}: reply NOT sent (run {replied.status})")
    return lines


def start_demo_mailbox() -> tuple[Any, str]:
    """A throwaway Dovecot seeded with the demo's mails, or None and why it cannot run."""
    from rpa.practice import dovecot
    from rpa.practice.mailcorpus import demo_mails

    ok, why = dovecot.available()
    if not ok:
        return None, why
    server = dovecot.DovecotServer().start()  # makes (and later removes) its own folder
    for folder, raws in demo_mails().items():
        server.append_many(folder, raws)
    os.environ["RPA_DEMO_MAIL_PASSWORD"] = server.password
    return server, ""


class DemoOutcome(NamedTuple):
    """What one demo did: the routine's result, the texts the owner got, why the mailbox
    was skipped ("" when it ran), the loop's lines, and the demo's folder."""

    result: RunResult
    received: list[tuple[str, str]]
    mail_skipped: str
    loop: list[str]
    folder: Path


def run_demo(scenario: str = "at-risk", *, headed: bool = False, home: Path = DEMO_HOME,
             on_step: Callable[[str, Any], None] | None = None,
             mailbox: bool = True, loop: bool = True) -> DemoOutcome:
    """Run the routine on the sandbox (and a throwaway mailbox when Dovecot is here), then
    (``loop``) close the loop: the owner answers, the answers reach the buyer and sender.
    State and recordings go into a new folder under ``home`` (:func:`new_demo_folder`);
    an unknown scenario is refused (ValueError) before it is made.
    """
    from rpa.practice.smtpserver import SmtpServer

    server = SandboxServer(scenario)  # an unknown scenario is refused before anything starts
    folder = new_demo_folder(home).resolve()
    server.start()
    receiver = Receiver().start()
    smtp = SmtpServer().start()
    mail, skipped = (None, "turned off") if not mailbox else (None, "")
    loop_lines: list[str] = []
    try:
        if mailbox:
            mail, skipped = start_demo_mailbox()
        login = scenario_login(server)
        os.environ["RPA_DEMO_SC_PASSWORD"] = login["password"]
        os.environ["RPA_DEMO_SC_TOTP"] = login["totp_secret"]
        os.environ["RPA_DEMO_SMS_URL"] = receiver.url("sms")
        os.environ["RPA_DEMO_DETAILS_URL"] = receiver.url("details")
        # The routine and the loop's answers run one after the other: one Chromium for both.
        with kept_open():
            data = demo_config_data(server.url, login, folder / "state",
                                    folder / "recordings", mail, smtp.port)
            cfg = parse_config(data, f"demo:{scenario}")
            result = run(cfg, headed=headed, on_step=on_step)
            received = [(item.path.strip("/"), item.message) for item in receiver.items]
            if loop and result.status == "ok":
                loop_lines = close_the_loop(cfg, result, mail, smtp, on_step)
                result.data["loop"] = loop_lines
        return DemoOutcome(result, received, skipped, loop_lines, folder)
    finally:
        if mail is not None:
            mail.cleanup()
        smtp.stop()
        receiver.stop()
        server.stop()


def demo_console_config(folder: Path) -> tuple[Any, str, str]:
    """A configuration to look at one demo in the console: its recordings and its own state
    (ledger, saved sign-in), and one viewer with a fresh random password (returned, to be
    shown once). Returns (config, user name, password)."""
    import secrets

    from rpa.console.web import hash_password

    password = secrets.token_urlsafe(12)
    folder = folder.resolve()
    data = demo_config_data("http://127.0.0.1:9", {
        "email": "demo@example.com", "password": "", "totp_secret": "",
        "account_name": "Demo", "marketplace": "United States"}, folder / "state",
        folder / "recordings")
    data["console"] = {"users": [{"name": "demo", "role": "viewer",
                                  "password_hash": hash_password(password)}]}
    return parse_config(data, "demo console"), "demo", password
