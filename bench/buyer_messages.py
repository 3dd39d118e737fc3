"""Time the buyer-messages flow on the sandbox's fifty threads and check its work.

    .venv/bin/python bench/buyer_messages.py [--scenario busy] [--repeat 1]

Signs in once (not timed), then runs the buyer-messages flow against the ``busy`` scenario
(fifty threads over several inbox pages) and prints the wall time, the seconds per thread
(median and slowest, from the steps' own timings) and whether every thread was handled
exactly once (exit 1 if not). Throwaway state; evidence goes to a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rpa import logs  # noqa: E402
from rpa.config import parse_config  # noqa: E402
from rpa.practice.demo import demo_config_data, scenario_login  # noqa: E402
from rpa.practice.receiver import Receiver  # noqa: E402
from rpa.practice.sandbox import SandboxServer  # noqa: E402
from rpa.run.orchestrator import run  # noqa: E402


def per_thread_seconds(data: dict) -> dict[str, float]:
    """Seconds spent on each thread: the sum of the steps named after it."""
    spent: dict[str, float] = defaultdict(float)
    for step in data["flows"]["buyer_messages"]["steps"]:
        name = step["name"]
        if name.startswith("thread "):
            spent[name.split()[1].rstrip(":")] += step["seconds"]
    return dict(spent)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="busy")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    logs.setup(False)
    failures = 0
    for attempt in range(1, args.repeat + 1):
        server = SandboxServer(args.scenario)
        server.start()
        receiver = Receiver().start()
        try:
            login = scenario_login(server)
            os.environ.update({"RPA_DEMO_SC_PASSWORD": login["password"],
                               "RPA_DEMO_SC_TOTP": login["totp_secret"],
                               "RPA_DEMO_SMS_URL": receiver.url("sms"),
                               "RPA_DEMO_DETAILS_URL": receiver.url("details")})
            with tempfile.TemporaryDirectory(prefix="rpa-bench-") as tmp:
                data = demo_config_data(server.url, login, Path(tmp) / "state",
                                        Path(tmp) / "rec")
                data["browser"] = {"trace": False}
                cfg = parse_config(data, "bench")
                signed = run(cfg, flows=["login"])
                if signed.status != "ok":
                    print(f"sign-in failed: {signed.data['errors']}")
                    return 1
                started = time.monotonic()
                result = run(cfg, flows=["buyer_messages"])
                wall = time.monotonic() - started
            state = server.state.snapshot()
            threads = len(result.data["threads"])
            answered = len(state["replies"]) + len(state["no_response"])
            once = len({r["thread_id"] for r in state["replies"]}) == len(state["replies"])
            ok = (result.status == "ok" and answered == threads
                  and state["buyer_messages"] == 0 and once)
            failures += not ok
            spent = sorted(per_thread_seconds(result.data).values())
            print(f"run {attempt}: {threads} threads in {wall:.1f} s "
                  f"({wall / max(threads, 1):.2f} s a thread overall); per thread median "
                  f"{statistics.median(spent):.2f} s, slowest {spent[-1]:.2f} s; "
                  f"{'every thread handled once' if ok else 'NOT every thread handled once'}")
        finally:
            receiver.stop()
            server.stop()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
