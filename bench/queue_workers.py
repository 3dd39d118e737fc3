"""Benchmark: twelve sandbox accounts through the queue (two ``rpa worker`` processes,
Redis and a PostgreSQL ledger on this machine) against ``rpa run --all`` at the same
concurrency.

Serves the twelve sellers of ``twelve-sellers`` from a process of their own (as Seller
Central is another machine), starts a throwaway PostgreSQL and Redis
(:mod:`rpa.practice.postgres`, :mod:`rpa.practice.redis`), then, each time from a fresh
state folder, freshly reset sellers and a fresh database:

1. ``rpa run --all --concurrency N`` with the SQLite ledger (the single-machine default);
2. the same with the PostgreSQL ledger (what the database alone costs);
3. two ``rpa worker --concurrency N/2`` processes, already started and ready (a worker is
   a service), and ``rpa enqueue --all --wait``: the clock runs from the enqueue to the
   last outcome.

Each is the routine of the demo of scale (login with a one-time code, dashboard,
performance, buyer messages, answers, follow-ups). Prints each one's wall time, CPU (the
``rpa`` processes' and, for the queue, the workers' trees; Redis's and PostgreSQL's
servers are not counted) and exit code, the goal (the queue's wall time at most 1.2 times
``rpa run --all``'s), and whether every account's results are those of the first way
(figures, each thread's decision and reply as the seller's sandbox received it, the
owner's texts; escalation numbers and run ids aside). Exit 1 when a run failed or a
result differs.

    .venv/bin/python bench/queue_workers.py [--concurrency 4] [--slow-ms 0]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from many_accounts import _reset, all_ended_0, measure, same_results, serve, stories  # noqa: E402
from routine_memory import tree  # noqa: E402

SELLERS = "twelve-sellers"
GOAL = 1.2  # the queue's wall time / rpa run --all's
QUEUE_PASSWORD_ENV = "BENCH_QUEUE_PASSWORD"
LEDGER_PASSWORD_ENV = "BENCH_LEDGER_PASSWORD"


def _tree_cpu(pids: list[int]) -> float:
    """CPU seconds (user + system) of the living processes under ``pids``, themselves
    included (/proc/<pid>/stat; the dead ones' went to their parents' children counts)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for root in pids:
        for pid in tree(root):
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            # utime, stime, cutime, cstime: the 12th to 15th fields after the name
            total += sum(int(f) for f in fields[11:15])
    return total / tick


