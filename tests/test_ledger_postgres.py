"""The PostgreSQL ledger beside the SQLite one: the same schema, numbers and claims that
hold when several connections write at once, migrations, `rpa ledger migrate` and `rpa
ledger copy`, the checks before a run. A real throwaway PostgreSQL server
(tests/conftest.py: one per worker, a database per test); the behaviour both ledgers share
is in tests/test_ledger_behaviour.py."""

from __future__ import annotations

import re
import sqlite3
import threading
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


def test_the_postgres_ledger_implements_the_store() -> None:
    assert mismatches(PostgresLedger, LedgerStore) == []


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


def test_a_database_made_at_version_1_gets_what_later_migrations_add(
        pg_database: PgDatabase) -> None:
    """The first migration is today's schema; a database an earlier version made at
    version 1 lacks the queued runs' columns, and migration 2 adds them (on a new one it
    changes nothing)."""
    ledger = PostgresLedger(pg_database.url, password=pg_database.password)
    try:
        ledger.start_run("r-old", "shop", False)
        with ledger.db.transaction():  # the database as version 1 left it
            ledger.db.execute("DROP INDEX runs_job")
            ledger.db.execute("ALTER TABLE runs DROP COLUMN worker")
            ledger.db.execute("ALTER TABLE runs DROP COLUMN job")
            ledger.db.execute(f"DELETE FROM {migrations.BOOKKEEPING} WHERE version > 1")
        assert migrations.version(ledger.db) == 1
    finally:
        ledger.close()
    ledger = PostgresLedger(pg_database.url, password=pg_database.password)
    try:
        assert migrations.version(ledger.db) == migrations.LATEST
        ledger.start_run("r-new", "shop", False, worker="w1@host", job="job-1")
        assert [(r["run_id"], r["worker"]) for r in ledger.job_runs("job-1")] == [
            ("r-new", "w1@host")]
        assert [r["run_id"] for r in ledger.runs()] and ledger.job_runs("none") == []
    finally:
        ledger.close()


def test_a_sqlite_file_an_earlier_version_made_gets_the_queued_runs_columns(
        tmp_path: Path) -> None:
    """The file's runs table without worker and job (as an earlier version made it): the
    ledger adds them when it opens, and keeps every row."""
    path = tmp_path / "ledger.sqlite"
    Ledger(path).close()
    with sqlite3.connect(path) as db:
        db.execute("DROP INDEX runs_job")
        db.execute("ALTER TABLE runs DROP COLUMN worker")
        db.execute("ALTER TABLE runs DROP COLUMN job")
        db.execute("INSERT INTO runs (run_id, account, started_at) VALUES ('r-old', 'shop', "
                   "'2026-12-01T08:00:00+00:00')")
    db.close()
    ledger = Ledger(path)
    try:
        ledger.start_run("r-new", "shop", False, worker="w1@host", job="job-1")
        assert [r["run_id"] for r in ledger.job_runs("job-1")] == ["r-new"]
        assert sorted(r["run_id"] for r in ledger.runs()) == ["r-new", "r-old"]
    finally:
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


def test_the_throwaway_server_goes_away_with_its_folder() -> None:
    import psycopg

    from rpa.practice import postgres

    ok, why = postgres.available()
    if not ok:
        pytest.skip(f"PostgreSQL is not available: {why}")
    with postgres.PostgresServer(user="other") as server:
        url = server.create_database("kept_here")
        assert server.running and url.endswith(f":{server.port}/kept_here")
        with psycopg.connect(url, password=server.password) as conn:
            assert conn.execute("SELECT current_user").fetchone() == ("other",)
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(url, password="wrong", connect_timeout=5)
        root = server.root
    assert not root.exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, password=server.password, connect_timeout=5)
