"""Benchmark: six sandbox accounts on this machine, three at a time against one at a time.

Serves the six sellers of ``six-sellers`` from a process of their own (as Seller Central is
another machine), then, each time from a fresh state folder and freshly reset sellers:

1. six single runs, ``rpa run --account X`` one after another: the per-account results to
   compare with, and one account's peak memory;
2. ``rpa run --all --concurrency 1``;
3. ``rpa run --all --concurrency 3``.

Each is an ``rpa`` process as a user starts it, the routine of the demo of scale (login
with a one-time code, dashboard, performance, buyer messages, answers, follow-ups). The
proportional set size (``/proc/<pid>/smaps_rollup``) of that process and every process
below it (the runs' processes, their Playwright drivers, their Chromiums) is sampled every
100 ms. Prints each one's wall time, CPU (and the cores that makes: CPU over wall time),
peak PSS and exit code, the machine's load average, the goals (wall time at
concurrency 3 at most half of concurrency 1's; peak PSS at concurrency 3 at most three
times one account's), and whether every account's results are those of its single run
(figures, each thread's decision and reply as the seller's sandbox received it, the
owner's texts on the account's own channel; escalation numbers and run ids aside). Exit 1
when a run failed or a result differs.

    .venv/bin/python bench/many_accounts.py [--slow-ms 0] [--concurrency 3] [--interval 0.1]

``--slow-ms N`` answers every sandbox page N ms late: Seller Central's own pages take
seconds, the sandbox's milliseconds, so the runs here are mostly CPU; with latency they
wait as they do on the real site.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from routine_memory import _label, pss_kb, tree  # noqa: E402

SELLERS = "six-sellers"
RATIO_GOAL = 0.5  # wall time at concurrency 3 / at concurrency 1
MEMORY_GOAL = 3.0  # peak PSS at concurrency 3 / one account's peak
# An escalation code's answer token (random each time: "AG-B001-K7QP"); the code itself is
# the account's own series, the same whatever the other accounts do meanwhile.
CODE = re.compile(r"\b((?:[A-Z][A-Z0-9]{0,4}-)?[BREFS]\d{3,5})-[A-Z2-9]{4}\b")
RUN_ID = re.compile(r"\d{8}T\d{6}Z-[A-Za-z0-9_.-]+-[0-9a-f]{6}")


def serve(name: str = SELLERS) -> int:
    """A bench file run with --serve: the sellers' sandboxes until stdin closes; their
    addresses first, as one JSON line."""
    from rpa.practice.sandbox import SellersSandbox

    with SellersSandbox(name) as sellers:
        print(json.dumps([s.url for s in sellers.servers]), flush=True)
        sys.stdin.read()
    return 0


def same_results(results: dict[str, dict[str, Any]], base: str, labels: list[str]) -> bool:
    """Print whether each of ``labels`` gave every account the results of ``base`` (and
    what differs); True when all did."""
    same = True
    for label in labels:
        differ = [n for n in results[base] if results[label].get(n) != results[base][n]]
        same = same and not differ
        print(f"per-account results at {label} as {base}'s: "
              + ("identical" if not differ else f"DIFFER for {', '.join(differ)}"))
        for name in differ:
            for key, want in results[base][name].items():
                got = results[label].get(name, {}).get(key)
                if got != want:
                    print(f"  {name} {key}:\n    {base}: {want}\n    {label}: {got}")
    return same


def all_ended_0(rows: dict[str, dict[str, Any]]) -> bool:
    """Print the runs that did not end 0, with their output's end; True when none."""
    failed = [label for label, m in rows.items() if m["code"] != 0]
    if failed:
        print("runs that did not end 0:", ", ".join(failed))
        for label in failed:
            print(rows[label].get("out", "")[-3000:])
    return not failed


def _call(url: str, method: str = "GET", body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read() or b"null")


def _reset(urls: list[str], slow_ms: int) -> None:
    for url in urls:
        _call(url + "/__sandbox/reset", "POST", {})
        if slow_ms:
            _call(url + "/__sandbox/faults", "POST", {"slow_ms": slow_ms})


def cpu_of(pid: int) -> float:
    """CPU seconds (user + system) one living process has used so far (/proc/<pid>/stat):
    the sandbox's, which serves every run from a process of its own on the same cores."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[int, int]:
    """(busy, all) clock ticks of every core since boot (/proc/stat): what the whole
    machine did, the runs' processes whatever their parent, the sandbox and anything else."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle, iowait
    return sum(ticks) - idle, sum(ticks)


