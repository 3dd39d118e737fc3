"""The demo: the whole routine against the bundled sandbox, with throwaway state.

A sandbox Seller Central and a local notification receiver are started on loopback; the
practice credentials go into this process's environment only; evidence goes to the
recordings folder like any run, so the report can be opened afterwards.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rpa.config import parse_config
from rpa.practice.receiver import Receiver
from rpa.practice.sandbox import SandboxServer
from rpa.run.orchestrator import RunResult, run
from rpa.seller_central.replies import DEFAULT_REPLIES


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


def demo_config_data(url: str, login: dict[str, str], state_dir: Path,
                     recordings: Path, mail: Any = None) -> dict[str, Any]:
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
    return data


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


def run_demo(scenario: str = "at-risk", *, headed: bool = False,
             recordings: Path = Path("recordings"),
             on_step: Callable[[str, Any], None] | None = None,
             mailbox: bool = True,
             ) -> tuple[RunResult, list[tuple[str, str]], str]:
    """Run the routine on the sandbox (and a throwaway mailbox when Dovecot is here).

    Returns the result, the texts the owner got, and why the mailbox was skipped ("" when
    it ran).
    """
    server = SandboxServer(scenario)
    server.start()
    receiver = Receiver().start()
    mail, skipped = (None, "turned off") if not mailbox else (None, "")
    try:
        if mailbox:
            mail, skipped = start_demo_mailbox()
        login = scenario_login(server)
        os.environ["RPA_DEMO_SC_PASSWORD"] = login["password"]
        os.environ["RPA_DEMO_SC_TOTP"] = login["totp_secret"]
        os.environ["RPA_DEMO_SMS_URL"] = receiver.url("sms")
        os.environ["RPA_DEMO_DETAILS_URL"] = receiver.url("details")
        with tempfile.TemporaryDirectory(prefix="rpa-demo-") as tmp:
            data = demo_config_data(server.url, login, Path(tmp) / "state",
                                    recordings.resolve(), mail)
            cfg = parse_config(data, f"demo:{scenario}")
            result = run(cfg, headed=headed, on_step=on_step)
        received = [(item.path.strip("/"), item.message) for item in receiver.items]
        return result, received, skipped
    finally:
        if mail is not None:
            mail.cleanup()
        receiver.stop()
        server.stop()
