"""The ``rpa`` command as a VA uses it: real processes, real sandbox, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from rpa.practice.sandbox import load_scenario
from tests.cli_forkserver import CliForkServers

# Each `rpa` command is a process of its own, forked from a server that has imported what
# `python -m rpa.cli` imports, one server for each environment (tests/cli_forkserver.py):
# a fresh Python's start-up is about 0.7 s of CPU a command.
CLI = CliForkServers()


@pytest.fixture(scope="module", autouse=True)
def _cli_servers() -> Iterator[None]:
    yield
    CLI.stop()


def rpa_in(args: list[str], *, cwd: Path, env: dict[str, str],
           timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`python -m rpa.cli *args` in ``cwd`` with the whole environment ``env``."""
    return CLI.run(args, cwd=cwd, env=env, timeout=timeout)


def _full_env(env: dict[str, str] | None) -> dict[str, str]:
    return {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **(env or {})}


def rpa(*args: str, cwd: Path, env: dict[str, str] | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return rpa_in(list(args), cwd=cwd, env=_full_env(env), timeout=timeout)


def _routine_of(proc: subprocess.CompletedProcess[str]) -> tuple[Path, dict[str, Any]]:
    """The routine's report folder and run.json, from the summary's "Report:" line."""
    report = Path(next(line.split("Report:", 1)[1].strip() for line in proc.stdout.splitlines()
                       if line.startswith("Report:")))
    return report.parent, json.loads((report.parent / "run.json").read_text())


def _story(run_json: dict[str, Any]) -> dict[str, tuple[str, str, bool]]:
    """What the demo did to each buyer thread: the decision, the kind of code and sent."""
    return {t["thread_id"]: (t["decision"], (t["escalation"] or "")[:1], t["sent"])
            for t in run_json["threads"]}


DEMOS = 2  # runs of the demo in a row


def check_demo_matches_the_scenario(proc: subprocess.CompletedProcess[str],
                                    run_json: dict[str, Any], runs: list[Path]) -> None:
    """One demo's output and its routine's run.json tell the at-risk scenario's story."""
    assert len(runs) >= 2
    scenario = load_scenario("at-risk")

    obs = run_json["observations"]
    assert obs["unshipped"] == len(scenario.unshipped_orders)
    assert obs["buyer_messages"] == sum(1 for t in scenario.threads
                                       if t.status == "response_needed")
    failing = {m.name: m for m in scenario.metrics if m.status != "Good"}
    assert {a["name"] for a in obs["performance"]["areas"]} == set(failing)
    for area in obs["performance"]["areas"]:
        assert area["value"] == failing[area["name"]].value
        assert area["target"] == failing[area["name"]].target
    assert obs["performance"]["status"] == "fair"
    assert run_json["status"] == "ok"

    out = proc.stdout
    assert "Report:" in out and "report.html" in out
    assert "Texts the owner would have received" in out
    assert "[sms]" in out and "-MS" in out

    # every buyer thread handled, and the mailbox triaged when Dovecot is on this machine
    decisions = {t["thread_id"]: t["decision"] for t in run_json["threads"]}
    assert decisions == {"T-2001": "template:where_is_my_order", "T-2002": "holding_reply",
                         "T-2003": "template:item_not_as_described",
                         "T-2004": "holding_reply", "T-2005": "no_response_needed",
                         "T-2006": "holding_reply"}  # its template is stopped: R…
    blocked = next(t for t in run_json["threads"] if t["thread_id"] == "T-2006")
    assert blocked["escalation"].startswith("R") and blocked["sent"]
    # the loop closes: the owner's answer reaches the buyer's thread
    question = next(t for t in run_json["threads"] if t["thread_id"] == "T-2002")
    assert f"{question['escalation']}: answer sent in thread T-2002" in out
    from rpa.practice import dovecot

    if dovecot.available()[0]:
        assert run_json["flows"]["mailbox"]["status"] == "ok"
        assert run_json["email_folders"]["INBOX"]["total"] == 18
        assert "Mailbox" in out
        assert "threaded reply to" in out and "caught by the local SMTP server" in out
    else:
        assert "Mailbox skipped" in out


def test_the_demo_runs_again_afresh_and_the_console_shows_its_escalations(
        tmp_path: Path, kept_browser: Any) -> None:
    """A newcomer runs the demo again after reading the first output: each demo starts
    afresh in a folder of its own (state beside its recordings), exits 0 and tells the same
    story; ``rpa console --demo``'s configuration reads the newest demo's own ledger.
    Two demos show it (a second one runs where a first left its folder, its ``latest`` and
    its ledger); a third ran the same code again, 12 s of CPU."""
    folders: list[Path] = []
    stories = []
    for attempt in range(DEMOS):
        proc = rpa("demo", "--scenario", "at-risk", cwd=tmp_path)
        assert proc.returncode == 0, f"demo {attempt + 1}: {proc.stdout}{proc.stderr}"
        assert "Traceback" not in proc.stdout + proc.stderr
        report_dir, run_json = _routine_of(proc)
        folder = report_dir.parent.parent
        assert folder.parent == (tmp_path / "demo").resolve(), folder
        assert (folder / "state" / "ledger.sqlite").is_file(), "the ledger lives with the demo"
        runs = sorted(p for p in (folder / "recordings").iterdir()
                      if p.is_dir() and not p.is_symlink())
        assert len(runs) >= 2 and report_dir == runs[0], "routine first, then the loop"
        assert (folder / "recordings" / "latest" / "report.html").is_file()
        if attempt == 0:
            check_demo_matches_the_scenario(proc, run_json, runs)
        assert f"{folder}" in proc.stdout and "rpa console --demo" in proc.stdout
        folders.append(folder)
        stories.append(_story(run_json))
    assert len(set(folders)) == DEMOS, "each demo has a folder of its own"
    assert all(story == stories[0] for story in stories), "the same story each time"
    assert (tmp_path / "demo" / "latest").resolve() == folders[-1]
    assert not (tmp_path / "recordings").exists(), "nothing of the demo in the checkout's runs"

    from rpa.ledger import WAITING_STATES, Ledger
    from rpa.practice.demo import demo_console_config, latest_demo
    from tests.console_server import ConsoleServer, launch_browser, sign_in

    newest = latest_demo(tmp_path / "demo")
    assert newest == folders[-1]
    ledger = Ledger(newest / "state" / "ledger.sqlite")
    try:
        open_codes = sorted(e["code"] for e in ledger.escalations("demo",
                                                                  states=WAITING_STATES))
    finally:
        ledger.close()
    assert len(open_codes) >= 3, open_codes
    cfg, user, password = demo_console_config(newest)
    server = ConsoleServer()
    browser = launch_browser(kept_browser.playwright())
    try:
        url = server.start(cfg)
        page = browser.new_page()
        sign_in(page, url, user, password)
        page.goto(url + "/escalations")
        table = page.locator("table#escalations").inner_text()
        for code in open_codes:
            assert code in table, f"{code} missing from the console's open escalations"
        assert "No open escalations" not in page.content()
        page.goto(url + "/health")
        assert "saved" in page.locator(".h-saved").first.inner_text()
        assert "none saved" not in page.locator(".h-saved").first.inner_text()
    finally:
        browser.close()
        server.stop()


def test_console_demo_without_a_demo_says_so(tmp_path: Path) -> None:
    proc = rpa("console", "--demo", cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "no demo has run" in proc.stderr and "Traceback" not in proc.stderr


def test_an_unknown_demo_scenario_is_named_before_a_folder_is_made(tmp_path: Path) -> None:
    proc = rpa("demo", "--scenario", "no-such-scenario", cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "unknown scenario 'no-such-scenario'" in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert not (tmp_path / "demo").exists()


def test_flows_lists_registered_flows(tmp_path: Path) -> None:
    proc = rpa("flows", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    for name in ("login", "dashboard", "performance"):
        assert name in proc.stdout


# Each Seller Central variant a VA can practise on with `rpa sandbox --scenario NAME`.
VARIANT_SCENARIOS = (
    "signin-one-page", "signin-prompts", "signin-de", "signin-verification",
    "signin-unknown-prompt", "signin-captcha", "signin-select-device", "signin-never-loads",
    "accounts-prefix", "accounts-outlet-only", "no-account-switcher", "de-modern",
    "ja-classic", "open-orders-breakdown", "no-performance-widget",
    "unknown-performance-label", "home-never-loads", "home-labels-en", "home-labels-de",
    "home-ambiguous", "slow-first-paint", "health-ahd")


def test_sandbox_refuses_an_unknown_scenario_and_lists_every_variant(tmp_path: Path) -> None:
    proc = rpa("sandbox", "--scenario", "no-such-variant", "--port", "0", cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    err = proc.stderr
    assert "unknown scenario 'no-such-variant'" in err and "Traceback" not in err
    listed = err.split("bundled:", 1)[1].replace("\n", " ")
    assert {name.strip() for name in listed.split(",")} >= set(VARIANT_SCENARIOS)
    for name in VARIANT_SCENARIOS:  # each one loads: `rpa sandbox --scenario NAME` serves it
        assert load_scenario(name).name == name


def _write_config(tmp_path: Path, **changes: object) -> Path:
    data = yaml.safe_load(Path("rpa.example.yaml").read_text())
    data.update(changes)
    path = tmp_path / "rpa.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_config_check_rejects_unknown_key_with_exit_2(tmp_path: Path) -> None:
    path = _write_config(tmp_path, colour="blue")
    proc = rpa("config", "check", "--config", str(path), cwd=tmp_path)
    assert proc.returncode == 2
    err = proc.stdout + proc.stderr
    assert "colour" in err and "rpa.yaml" in err


def test_config_check_names_missing_secret_and_redacts(tmp_path: Path) -> None:
    path = _write_config(tmp_path)
    data = yaml.safe_load(path.read_text())
    acc = data["accounts"][0]
    env = {k: v for k, v in os.environ.items()
           if k not in (acc["password_env"], acc["totp_secret_env"])}
    proc = rpa_in(["config", "check", "--config", str(path)], cwd=tmp_path,
                  env={**env, "NO_COLOR": "1"})
    assert proc.returncode == 2
    assert acc["password_env"] in proc.stdout + proc.stderr

    secret = "Very-Secret-Password-123"
    totp = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    notify_env = {}
    for channel in ("sms", "details"):
        spec = (data.get("notify") or {}).get(channel)
        if spec:
            notify_env[spec["url_env"]] = "json://127.0.0.1:9/x"
    mail_secret = "Mailbox-Secret-987"
    notify_env[data["mailbox"]["password_env"]] = mail_secret
    proc = rpa("config", "check", "--config", str(path), cwd=tmp_path,
               env={acc["password_env"]: secret, acc["totp_secret_env"]: totp, **notify_env})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert secret not in proc.stdout + proc.stderr
    assert totp not in proc.stdout + proc.stderr
    assert mail_secret not in proc.stdout + proc.stderr


def test_config_check_names_the_flows_the_secrets_allow(tmp_path: Path) -> None:
    """Only the mailbox's secrets set and a 16-character TOTP key (80 bits, under pyotp's
    112): the mailbox can run, Seller Central cannot, and the key's rule is stated."""
    data = yaml.safe_load(Path("rpa.example.yaml").read_text())
    acc = data["accounts"][0]
    short_key = "JBSWY3DPEHPK3PXP"
    env = {k: v for k, v in os.environ.items()
           if k not in (acc["password_env"], acc["totp_secret_env"])}
    env.update({"NO_COLOR": "1", "COLUMNS": "200", acc["totp_secret_env"]: short_key,
                data["mailbox"]["password_env"]: "Mailbox-Secret-987",
                **{data["notify"][ch]["url_env"]: "json://127.0.0.1:9/x"
                   for ch in ("sms", "details")}})

    def check(flows: list[str]) -> subprocess.CompletedProcess[str]:
        path = _write_config(tmp_path, flows=flows)
        return rpa_in(["config", "check", "--config", str(path)], cwd=tmp_path, env=env)

    mailbox_only = check(["mailbox"])
    assert mailbox_only.returncode == 0, mailbox_only.stdout + mailbox_only.stderr
    out = mailbox_only.stdout
    table = out[out.index("Account 'main': flows with the secrets set now"):].splitlines()[1:]
    lines = {line[4:].split()[0]: line for line in table if line.startswith(("  * ", "    "))}
    assert lines["mailbox"].startswith("  * mailbox") and lines["mailbox"].endswith("runnable")
    assert f"NOT runnable: {acc['password_env']} is not set" in lines["login"]
    assert "112 bits" in lines["login"] and "at least 23 characters" in lines["login"]
    assert "needs login, which cannot run" in lines["dashboard"]
    assert "configuration OK" in mailbox_only.stdout
    assert short_key not in mailbox_only.stdout + mailbox_only.stderr

    routine = check(["login", "dashboard", "mailbox"])
    assert routine.returncode == 2
    assert f"{acc['password_env']} is not set" in routine.stderr
    assert "stops login" in routine.stderr
    assert "configuration OK" not in routine.stdout


def test_run_without_config_file_is_exit_2(tmp_path: Path) -> None:
    proc = rpa("run", "--config", str(tmp_path / "nope.yaml"), cwd=tmp_path)
    assert proc.returncode == 2
    assert "nope.yaml" in proc.stdout + proc.stderr


def _sandbox_state(url: str) -> dict[str, Any]:
    """The sandbox's state through its control API."""
    with urllib.request.urlopen(url + "/__sandbox/state", timeout=10) as resp:
        return json.loads(resp.read())


def test_selectors_check_live_lists_every_key_and_changes_nothing(tmp_path: Path) -> None:
    """--live signs in and tries every key on the sandbox pages (both home layouts), acting
    on nothing: the sandbox records no write, reply or change of a thread. A changed page
    fails the check (exit 1), naming the keys the configured flows need; a figure only its
    label reads is said so."""
    from rpa.practice.demo import demo_config_data, scenario_login
    from rpa.practice.sandbox import SandboxServer

    # The three checks are independent (a sandbox, a folder and a configuration each) and
    # run at once: much of each is waiting (a sign-in, pages drawn, the changed page's
    # missing keys waited out), and one after another they took about 37 s alone.
    cases = (("messages", 0), ("at-risk", 0), ("page-changed", 1))
    servers = {scenario: SandboxServer(scenario) for scenario, _ in cases}
    jobs: dict[str, tuple[Path, dict[str, str]]] = {}
    try:
        for scenario, server in servers.items():
            server.start()
            login = scenario_login(server)
            data = demo_config_data(server.url, login, tmp_path / scenario / "state",
                                    tmp_path / scenario / "rec")
            # The suite's wait for an element (tests/conftest.py make_config), not the
            # product's 30 s: the changed page's missing keys are waited for that long.
            data["browser"] = {"timeout_ms": 8000}
            cfg_file = tmp_path / f"{scenario}.yaml"
            cfg_file.write_text(yaml.safe_dump(data))
            env = _full_env({"RPA_DEMO_SC_PASSWORD": login["password"],
                             "RPA_DEMO_SC_TOTP": login["totp_secret"],
                             "RPA_DEMO_SMS_URL": "json://127.0.0.1:9/sms",
                             "RPA_DEMO_DETAILS_URL": "json://127.0.0.1:9/details"})
            CLI.start(env)  # from this thread: see CliForkServers.start
            jobs[scenario] = cfg_file, env

        def check(scenario: str) -> tuple[dict[str, Any], subprocess.CompletedProcess[str],
                                          dict[str, Any]]:
            cfg_file, env = jobs[scenario]
            url = servers[scenario].url
            before = _sandbox_state(url)
            proc = rpa_in(["selectors", "check", "--live", "--config", str(cfg_file)],
                          cwd=tmp_path, env=env)
            return before, proc, _sandbox_state(url)

        with ThreadPoolExecutor(len(cases)) as pool:
            outcomes = dict(zip(servers, pool.map(check, servers), strict=True))
    finally:
        for server in servers.values():
            server.stop()
    for scenario, code in cases:
        before, proc, after = outcomes[scenario]
        out = proc.stdout
        assert proc.returncode == code, out + proc.stderr
        for part in ("replies", "no_response", "threads", "writes"):
            assert after[part] == before[part], (scenario, part)
        assert after["writes"] == [] and after["counters"]["signins"] == 1
        assert "Read-only: nothing was changed; 0 request(s)" in out
        rows = {line.split("│")[1].strip(): line for line in out.splitlines()
                if line.startswith("│") and "." in line.split("│")[1]}
        if code == 0:
            for key in ("thread.reply_box", "thread.send", "thread.message_text",
                        "inbox.row_order_id", "home.unshipped_count", "health.metric_value"):
                assert key in rows, (scenario, key)
            assert [k for k, line in rows.items() if "nothing" in line] == [], scenario
            continue
        assert "nothing" in rows["inbox.thread_row"] and "label fallback (reads 2)" in rows[
            "home.unshipped_count"]
        assert "unconfirmed" in rows["home.unshipped_count"]
        assert "(not checked: no inbox.thread_row found)" in rows["inbox.row_buyer"]
        assert "misses the row of 'Late Shipment Rate' (finds others by" in rows[
            "health.metric_row"]
        assert ("2 key(s) a configured flow needs find nothing or miss what the page shows: "
                "health.metric_row, inbox.thread_row.") in " ".join(out.split())


def test_config_check_warns_when_authentication_is_required_without_authserv_id(
        tmp_path: Path) -> None:
    """'required' without the server's id believes the topmost Authentication-Results
    header, which on a server that adds none is the sender's own: config check says so."""
    data = yaml.safe_load(Path("rpa.example.yaml").read_text())
    acc = data["accounts"][0]
    env = {acc["password_env"]: "Very-Secret-Password-123",
           acc["totp_secret_env"]: "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
           data["mailbox"]["password_env"]: "Mailbox-Secret-987",
           **{data["notify"][ch]["url_env"]: "json://127.0.0.1:9/x" for ch in ("sms", "details")}}
    outputs = {}
    for case, extra in (("bare", {}), ("with id", {"authserv_id": "mx.example.com"})):
        mailbox = {**data["mailbox"], "authentication": "required", **extra}
        path = _write_config(tmp_path, mailbox=mailbox)
        proc = rpa("config", "check", "--config", str(path), cwd=tmp_path, env=env)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        outputs[case] = " ".join((proc.stdout + proc.stderr).split())
    assert "authserv_id is not set" in outputs["bare"]
    assert "authserv_id is not set" not in outputs["with id"]


def test_demo_folders_keep_the_newest_five_and_nothing_else_is_touched(tmp_path: Path) -> None:
    from rpa.practice.demo import KEEP_DEMOS, latest_demo, new_demo_folder

    home = tmp_path / "demo"
    home.mkdir()
    (home / "notes.txt").write_text("mine")
    (home / "20200101-000000-extra").mkdir()  # not a demo's name: never pruned
    (home / "my-own-folder").mkdir()
    made = [new_demo_folder(home) for _ in range(KEEP_DEMOS + 2)]
    assert len(set(made)) == len(made), "demos in the same second get folders of their own"
    demos = sorted(p.name for p in home.iterdir() if p.is_dir() and not p.is_symlink()
                   and p.name[0].isdigit() and not p.name.endswith("extra"))
    assert demos == sorted(p.name for p in made[-KEEP_DEMOS:])
    assert (home / "notes.txt").read_text() == "mine" and (home / "my-own-folder").is_dir()
    assert (home / "20200101-000000-extra").is_dir()
    assert latest_demo(home) == made[-1]
    assert all((made[-1] / sub).is_dir() for sub in ("state", "recordings"))
    assert latest_demo(tmp_path / "nothing-here") is None