def _kind(pid: int) -> str:
    """What a process is, for the CPU by kind: the bot (Python), the driver (Node), or
    Chromium's browser, renderer, GPU or utility process."""
    label = _label(pid)
    program, _, kind = label.partition(" ")
    if program.startswith("python"):
        return "bot (Python)"
    if program == "node":
        return "driver (Node)"
    if "chrom" in program or "headless_shell" in program:
        return f"Chromium {kind.split()[0] if kind else 'browser'}"
    return program or "?"


def _tree_cpu(root: int, seen: dict[tuple[int, str], float],
              kinds: dict[tuple[int, str], str]) -> None:
    """Note the CPU so far of every process below ``root`` (by pid and start time: a pid
    used again is another process), and what each is. A Chromium process its parent never
    waits for (one orphaned when the driver ends) is not in the getrusage figures; here
    it is."""
    for pid in tree(root):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        ticks = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        key = (pid, fields[19])
        seen[key] = max(seen.get(key, 0.0), ticks)
        # the last name seen: Debian's /usr/bin/chromium is a shell script that becomes
        # Chromium's browser process (exec keeps the pid); a process ended but not yet
        # waited for has no name left
        kind = _kind(pid)
        if kind != "?" or key not in kinds:
            kinds[key] = kind


def measure(args: list[str], cwd: Path, interval: float,
            server: int | None = None) -> dict[str, Any]:
    """One ``rpa`` process: its wall time, its tree's CPU and peak PSS, its exit code, the
    cores the whole machine kept busy meanwhile; with ``server`` (a pid), that process's
    CPU meanwhile too."""
    server_before = cpu_of(server) if server else 0.0
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy_before = machine_busy()
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "rpa.cli", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak = 0
    seen: dict[tuple[int, str], float] = {}
    kinds: dict[tuple[int, str], str] = {}
    while proc.poll() is None:
        peak = max(peak, sum(pss_kb(pid) for pid in tree(proc.pid)))
        _tree_cpu(proc.pid, seen, kinds)
        time.sleep(interval)
    wall = time.monotonic() - started
    busy_after = machine_busy()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    waited = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    out = proc.stdout.read() if proc.stdout else ""
    busy = (busy_after[0] - busy_before[0]) / max(1, busy_after[1] - busy_before[1])
    by_kind: dict[str, float] = {}
    for key, used in seen.items():
        by_kind[kinds[key]] = by_kind.get(kinds[key], 0.0) + used
    return {"wall": wall, "cpu": max(waited, sum(seen.values())), "peak_mb": peak / 1024,
            "code": proc.returncode, "out": out, "busy": busy * (os.cpu_count() or 1),
            "server_cpu": cpu_of(server) - server_before if server else 0.0,
            "by_kind": by_kind}


