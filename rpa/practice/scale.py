"""The demo of scale: several sandbox sellers, one account each, run N at a time.

The sandbox serves the first N sellers of ``six-sellers``, or of ``twelve-sellers`` (the
same six, then six more) for seven to twelve (each its own login, names, figures and buyer
messages; :mod:`rpa.practice.sandbox.sellers`); the configuration gets one account
per seller, each with owner channels of its own (``accounts[].notify``, to the local
receiver under the account's name), and the runs go through the same path as
``rpa run --all``: a process per account, ``concurrency`` at a time. State and recordings
go into a fresh demo folder (:func:`rpa.practice.demo.new_demo_folder`), so
``rpa console --demo`` shows it. The mailbox is left out: the throwaway Dovecot serves one
mailbox, and the point here is Seller Central for many accounts.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from rpa.config import Config, parse_config
from rpa.messaging.replies import DEFAULT_REPLIES
from rpa.practice.demo import DEMO_HOME, new_demo_folder
from rpa.practice.receiver import Receiver
from rpa.practice.sandbox.sellers import SellersSandbox, load_sellers
from rpa.run.fleet import Job, Outcome, run_many

# The bundled sellers files the demo serves, smallest first: the first with enough sellers.
SELLERS_FILES = ("six-sellers", "twelve-sellers")
SCALE_FLOWS = ["login", "dashboard", "performance", "buyer_messages", "answers", "followups"]


def sellers_file(count: int) -> str:
    """The sellers file that serves ``count`` accounts: ``six-sellers`` up to six (the demo
    as it always was), ``twelve-sellers`` up to twelve; more than any has, the largest (whose
    refusal names how many it has)."""
    for name in SELLERS_FILES:
        if count <= len(load_sellers(name)):
            return name
    return SELLERS_FILES[-1]


def account_name(seller_account: str) -> str:
    """A configuration account name from a seller's account name ("Acme Goods":
    "acme-goods")."""
    return re.sub(r"[^a-z0-9]+", "-", seller_account.lower()).strip("-") or "seller"


def scale_config_data(sandbox: SellersSandbox, receiver: Receiver, state_dir: Path,
                      recordings: Path, flows: list[str] | None = None
                      ) -> tuple[dict[str, Any], dict[str, str]]:
    """One account per seller (its first account, last marketplace, as the single demo
    picks), secrets and channels named per account (each owner's texts to the receiver
    under ``sms/<account>`` and ``details/<account>``). Returns the configuration's data
    and the environment its secrets are read from (the runs' processes inherit it)."""
    accounts = []
    env: dict[str, str] = {}
    for n, server in enumerate(sandbox.servers, start=1):
        sc = server.scenario
        chosen = sc.accounts[0]
        name = account_name(chosen.name)
        env[f"RPA_DEMO_SC_PASSWORD_{n}"] = sc.seller.password
        env[f"RPA_DEMO_SC_TOTP_{n}"] = sc.seller.totp_secret
        env[f"RPA_DEMO_SMS_URL_{n}"] = receiver.url(f"sms/{name}")
        env[f"RPA_DEMO_DETAILS_URL_{n}"] = receiver.url(f"details/{name}")
        accounts.append({
            "name": name, "base_url": server.url, "email": sc.seller.email,
            "password_env": f"RPA_DEMO_SC_PASSWORD_{n}",
            "totp_secret_env": f"RPA_DEMO_SC_TOTP_{n}",
            "account_name": chosen.name, "marketplace": chosen.marketplaces[-1].name,
            "notify": {"sms": {"url_env": f"RPA_DEMO_SMS_URL_{n}"},
                       "details": {"url_env": f"RPA_DEMO_DETAILS_URL_{n}",
                                   "label": "Upwork"}},
        })
    return {
        "replies": list(DEFAULT_REPLIES),
        "accounts": accounts,
        "va": {"full_name": "Maria Santos", "initials": "MS"},
        "paths": {"state_dir": str(state_dir), "recordings_dir": str(recordings)},
        "flows": list(flows or SCALE_FLOWS),
    }, env


class ScaleOutcome(NamedTuple):
    """What the demo of scale did: each account's outcome, the texts each account's owner
    got (account -> [(channel, text)]), and the demo's folder."""

    outcomes: list[Outcome]
    received: dict[str, list[tuple[str, str]]]
    folder: Path
    config: Config


Runner = Callable[[Config, list[Job]], list[Outcome]]


def run_scale_demo(count: int = 6, *, concurrency: int = 3, headed: bool = False,
                   home: Path = DEMO_HOME, run: Runner | None = None) -> ScaleOutcome:
    """Run ``count`` sandbox sellers' accounts, ``concurrency`` at a time. ``run`` runs the
    jobs (default: :func:`rpa.run.fleet.run_many` with that concurrency; the CLI passes
    its live view). More sellers than the largest file has (twelve) are refused (a
    ValueError) before anything starts."""
    sellers = sellers_file(count)
    sandbox = SellersSandbox(sellers, count=count)
    folder = new_demo_folder(home).resolve()
    receiver = Receiver().start()
    try:
        sandbox.start()
        data, env = scale_config_data(sandbox, receiver, folder / "state",
                                      folder / "recordings")
        os.environ.update(env)
        cfg = parse_config(data, f"demo:{sellers}")
        jobs = [Job(a.name) for a in cfg.accounts]
        outcomes = (run(cfg, jobs) if run is not None
                    else run_many(cfg, jobs, concurrency=concurrency, headed=headed))
        received: dict[str, list[tuple[str, str]]] = {a.name: [] for a in cfg.accounts}
        for item in receiver.items:
            channel, _, account = item.path.strip("/").partition("/")
            received.setdefault(account, []).append((channel, item.message))
        return ScaleOutcome(outcomes, received, folder, cfg)
    finally:
        receiver.stop()
        sandbox.stop()
