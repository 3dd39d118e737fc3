"""The PostgreSQL ledger beside the SQLite one: the same schema, the same behaviour through
the storage interface (each test runs on both), numbers and claims that hold when several
connections write at once, migrations, `rpa ledger migrate` and `rpa ledger copy`. A real
throwaway PostgreSQL server (tests/conftest.py: one per worker, a database per test)."""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from rpa.cli import app
from rpa.config import parse_config
from rpa.errors import ConfigError
from rpa.ledger import (
    Ledger,
    LedgerBroken,
    LedgerStore,
    PostgresLedger,
    check_postgres,
    migrations,
)
from rpa.ledger.postgres import connect
from tests.conftest import PgDatabase
from tests.test_ledger_store import mismatches

pytestmark = pytest.mark.postgres

Opener = Callable[..., LedgerStore]


def test_the_postgres_ledger_implements_the_store() -> None:
    assert mismatches(PostgresLedger, LedgerStore) == []


@pytest.fixture(params=["sqlite", "postgres"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens the ledger under test (the SQLite file, or a database of this test's own);
    every ledger opened is closed after the test."""
    opened: list[LedgerStore] = []

    def make(*, code_floor: int = 0) -> LedgerStore:
        if request.param == "sqlite":
            store: LedgerStore = Ledger(tmp_path / "state" / "ledger.sqlite",
                                        code_floor=code_floor)
        else:
            db: PgDatabase = request.getfixturevalue("pg_database")
            store = PostgresLedger(db.url, password=db.password, code_floor=code_floor)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


# ---- one schema -------------------------------------------------------------------------

def _family(kind: str) -> str:
    kind = kind.lower()
    return "integer" if "int" in kind else "text" if kind == "text" else kind


def sqlite_schema(path: Path) -> dict[str, Any]:
    """Each table: its columns (kind, required), its primary key, its unique column sets."""
    db = sqlite3.connect(path)
    try:
        out: dict[str, Any] = {}
        names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'"
                                          " AND name NOT LIKE 'sqlite_%'")]
        for table in names:
            info = db.execute(f"PRAGMA table_info({table})").fetchall()
            columns = {r[1]: (_family(r[2]), bool(r[3] or r[5])) for r in info}
            key = tuple(r[1] for r in sorted(info, key=lambda r: r[5]) if r[5])
            unique = set()
            for index in db.execute(f"PRAGMA index_list({table})"):
                if index[2] and index[3] == "u":  # UNIQUE (...) in the table's definition
                    unique.add(tuple(r[2] for r in db.execute(f"PRAGMA index_info({index[1]})")))
            out[table] = {"columns": columns, "key": key, "unique": unique}
        return out
    finally:
        db.close()


def pg_schema(db: PgDatabase) -> dict[str, Any]:
    conn = connect(db.url, db.password)
    try:
        out: dict[str, Any] = {}
        rows = conn.execute("SELECT table_name AS t, column_name AS c, data_type AS k,"
                            " is_nullable AS n FROM information_schema.columns"
                            " WHERE table_schema = current_schema()").fetchall()
        for r in rows:
            table = out.setdefault(r["t"], {"columns": {}, "key": (), "unique": set()})
            table["columns"][r["c"]] = (_family(r["k"]), r["n"] == "NO")
        constraints = conn.execute(
            "SELECT c.conrelid::regclass::text AS t, c.contype AS kind, array_agg(a.attname"
            " ORDER BY k.ord) AS cols FROM pg_constraint c CROSS JOIN LATERAL unnest(c.conkey)"
            " WITH ORDINALITY AS k(num, ord) JOIN pg_attribute a ON a.attrelid = c.conrelid"
            " AND a.attnum = k.num WHERE c.contype IN ('p', 'u')"
            " AND c.connamespace = current_schema()::regnamespace"
            " GROUP BY c.oid, c.conrelid, c.contype").fetchall()
        for r in constraints:
            if r["kind"] == "p":
                out[r["t"]]["key"] = tuple(r["cols"])
            else:
                out[r["t"]]["unique"].add(tuple(r["cols"]))
        return out
    finally:
        conn.close()


def test_a_fresh_postgres_and_sqlite_get_the_same_schema(pg_database: PgDatabase,
                                                        tmp_path: Path) -> None:
    Ledger(tmp_path / "ledger.sqlite").close()
    PostgresLedger(pg_database.url, password=pg_database.password).close()
    lite = sqlite_schema(tmp_path / "ledger.sqlite")
    pg = pg_schema(pg_database)
    assert pg.pop(migrations.BOOKKEEPING)["columns"].keys() == {"version", "name",
                                                               "applied_at"}
    assert len(lite) == 13 and sorted(pg) == sorted(lite)
    for table in lite:
        assert pg[table] == lite[table], table
    # the checker sees a difference: a column of another kind, or one left out
    assert pg_schema(pg_database)["outbox"] != {**lite["outbox"], "columns": {
        **lite["outbox"]["columns"], "attempts": ("text", True)}}


# ---- the same behaviour on both ---------------------------------------------------------

def test_escalation_codes_go_on_and_are_never_reused(open_store: Opener) -> None:
    store = open_store(code_floor=2)
    first = [store.escalate("a", "email", f"<m{i}@x>", summary="{code}: s", details="d {code}")
             for i in range(2)]
    assert first == [("E003", True), ("E004", True)]
    assert store.escalate("a", "email", "<m0@x>", summary="again", details="d") == ("E003", False)
    many = store.escalate_many("a", "email", [
        {"source_key": "<m1@x>", "summary": "s", "details": "d"},
        {"source_key": "<new@x>", "summary": "{code} new", "details": "d"},
        {"source_key": "<new@x>", "summary": "{code} twice", "details": "d"},
        {"source_key": "<other@x>", "summary": "s", "details": "d"}], run_id=None)
    assert many == [("E004", False), ("E005", True), ("E005", False), ("E006", True)]
    assert store.escalate("b", "buyer_question", "t:1", summary="{code}", details="d")[0] == "B007"
    assert store.escalation_counter() == 7
    row = store.escalation("E005")
    assert row is not None and row["summary"] == "E005 new" and row["status"] == "open"
    assert [e["event"] for e in store.events("E005")] == ["opened"]
    assert [e["code"] for e in store.escalations("a")] == ["E003", "E004", "E005", "E006"]
    assert [e["code"] for e in store.escalations(None, states=("open",))][-1] == "B007"
    assert re.fullmatch(r"[A-Z][A-Z2-9]{3}", store.answer_token("E005"))


def test_the_reply_protocol_records_before_and_confirms_after(open_store: Opener) -> None:
    store = open_store()
    args = dict(buyer="Tom Becker", order_id="114-1", url="https://x/M-04",
                decision="holding_reply", reply_text="Hello Tom")
    assert store.thread("a", "M-04", "k1") is None
    store.record_thread("a", "M-04", "k1", state="sending", escalation="B001", run_id="r1",
                        **args)
    row = store.thread("a", "M-04", "k1")
    assert row is not None and (row["state"], row["escalation"]) == ("sending", "B001")
    assert not store.answered("a", order_id="114-1"), "not answered until confirmed"
    store.set_thread_state("a", "M-04", "k1", "sent")
    assert store.answered("a", order_id="114-1") and store.answered("a", buyer="tom becker")
    assert not store.answered("b", order_id="114-1") and not store.answered("a")
    store.record_thread("a", "M-04", "k1", state="sent", run_id="r2", **args)
    row = store.thread("a", "M-04", "k1")
    assert row is not None and row["escalation"] == "B001", "a later write keeps the code"
    assert [t["thread_id"] for t in store.threads("a", state="sent")] == ["M-04"]
    assert store.threads("a", state="sending") == []


def test_the_outbox_claims_each_text_once_per_channel(open_store: Opener) -> None:
    store = open_store()
    for run_id, account in (("r1", "a"), ("r2", "a"), ("r3", "b")):
        store.start_run(run_id, account, False)
    assert store.outbox_sending("escalation:E001", "sms", "E001: x", "", "r1")
    store.outbox_done("escalation:E001", "sms", True)
    assert not store.outbox_sending("escalation:E001", "sms", "E001: x", "", "r2"), \
        "a text that went out is never claimed again"
    assert store.outbox_sending("escalation:E001", "details", "long", "", "r1")
    store.outbox_done("escalation:E001", "details", False)
    assert store.outbox_sending("escalation:E001", "details", "long", "", "r2")
    row = store.outbox("escalation:E001", "details")
    assert row is not None and (row["state"], row["attempts"], row["run_id"]) == (
        "sending", 2, "r2")
    # r2 dies here: the next run of account a sends it again, a run of b leaves it alone
    store.start_run("r4", "a", False)
    store.start_run("r5", "b", False)
    assert [(r["channel"], r["run_id"]) for r in store.outbox_interrupted("r4")] == [
        ("details", "r2")]
    assert store.outbox_interrupted("r5") == []
    assert store.outbox_interrupted("r2") == [], "not its own"
    assert [(u["channel"], u["account"]) for u in store.outbox_unsent()] == [("details", "a")]
    assert [d["channel"] for d in store.deliveries("E001")] == ["sms", "details"]
    store.record_alert("r4", "sms", "E001: x", True)


def test_a_run_alert_is_claimed_until_one_is_delivered(open_store: Opener) -> None:
    store = open_store()
    assert store.claim_run_alert("a", "failed:login", "2025-01-01", "r1", "t1") is None
    assert store.claim_run_alert("a", "failed:login", "2025-01-01", "r2", "t2") is None
    store.run_alert_sent("a", "failed:login", "2025-01-01")
    earlier = store.claim_run_alert("a", "failed:login", "2025-01-01", "r3", "t3")
    assert earlier is not None and (earlier["run_id"], earlier["delivered"]) == ("r2", 1)
    assert store.claim_run_alert("a", "failed:login", "2025-01-02", "r3", "t3") is None
    assert store.claim_run_alert("b", "failed:login", "2025-01-01", "r3", "t3") is None


def test_an_answer_is_taken_once_and_delivered(open_store: Opener) -> None:
    store = open_store()
    code, _ = store.escalate("a", "buyer_question", "M-1:k", summary="{code}", details="d")
    store.mark_notified(code, "r1")
    assert store.mark_reminded(code, "2025-01-01T00:00:00+00:00", "r1")
    assert not store.mark_reminded(code, "2025-01-01T00:00:00+00:00", "r1"), "once"
    store.record_answer(code, "first", via="cli", by="Ann")
    row = store.record_answer(code, "Yes, it ships today.", via="email", by="owner")
    assert (row["status"], row["answer"], row["answer_via"]) == (
        "answered", "Yes, it ships today.", "email")
    assert [e["code"] for e in store.answered_waiting("a", ("buyer_question",))] == [code]
    store.delivery(code, "sending")
    with pytest.raises(ValueError, match="cannot take an answer"):
        store.record_answer(code, "too late", via="cli", by="Ann")
    store.delivery(code, "failed", "HTTP 500")
    store.delivery(code, "sending")
    assert store.escalation(code)["delivery_attempts"] == "2"  # type: ignore[index]
    store.delivery(code, "done", run_id="r2")
    row = store.escalation(code)
    assert row is not None and row["status"] == "delivered" and row["delivered_at"]
    assert store.close_escalation(code, "done") and not store.close_escalation(code, "x")
    assert [e["event"] for e in store.events(code)][-3:] == [
        "delivery_failed", "delivered", "closed"]
    assert store.expire(code, "gone") and not store.expire(code, "gone")


def test_emails_and_the_mail_the_bot_sent(open_store: Opener) -> None:
    store = open_store()
    store.record_emails("a", [
        {"message_id": "<1@x>", "state": "waiting", "subject": "Hi", "body": "first body"},
        {"message_id": "<2@x>", "state": "trashed", "escalation": "E001"}], run_id="r1")
    store.record_emails("a", [{"message_id": "<1@x>", "state": "escalated", "body": "",
                               "escalation": "E002"},
                              {"message_id": "<2@x>", "state": "kept"}])
    known = store.emails_known("a", ["<1@x>", "<2@x>", "<3@x>", "<1@x>"])
    assert sorted(known) == ["<1@x>", "<2@x>"]
    assert (known["<1@x>"]["body"], known["<1@x>"]["escalation"]) == ("first body", "E002")
    assert known["<2@x>"]["escalation"] == "E001", "kept when a later write names none"
    store.set_email_state("a", ["<1@x>", "<2@x>"], "digested")
    assert [e["state"] for e in store.emails("a")] == ["digested", "digested"]
    assert store.emails("a", state="waiting") == [] and store.email("b", "<1@x>") is None
    store.remember_sent_mail("<alert@bot>", "E002", "alert")
    store.remember_sent_mail("<alert@bot>", "E009", "alert")  # the first one stays
    assert store.code_for_mail(["<none@x>", "<alert@bot>"]) == "E002"


def test_runs_steps_observations_and_the_audit(open_store: Opener) -> None:
    store = open_store()
    store.start_run("r1", "a", True)
    first = store.start_step("r1", "login", "sign in")
    second = store.start_step("r1", "login", "home")
    assert second > first > 0
    store.finish_step(first, "ok", "shot.png", None)
    store.observe("r1", "performance", {"odr": 0.5})
    store.observe("r1", "performance", {"odr": 0.7, "text": "nul \x00 char"})
    store.finish_run("r1", "ok")
    assert store.observations("r1")["performance"]["odr"] == 0.7
    assert [(s["name"], s["outcome"]) for s in store.steps("r1")] == [
        ("sign in", "ok"), ("home", None)]
    (run,) = store.runs()
    assert (run["account"], run["status"], run["dry_run"]) == ("a", "ok", 1)
    store.audit("ann", "signin", "from 127.0.0.1")
    store.audit("bob", "answer", "E001", account="a")
    assert [(e["user"], e["action"]) for e in store.audit_log()] == [
        ("bob", "answer"), ("ann", "signin")]
    assert [e["user"] for e in store.audit_log(action="signin")] == ["ann"]


# ---- several connections at once (PostgreSQL) --------------------------------------------

def test_processes_escalating_at_once_never_share_a_number(pg_database: PgDatabase) -> None:
    """Four connections, each escalating twenty matters (half of them the same ones) at the
    same moment: every matter gets one code, no code two matters."""
    ledgers = [PostgresLedger(pg_database.url, password=pg_database.password)
               for _ in range(4)]
    start = threading.Barrier(len(ledgers))
    results: dict[int, list[tuple[str, bool]]] = {}
    failures: list[BaseException] = []

    def work(i: int) -> None:
        items = [{"source_key": f"shared-{n}", "summary": "{code}", "details": "d"}
                 for n in range(10)]
        items += [{"source_key": f"own-{i}-{n}", "summary": "{code}", "details": "d"}
                  for n in range(10)]
        start.wait()
        try:
            results[i] = [pair for item in items for pair in ledgers[i].escalate_many(
                "a", "email", [item])]
        except BaseException as err:  # noqa: BLE001 - reported below
            failures.append(err)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(ledgers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        assert failures == []
        codes = {key: code for i in results for key, (code, _) in zip(
            [f"shared-{n}" for n in range(10)] + [f"own-{i}-{n}" for n in range(10)],
            results[i], strict=True)}
        assert len(codes) == 10 + 10 * len(ledgers)
        assert len(set(codes.values())) == len(codes), "a code names two matters"
        for n in range(10):
            assert {results[i][n][0] for i in results} == {codes[f"shared-{n}"]}
            assert sum(results[i][n][1] for i in results) == 1, "created once"
        assert ledgers[0].escalation_counter() == len(codes)
    finally:
        for ledger in ledgers:
            ledger.close()


def test_a_text_claimed_on_one_connection_is_not_claimed_on_another(
        pg_database: PgDatabase) -> None:
    one, two = (PostgresLedger(pg_database.url, password=pg_database.password)
                for _ in range(2))
    try:
        assert one.outbox("k", "sms") is None and two.outbox("k", "sms") is None
        assert one.outbox_sending("k", "sms", "t", "", "r1")
        one.outbox_done("k", "sms", True)
        assert not two.outbox_sending("k", "sms", "t", "", "r2"), "sent by the other"
    finally:
        one.close()
        two.close()


# ---- migrations --------------------------------------------------------------------------

def test_migrations_are_applied_once_when_ledgers_open_at_once(pg_database: PgDatabase) -> None:
    opened: list[PostgresLedger] = []
    failures: list[BaseException] = []
    start = threading.Barrier(3)

    def open_one() -> None:
        start.wait()
        try:
            opened.append(PostgresLedger(pg_database.url, password=pg_database.password))
        except BaseException as err:  # noqa: BLE001 - reported below
            failures.append(err)

    threads = [threading.Thread(target=open_one) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        assert failures == [] and len(opened) == 3
        rows = opened[0].db.execute("SELECT version FROM schema_migrations").fetchall()
        assert [r["version"] for r in rows] == [m.version for m in migrations.MIGRATIONS]
        assert migrations.migrate(opened[0].db) == []
        assert migrations.version(opened[0].db) == migrations.LATEST
    finally:
        for ledger in opened:
            ledger.close()


def write_config(folder: Path, **changes: Any) -> Path:
    data: dict[str, Any] = {
        "accounts": [{"name": "main", "base_url": "http://127.0.0.1:9",
                      "email": "seller@example.com", "password_env": "T_PGT_PASSWORD",
                      "totp_secret_env": "T_PGT_TOTP", "account_name": "Acme Goods",
                      "marketplace": "United States"},
                     {"name": "second", "base_url": "http://127.0.0.1:9",
                      "email": "two@example.com", "password_env": "T_PGT_PASSWORD",
                      "totp_secret_env": "T_PGT_TOTP"}],
        "va": {"full_name": "Maria Santos", "initials": "MS"},
        "paths": {"state_dir": str(folder / "state"),
                  "recordings_dir": str(folder / "recordings")},
        **changes,
    }
    path = folder / "rpa.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def cli(*args: str) -> Any:
    result = CliRunner().invoke(app, list(args))
    return result, " ".join(result.output.split())


def test_rpa_ledger_migrate_brings_the_database_up_to_date(pg_database: PgDatabase,
                                                           tmp_path: Path) -> None:
    config = str(write_config(tmp_path, ledger=pg_database.config))
    result, said = cli("ledger", "migrate", "--config", config)
    assert result.exit_code == 0, said
    assert f"applied migration 1: {migrations.MIGRATIONS[0].name}" in said
    assert f"schema version {migrations.LATEST} (was 0)" in said
    assert pg_database.password not in said
    result, said = cli("ledger", "migrate", "--config", config)
    assert result.exit_code == 0 and "already up to date" in said and "applied" not in said
    (tmp_path / "lite").mkdir()
    sqlite = str(write_config(tmp_path / "lite"))
    result, said = cli("ledger", "migrate", "--config", sqlite)
    assert result.exit_code == 0 and "the first run makes it" in said
    Ledger(tmp_path / "lite" / "state" / "ledger.sqlite").close()
    result, said = cli("ledger", "migrate", "--config", sqlite)
    assert result.exit_code == 0 and "up to date" in said


# ---- rpa ledger copy -----------------------------------------------------------------------

def filled_sqlite_ledger(path: Path) -> None:
    """A SQLite ledger with rows in every table, as runs leave them."""
    ledger = Ledger(path)
    try:
        for n in range(3):
            run_id = f"2025010{n}T000000Z-main-{n}"
            ledger.start_run(run_id, "main", False)
            step = ledger.start_step(run_id, "login", "sign in")
            ledger.finish_step(step, "failed", None, "HTTP 500 on /home")
            ledger.observe(run_id, "performance", {"odr": n})
            ledger.finish_run(run_id, "ok")
            code, _ = ledger.escalate("main", "email", f"<m{n}@x>", summary="{code}: s",
                                      details="d", run_id=run_id)
            ledger.mark_notified(code, run_id)
            ledger.outbox_sending(f"escalation:{code}", "sms", f"{code}: s", "", run_id)
            ledger.outbox_done(f"escalation:{code}", "sms", n != 1)
            ledger.record_alert(run_id, "sms", f"{code}: s", n != 1)
            ledger.record_thread("main", f"M-0{n}", "k", buyer="Tom", order_id=f"11{n}",
                                 url="u", decision="holding_reply", reply_text="Hello",
                                 state="sent", escalation=code, run_id=run_id)
        ledger.record_emails("main", [{"message_id": f"<m{n}@x>", "state": "escalated",
                                       "escalation": f"E00{n + 1}", "body": "b"}
                                      for n in range(3)])
        ledger.remember_sent_mail("<alert1@bot>", "E001", "alert")
        ledger.claim_run_alert("main", "failed:login", "2025-01-01", "r", "text")
        ledger.record_answer("E002", "Thanks, refunded.", via="email", by="owner")
        ledger.audit("ann", "signin", "from 127.0.0.1")
        ledger._write_counter(9)  # codes up to 9 were handed out, per the file beside it
    finally:
        ledger.close()


def all_rows(db: Any, table: str) -> list[dict[str, Any]]:
    return [dict(r) for r in db.execute(f"SELECT * FROM {table} ORDER BY 1, 2")]


def test_rpa_ledger_copy_moves_every_row(pg_database: PgDatabase, tmp_path: Path) -> None:
    config = str(write_config(tmp_path))
    source = tmp_path / "state" / "ledger.sqlite"
    filled_sqlite_ledger(source)
    with pytest.raises(LedgerBroken, match="has no runs yet") as stopped:
        check_postgres(pg_database.url, pg_database.password, source)
    assert stopped.value.reason == "missing" and "rpa ledger copy" in str(stopped.value)

    result, said = cli("ledger", "copy", "--config", config, "--to", pg_database.url,
                       "--password-env", pg_database.password_env)
    assert result.exit_code == 0, said
    table_rows = re.findall(r"│ (\w+)\s*│\s*(\d+)\s*│\s*(\d+)\s*│", result.output)
    assert len(table_rows) == 13 and all(a == b != "0" for _, a, b in table_rows), \
        result.output
    assert "every count the same" in said and "go on after number 9" in said
    assert pg_database.password not in result.output

    lite = Ledger(source)
    pg = PostgresLedger(pg_database.url, password=pg_database.password)
    try:
        for table, n, _ in table_rows:
            theirs = all_rows(pg.db, table)
            assert len(theirs) == int(n)
            if table != "meta":  # the counter is raised to the file's 9 there
                assert theirs == all_rows(lite.db, table), table
        assert pg.escalation("E002") == lite.escalation("E002")
        check_postgres(pg_database.url, pg_database.password, source)  # passes now
        # numbers go on after the copied ones: codes, steps, outbox rows
        assert pg.escalate("main", "email", "<new@x>", summary="s", details="d")[0] == "E010"
        assert pg.start_step("20250100T000000Z-main-0", "f", "n") == 4
        assert pg.outbox_sending("new", "sms", "t", "", None)
        assert pg.outbox("new", "sms")["id"] == 4  # type: ignore[index]
    finally:
        lite.close()
        pg.close()

    result, said = cli("ledger", "copy", "--config", config, "--to", pg_database.url,
                       "--password-env", pg_database.password_env)
    assert result.exit_code == 1 and "already holds rows" in said, "never merged"


def test_an_unreachable_database_stops_before_anything(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"postgresql://rpa@127.0.0.1:{port}/ledger"
    with pytest.raises(LedgerBroken) as caught:
        check_postgres(url, "not-this-password", tmp_path / "ledger.sqlite")
    assert caught.value.reason == "unreachable" and caught.value.exit_code == 6
    assert url in str(caught.value) and "not-this-password" not in str(caught.value)


def test_the_ledger_section_keeps_the_password_out_of_the_file() -> None:
    base: dict[str, Any] = {"accounts": [{"name": "a", "base_url": "https://x.example",
                                          "email": "a@x", "password_env": "P",
                                          "totp_secret_env": "T"}],
                            "va": {"full_name": "Maria Santos", "initials": "MS"}}
    ok = parse_config({**base, "ledger": {"url": "postgresql://rpa@db:5432/ledger",
                                          "password_env": "RPA_DB_PASSWORD"}}, "x.yaml")
    assert ok.ledger is not None and ok.ledger.url.endswith("/ledger")
    for url, said in (("postgresql://rpa:secret@db/ledger", "holds a password"),
                      ("mysql://rpa@db/ledger", "postgresql://"),
                      ("postgresql://rpa@db:5432", "names no database")):
        with pytest.raises(ConfigError, match=said) as caught:
            parse_config({**base, "ledger": {"url": url}}, "x.yaml")
        assert "secret" not in str(caught.value)


def test_a_role_that_may_not_create_tables_is_told_to_migrate(
        pg_server: Any, pg_database: PgDatabase) -> None:
    import secrets

    role = f"reader_{secrets.token_hex(4)}"
    with pg_server.connect() as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'reader-pw'")
    url = pg_database.url.replace(f"//{pg_server.user}@", f"//{role}@")
    with pytest.raises(LedgerBroken, match="rpa ledger migrate") as caught:
        PostgresLedger(url, password="reader-pw")
    assert caught.value.reason == "outdated" and caught.value.exit_code == 6
    conn = connect(pg_database.url, pg_database.password)
    try:
        assert migrations.version(conn) == 0, "nothing half-made"
    finally:
        conn.close()