def stories(recordings: Path, urls: list[str], names: list[str],
            receiver: Any) -> dict[str, Any]:
    """Each account's results, without what differs from run to run by design."""
    out: dict[str, Any] = {}
    for url, name in zip(urls, names, strict=True):
        runs = sorted(p for p in recordings.iterdir() if not p.is_symlink()
                      and p.name.split("Z-", 1)[-1].rsplit("-", 1)[0] == name)
        data = json.loads((runs[-1] / "run.json").read_text())
        state = _call(url + "/__sandbox/state")
        obs = data["observations"]
        texts = [i.message for i in receiver.items if i.path.strip("/") == f"sms/{name}"]
        out[name] = {
            "status": data["status"],
            "figures": CODE.sub(r"\1", json.dumps([obs["unshipped"], obs["performance"],
                                                    obs["buyer_messages"]])),
            "threads": sorted((t["thread_id"], t["decision"], t["sent"],
                               CODE.sub(r"\1", t["escalation"] or ""))
                              for t in data["threads"]),
            "replies": sorted((r["thread_id"], r["text"]) for r in state["replies"]),
            "texts": sorted(RUN_ID.sub("RUN", CODE.sub(r"\1", t)) for t in texts),
        }
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--slow-ms", type=int, default=0,
                    help="every sandbox page this many ms late (real pages take seconds)")
    ap.add_argument("--concurrency", type=int, default=3)
    ap.add_argument("--interval", type=float, default=0.1, help="seconds between samples")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        return serve()

    from rpa.practice.receiver import Receiver
    from rpa.practice.sandbox import load_sellers
    from rpa.practice.scale import scale_config_data

    load_before = os.getloadavg()[0]
    server = subprocess.Popen([sys.executable, __file__, "--serve"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    receiver = Receiver().start()
    try:
        assert server.stdout is not None
        urls: list[str] = json.loads(server.stdout.readline())
        sellers = SimpleNamespace(servers=[SimpleNamespace(url=u, scenario=sc) for u, sc
                                           in zip(urls, load_sellers(SELLERS), strict=True)])
        rows: dict[str, dict[str, Any]] = {}
        results: dict[str, dict[str, Any]] = {}
        with tempfile.TemporaryDirectory(prefix="rpa-bench-many-") as tmp:
            def fresh(label: str) -> tuple[Path, list[str]]:
                folder = Path(tmp) / label
                folder.mkdir()
                data, env = scale_config_data(sellers, receiver,  # type: ignore[arg-type]
                                              folder / "state", folder / "recordings")
                os.environ.update(env)
                (folder / "rpa.yaml").write_text(json.dumps(data))
                _reset(urls, args.slow_ms)
                receiver.items.clear()
                return folder, [a["name"] for a in data["accounts"]]

            folder, names = fresh("single")
            singles = []
            for name in names:
                singles.append(measure(["run", "--account", name, "--config",
                                        str(folder / "rpa.yaml")], folder, args.interval,
                                       server.pid))
            rows["six single runs, one after another"] = {
                "wall": sum(m["wall"] for m in singles), "cpu": sum(m["cpu"] for m in singles),
                "peak_mb": max(m["peak_mb"] for m in singles),
                "code": max(m["code"] for m in singles),
                "server_cpu": sum(m["server_cpu"] for m in singles),
                "busy": sum(m["busy"] * m["wall"] for m in singles)
                / max(1e-9, sum(m["wall"] for m in singles)),
                "by_kind": {k: sum(m["by_kind"].get(k, 0.0) for m in singles)
                            for k in {k for m in singles for k in m["by_kind"]}}}
            results["single"] = stories(folder / "recordings", urls, names, receiver)
            one_account = max(m["peak_mb"] for m in singles)
            for label, width in (("concurrency 1", 1), (f"concurrency {args.concurrency}",
                                                        args.concurrency)):
                folder, names = fresh(label.replace(" ", "-"))
                rows[label] = measure(["run", "--all", "--concurrency", str(width),
                                       "--config", str(folder / "rpa.yaml")], folder,
                                      args.interval, server.pid)
                results[label] = stories(folder / "recordings", urls, names, receiver)
    finally:
        receiver.stop()
        if server.stdin is not None:
            server.stdin.close()
        server.wait(timeout=30)

    print(f"six sandbox accounts ({SELLERS}), the routine of `rpa demo --accounts 6`, "
          f"pages {args.slow_ms} ms late, {os.cpu_count()} cores, load average "
          f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
    # cores: the CPU the runs' processes got over the wall time (a machine shared with
    # other work gives them less than its cores); machine: the cores the whole machine kept
    # busy meanwhile (on a quiet machine, the runs and the sandbox; 2.00 is all of them)
    # sandbox: the CPU the sellers' server used meanwhile, on the same two cores (Seller
    # Central's own servers are not on the bot's machine)
    print(f"{'':38} {'wall':>8} {'CPU':>8} {'cores':>6} {'sandbox':>8} {'peak PSS':>9} "
          f"{'exit':>5} {'machine':>8}")
    for label, m in rows.items():
        print(f"{label:38} {m['wall']:7.1f}s {m['cpu']:7.1f}s {m['cpu'] / m['wall']:6.2f} "
              f"{m['server_cpu']:7.1f}s {m['peak_mb']:7.0f}MB {m['code']:>5} {m['busy']:8.2f}")
    for label, m in rows.items():  # where the CPU went (processes seen at 100 ms steps)
        print(f"  {label}: " + ", ".join(f"{k} {v:.1f}s" for k, v in sorted(
            m["by_kind"].items(), key=lambda kv: -kv[1]) if v >= 0.05))
    many, one = rows[f"concurrency {args.concurrency}"], rows["concurrency 1"]
    ratio = many["wall"] / one["wall"]
    memory = many["peak_mb"] / one_account
    print(f"wall time, concurrency {args.concurrency} / 1: {ratio:.2f} (goal <= {RATIO_GOAL}: "
          f"{'met' if ratio <= RATIO_GOAL else 'NOT met'})")
    # The same work spread over every core takes at best (cores busy at 1) / cores of the
    # time: a run that already keeps more than one core busy cannot be halved on two.
    cores = os.cpu_count() or 1
    print(f"the machine's limit: one account at a time kept {one['busy']:.2f} of {cores} cores "
          f"busy, so no concurrency can take less than {one['busy'] / cores:.2f} of its time "
          "here (on a quiet machine; more work at once also costs more CPU)")
    print(f"peak PSS, concurrency {args.concurrency} / one account's ({one_account:.0f} MB): "
          f"{memory:.2f} (goal <= {MEMORY_GOAL}: {'met' if memory <= MEMORY_GOAL else 'NOT met'})")
    same = same_results(results, "single",
                        ["concurrency 1", f"concurrency {args.concurrency}"])
    return 0 if all_ended_0(rows) and same else 1


if __name__ == "__main__":
    sys.exit(main())