def through_queue(folder: Path, width: int, interval: float) -> dict[str, Any]:
    """Two workers of ``width / 2`` runs each (ready before the clock starts), then
    ``rpa enqueue --all --wait``."""
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    config = str(folder / "rpa.yaml")
    per_worker = max(1, width // 2)
    workers = [subprocess.Popen([sys.executable, "-m", "rpa.cli", "worker", "--config", config,
                                 "--concurrency", str(per_worker), "--name", f"bench{n}@here"],
                                cwd=folder, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
               for n in (1, 2)]
    try:
        from rpa.config import load_config
        from rpa.queue import make_app

        app = make_app(load_config(Path(config)))
        deadline = time.monotonic() + 120
        while len(app.control.ping(timeout=1.0) or []) < 2:
            assert time.monotonic() < deadline, "the workers never answered"
        app.close()
        cpu_before = _tree_cpu([w.pid for w in workers])
        out = measure(["enqueue", "--all", "--wait", "--config", config], folder, interval)
        out["cpu"] += _tree_cpu([w.pid for w in workers]) - cpu_before
        return out
    finally:
        for w in workers:
            os.killpg(w.pid, signal.SIGTERM)
        for w in workers:
            w.wait(timeout=120)


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--concurrency", type=int, default=4,
                    help="runs at once: rpa run --all's, and the two workers' together")
    ap.add_argument("--slow-ms", type=int, default=0,
                    help="every sandbox page this many ms late (real pages take seconds)")
    ap.add_argument("--interval", type=float, default=0.25, help="seconds between samples")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        return serve(SELLERS)

    from rpa.practice.postgres import PostgresServer
    from rpa.practice.receiver import Receiver
    from rpa.practice.redis import RedisServer
    from rpa.practice.sandbox import load_sellers
    from rpa.practice.scale import scale_config_data

    load_before = os.getloadavg()[0]
    server = subprocess.Popen([sys.executable, __file__, "--serve"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    rows: dict[str, dict[str, Any]] = {}
    results: dict[str, dict[str, Any]] = {}
    try:
        with Receiver() as receiver, PostgresServer() as pg, RedisServer() as redis, \
                tempfile.TemporaryDirectory(prefix="rpa-bench-queue-") as tmp:
            assert server.stdout is not None
            urls: list[str] = json.loads(server.stdout.readline())
            sellers = SimpleNamespace(servers=[SimpleNamespace(url=u, scenario=sc) for u, sc
                                               in zip(urls, load_sellers(SELLERS), strict=True)])
            os.environ[QUEUE_PASSWORD_ENV] = redis.password
            os.environ[LEDGER_PASSWORD_ENV] = pg.password

            def fresh(label: str, *, shared: bool, queue: bool) -> tuple[Path, list[str]]:
                folder = Path(tmp) / label
                folder.mkdir()
                data, env = scale_config_data(sellers, receiver,  # type: ignore[arg-type]
                                              folder / "state", folder / "recordings")
                os.environ.update(env)
                if shared:
                    data["ledger"] = {"url": pg.create_database(),
                                      "password_env": LEDGER_PASSWORD_ENV}
                if queue:
                    data["queue"] = {"broker_url": redis.url, "name": f"bench-{label}",
                                     "password_env": QUEUE_PASSWORD_ENV}
                (folder / "rpa.yaml").write_text(json.dumps(data))
                _reset(urls, args.slow_ms)
                receiver.items.clear()
                return folder, [a["name"] for a in data["accounts"]]

            width = args.concurrency
            for label, shared in ((f"run --all -j {width}, SQLite", False),
                                  (f"run --all -j {width}, PostgreSQL", True)):
                folder, names = fresh(label.split(",")[1].strip().lower(), shared=shared,
                                      queue=False)
                rows[label] = measure(["run", "--all", "--concurrency", str(width),
                                       "--config", str(folder / "rpa.yaml")], folder,
                                      args.interval)
                results[label] = stories(folder / "recordings", urls, names, receiver)
            label = f"2 workers x {max(1, width // 2)}, PostgreSQL, Redis"
            folder, names = fresh("queue", shared=True, queue=True)
            rows[label] = through_queue(folder, width, args.interval)
            results[label] = stories(folder / "recordings", urls, names, receiver)
    finally:
        if server.stdin is not None:
            server.stdin.close()
        server.wait(timeout=30)

    print(f"twelve sandbox accounts ({SELLERS}), the routine of `rpa demo --accounts 12`, "
          f"pages {args.slow_ms} ms late, {os.cpu_count()} cores, load average "
          f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
    print(f"{'':42} {'wall':>8} {'CPU':>8} {'cores':>6} {'exit':>5}")
    for label, m in rows.items():
        print(f"{label:42} {m['wall']:7.1f}s {m['cpu']:7.1f}s {m['cpu'] / m['wall']:6.2f} "
              f"{m['code']:>5}")
    labels = list(rows)
    base, queued = rows[labels[0]], rows[labels[-1]]
    ratio = queued["wall"] / base["wall"]
    print(f"wall time, the queue / rpa run --all (SQLite): {ratio:.2f} (goal <= {GOAL}: "
          f"{'met' if ratio <= GOAL else 'NOT met'}); against rpa run --all on PostgreSQL: "
          f"{queued['wall'] / rows[labels[1]]['wall']:.2f}")
    same = same_results(results, labels[0], labels[1:])
    return 0 if all_ended_0(rows) and same else 1


if __name__ == "__main__":
    sys.exit(main())
