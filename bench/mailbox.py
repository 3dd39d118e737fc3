"""Benchmark: our mailbox triage against imapfilter on the same mail, side by side.

For each size (default 1,000, 10,000 and 50,000 messages; 80 % Inbox, 20 % Spam, the mix
of ``rpa.practice.mailcorpus.bulk_mails``) a throwaway Dovecot is seeded once and its mail
folder kept; before every run the folder is put back exactly as seeded. Then:

* one untimed run of each tool through a counting proxy: the IMAP commands it sends;
* ``--repeat`` timed runs of each, alternating which goes first;
* after each run the folders' end state (every message's Message-ID and flags, per folder)
  is read; our triage and imapfilter must end identically, or the bench fails.

"Ours" is ``rpa run --flow mailbox`` as a user runs it (a new process: start-up, ledger,
owner texts to a local receiver, run.json and report included), with the backlog digest on
as by default. imapfilter runs ``bench/imapfilter_rules.lua``, the same rules for this mail.
Printed per tool and size: wall time (median), client CPU (user + system), IMAP commands,
peak RSS, and our time as a share of imapfilter's; with ``--dry-run`` also our dry run.

    .venv/bin/python bench/mailbox.py [--sizes 1000,10000,50000] [--repeat 3] [--dry-run]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rpa.practice import dovecot  # noqa: E402
from rpa.practice.mailcorpus import OWNER_ADDRESS, bulk_mails  # noqa: E402
from rpa.practice.receiver import Receiver  # noqa: E402

RULES = ROOT / "bench" / "imapfilter_rules.lua"
RPA = Path(sys.executable).parent / "rpa"


@dataclass
class Run:
    wall: float
    cpu: float
    rss_mb: float


@dataclass
class Figures:
    runs: list[Run] = field(default_factory=list)
    commands: int = 0

    @property
    def wall(self) -> float:
        return statistics.median(r.wall for r in self.runs)

    @property
    def cpu(self) -> float:
        return statistics.median(r.cpu for r in self.runs)

    @property
    def rss(self) -> float:
        return max(r.rss_mb for r in self.runs)


# --------------------------------------------------------------------------- counting proxy

def _shut(*socks: socket.socket) -> None:
    """End both directions of each socket (the other side's relay then ends too)."""
    for sock in socks:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class CountingProxy:
    """A TCP relay in front of Dovecot that counts the client's IMAP commands.

    A command is a line from the client that starts with a tag and a command name; the
    contents of literals (``{n}`` then n bytes) are skipped, so a mail sent in a command is
    not taken for commands. Used for the untimed counting runs only.
    """

    TAGGED = re.compile(rb"^[A-Za-z0-9.+_-]+ [A-Za-z]")
    LITERAL = re.compile(rb"\{(\d+)\+?\}\r\n$")

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.commands = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            threading.Thread(target=self._pipe, args=(server, client), daemon=True).start()
            threading.Thread(target=self._count, args=(client, server), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            _shut(src, dst)

    def _count(self, src: socket.socket, dst: socket.socket) -> None:
        buf = b""
        skip = 0
        try:
            while data := src.recv(65536):
                dst.sendall(data)
                buf += data
                while buf:
                    if skip:
                        taken = min(skip, len(buf))
                        buf, skip = buf[taken:], skip - taken
                        continue
                    end = buf.find(b"\r\n")
                    if end < 0:
                        break
                    line, buf = buf[:end + 2], buf[end + 2:]
                    if self.TAGGED.match(line) and not line.startswith(b"DONE"):
                        self.commands += 1
                    literal = self.LITERAL.search(line)
                    if literal:
                        skip = int(literal.group(1))
        except OSError:
            pass
        finally:
            _shut(src, dst)

    def close(self) -> None:
        self.sock.close()


# --------------------------------------------------------------------------- the mailbox

class Mailbox:
    """A seeded throwaway Dovecot whose mail can be put back as seeded before each run."""

    def __init__(self, n: int, work: Path) -> None:
        self.server = dovecot.DovecotServer()
        self.server.start()
        mails = bulk_mails(n, seed=1)
        inbox_n = n * 4 // 5
        self.server.append_many("INBOX", mails[:inbox_n])
        self.server.append_many("Junk", mails[inbox_n:])
        self.server.stop()
        self.pristine = work / f"home-{n}"
        subprocess.run(["cp", "-a", str(self.server.home), str(self.pristine)], check=True)

    def restore(self) -> None:
        self.server.stop()
        shutil.rmtree(self.server.home)
        subprocess.run(["cp", "-a", str(self.pristine), str(self.server.home)], check=True)
        self.server.start()

    def end_state(self) -> dict[str, list[tuple[str, frozenset[str]]]]:
        return self.server.snapshot()

    def close(self) -> None:
        self.server.cleanup()
        shutil.rmtree(self.pristine, ignore_errors=True)


# --------------------------------------------------------------------------- the two tools

def measured(cmd: list[str], env: dict[str, str]) -> tuple[Run, str]:
    """Run ``cmd`` to its end; its wall time, CPU and peak RSS (its own process tree)."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out_chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: out_chunks.append(proc.stdout.read()),  # type: ignore[union-attr]
                              daemon=True)
    reader.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    reader.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    output = b"".join(out_chunks).decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} exited {proc.returncode}:\n{output[-3000:]}")
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024), output


class Ours:
    name = "ours"

    def __init__(self, work: Path, receiver: Receiver, dry_run: bool = False) -> None:
        self.work = work
        self.receiver = receiver
        self.dry_run = dry_run
        self.count = 0

    def run(self, host: str, port: int, box: Mailbox) -> Run:
        self.count += 1
        where = self.work / f"ours-{self.count}"
        where.mkdir()
        config = {
            "accounts": [{"name": "bench", "email": "seller@example.com",
                          "password_env": "BENCH_SC_PW", "totp_secret_env": "BENCH_SC_TOTP"}],
            "va": {"full_name": "Maria Santos", "initials": "MS"},
            "notify": {"sms": {"url_env": "BENCH_SMS"},
                       "details": {"url_env": "BENCH_DETAILS", "label": "Upwork"}},
            "mailbox": {"host": host, "port": port, "tls": False,
                        "user": box.server.user, "password_env": "BENCH_MAIL_PW",
                        "owner_addresses": [OWNER_ADDRESS]},
            "paths": {"state_dir": str(where / "state"), "recordings_dir": str(where / "rec")},
            "flows": ["mailbox"],
        }
        path = where / "rpa.yaml"
        path.write_text(json.dumps(config))  # JSON is YAML
        env = dict(os.environ, BENCH_MAIL_PW=box.server.password,
                   BENCH_SMS=self.receiver.url("sms"), BENCH_DETAILS=self.receiver.url("details"))
        cmd = [str(RPA), "run", "-c", str(path), "--flow", "mailbox"]
        if self.dry_run:
            cmd.append("--dry-run")
        result, _ = measured(cmd, env)
        shutil.rmtree(where, ignore_errors=True)
        return result


class Imapfilter:
    name = "imapfilter"

    def run(self, host: str, port: int, box: Mailbox) -> Run:
        env = dict(os.environ, BENCH_IMAP_HOST=host, BENCH_IMAP_PORT=str(port),
                   BENCH_IMAP_USER=box.server.user, BENCH_IMAP_PASSWORD=box.server.password,
                   BENCH_SPAM="Junk", BENCH_TRASH="Trash", HOME=tempfile.gettempdir())
        result, _ = measured(["imapfilter", "-c", str(RULES)], env)
        return result


@contextmanager
def counting(box: Mailbox) -> Iterator[CountingProxy]:
    proxy = CountingProxy(box.server.host, box.server.port)
    try:
        yield proxy
    finally:
        proxy.close()


def differences(a: dict[str, Any], b: dict[str, Any], limit: int = 5) -> list[str]:
    out = []
    for folder in sorted(set(a) | set(b)):
        left, right = set(a.get(folder, [])), set(b.get(folder, []))
        for mid, flags in sorted(left - right)[:limit]:
            out.append(f"{folder}: only after ours: {mid} {sorted(flags)}")
        for mid, flags in sorted(right - left)[:limit]:
            out.append(f"{folder}: only after imapfilter: {mid} {sorted(flags)}")
    return out


def bench_size(n: int, repeat: int, work: Path, receiver: Receiver,
               dry_run: bool) -> dict[str, Any]:
    t0 = time.monotonic()
    box = Mailbox(n, work)
    print(f"\n{n:,} messages ({n * 4 // 5:,} Inbox, {n - n * 4 // 5:,} Spam), "
          f"seeded in {time.monotonic() - t0:.1f} s", flush=True)
    tools: list[Any] = [Ours(work, receiver), Imapfilter()]
    if dry_run:
        tools.append(Ours(work, receiver, dry_run=True))
    figures = {tool.name + (" dry run" if getattr(tool, "dry_run", False) else ""): Figures()
               for tool in tools}
    names = list(figures)
    try:
        states: dict[str, Any] = {}
        # Untimed: the commands each tool sends, and its end state.
        for tool, name in zip(tools, names, strict=True):
            box.restore()
            with counting(box) as proxy:
                tool.run(box.server.host, proxy.port, box)
            figures[name].commands = proxy.commands
            states[name] = box.end_state()
        diff = differences(states["ours"], states["imapfilter"])
        if diff:
            raise SystemExit("the end states differ:\n  " + "\n  ".join(diff))
        if dry_run and states["ours dry run"] != _seeded_state(box):
            raise SystemExit("the dry run changed the mailbox")
        print("  end states identical: " + ", ".join(
            f"{folder} {len(msgs):,}" for folder, msgs in sorted(states["ours"].items())
            if msgs), flush=True)
        for i in range(repeat):
            order = list(zip(tools, names, strict=True))
            if i % 2:
                order.reverse()
            for tool, name in order:
                box.restore()
                result = tool.run(box.server.host, box.server.port, box)
                figures[name].runs.append(result)
                print(f"  run {i + 1} {name}: {result.wall:.2f} s", flush=True)
    finally:
        box.close()
    return {"n": n, "figures": figures}


def _seeded_state(box: Mailbox) -> Any:
    box.restore()
    return box.end_state()


def report(results: list[dict[str, Any]]) -> None:
    print("\nsize      tool            wall (median)  CPU      IMAP cmds  peak RSS  "
          "per 1k msgs  vs imapfilter")
    for res in results:
        n, figs = res["n"], res["figures"]
        base = figs["imapfilter"].wall
        for name, fig in figs.items():
            ratio = fig.wall / base if base else float("nan")
            print(f"{n:>7,}  {name:<14} {fig.wall:>9.2f} s  {fig.cpu:>6.2f} s  {fig.commands:>9,}"
                  f"  {fig.rss:>6.0f} MB  {fig.wall / n * 1000:>8.2f} s   "
                  f"{ratio:>5.2f} ×")
    print("\ntargets: ours ≤ 0.80 × imapfilter at 10k and 50k, dry run ≤ 0.50 ×, "
          "peak RSS ≤ 1.5 × imapfilter's, time per message flat from 1k to 50k")
    for res in results:
        n, figs = res["n"], res["figures"]
        ours, other = figs["ours"], figs["imapfilter"]
        verdict = [f"time {ours.wall / other.wall:.2f} ×",
                   f"RSS {ours.rss / other.rss:.2f} ×"]
        if "ours dry run" in figs:
            verdict.append(f"dry run {figs['ours dry run'].wall / other.wall:.2f} ×")
        print(f"  {n:>7,}: " + ", ".join(verdict))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000,50000",
                    help="message counts, comma-separated (default 1000,10000,50000)")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per tool (default 3)")
    ap.add_argument("--dry-run", action="store_true", help="also time our dry run")
    args = ap.parse_args()
    ok, why = dovecot.available()
    if not ok:
        print(f"Dovecot is not available: {why}")
        return 1
    if shutil.which("imapfilter") is None:
        print("imapfilter is not installed (Debian: apt-get install imapfilter)")
        return 1
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    os.environ.update({"BENCH_SC_PW": "unused", "BENCH_SC_TOTP": "JBSWY3DPEHPK3PXP" * 2})
    resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
    receiver = Receiver().start()
    results = []
    with tempfile.TemporaryDirectory(prefix="rpa-bench-") as tmp:
        os.chmod(tmp, 0o755)
        fixed = fixed_cost(args.repeat, Path(tmp), receiver)
        for n in sizes:
            results.append(bench_size(n, args.repeat, Path(tmp), receiver, args.dry_run))
    receiver.stop()
    report(results)
    print(f"\nours on an empty mailbox (start-up, sign-in, ledger, run.json and report; "
          f"the part that does not grow with the mail): {fixed:.2f} s")
    return 0


def fixed_cost(repeat: int, work: Path, receiver: Receiver) -> float:
    """Our median time on an empty Inbox and Spam: what a run costs before any mail."""
    box = Mailbox(0, work)
    try:
        ours = Ours(work, receiver)
        walls = []
        for _ in range(repeat):
            box.restore()
            walls.append(ours.run(box.server.host, box.server.port, box).wall)
    finally:
        box.close()
    return statistics.median(walls)


if __name__ == "__main__":
    sys.exit(main())
