"""Benchmark: mailbox triage of a big mailbox on a throwaway Dovecot.

Seeds N messages (default 10,000: 80 % Inbox, 20 % Spam) with a realistic mix of Amazon
notices, buyer messages, unknown mail and lookalikes, runs the mailbox flow (owner texts go
to a local receiver), and prints the time taken and the number of IMAP commands sent.

    .venv/bin/python scripts/bench_mailbox.py [-n 10000] [--dry-run]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rpa import logs  # noqa: E402
from rpa.config import parse_config  # noqa: E402
from rpa.practice import dovecot  # noqa: E402
from rpa.practice.mailcorpus import OWNER_ADDRESS, bulk_mails  # noqa: E402
from rpa.practice.receiver import Receiver  # noqa: E402
from rpa.run.orchestrator import run  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=10_000, help="messages in all (default 10000)")
    ap.add_argument("--dry-run", action="store_true", help="decide only, change nothing")
    args = ap.parse_args()
    logs.setup(False)
    ok, why = dovecot.available()
    if not ok:
        print(f"Dovecot is not available: {why}")
        return 1
    inbox_n = args.n * 4 // 5
    mails = bulk_mails(args.n, seed=1)
    with dovecot.DovecotServer() as server, tempfile.TemporaryDirectory() as tmp:
        server.start()
        t0 = time.monotonic()
        server.append_many("INBOX", mails[:inbox_n])
        server.append_many("Junk", mails[inbox_n:])
        print(f"seeded {inbox_n} Inbox + {args.n - inbox_n} Spam messages "
              f"in {time.monotonic() - t0:.1f} s")
        receiver = Receiver().start()
        os.environ.update({"BENCH_SC_PW": "unused", "BENCH_SC_TOTP": "JBSWY3DPEHPK3PXP" * 2,
                           "BENCH_MAIL_PW": server.password,
                           "BENCH_SMS": receiver.url("sms"),
                           "BENCH_DETAILS": receiver.url("details")})
        cfg = parse_config({
            "accounts": [{"name": "bench", "email": "seller@example.com",
                          "password_env": "BENCH_SC_PW", "totp_secret_env": "BENCH_SC_TOTP"}],
            "va": {"full_name": "Maria Santos", "initials": "MS"},
            "notify": {"sms": {"url_env": "BENCH_SMS"},
                       "details": {"url_env": "BENCH_DETAILS", "label": "Upwork"}},
            "mailbox": {"host": server.host, "port": server.port, "tls": False,
                        "user": server.user, "password_env": "BENCH_MAIL_PW",
                        "owner_addresses": [OWNER_ADDRESS]},
            "paths": {"state_dir": f"{tmp}/state", "recordings_dir": f"{tmp}/rec"},
            "flows": ["mailbox"],
        }, "bench")
        t0 = time.monotonic()
        result = run(cfg, dry_run=args.dry_run)
        took = time.monotonic() - t0
        receiver.stop()
        obs = result.data["observations"]
        folders = result.data["email_folders"]
        print(f"run status: {result.status}{' (dry run)' if args.dry_run else ''}")
        for name, counts in folders.items():
            print(f"  {name}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        print(f"messages triaged: {len(result.data['emails'])}")
        print(f"owner texts sent: {len(receiver.items)}")
        print(f"IMAP commands sent: {obs.get('imap_commands')}")
        print(f"triage time: {took:.1f} s")
        return 0 if result.status == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
