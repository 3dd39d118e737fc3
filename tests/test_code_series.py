"""Each account's own escalation code series (rpa.config.codes): the prefixes the
configuration gives or makes, the ledger's numbering per series (both ledgers), and an
owner's answer that names an account's code however a phone writes it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rpa.config import parse_config
from rpa.config.codes import derived_prefix
from rpa.errors import ConfigError
from rpa.ledger import Ledger, LedgerStore, PostgresLedger
from rpa.mail.replying import answer_text, code_in, split_code, token_quoted
from rpa.owner.answers import normalise_code
from tests.conftest import PgDatabase


def _accounts(*names: str, **extra: dict[str, Any]) -> dict[str, Any]:
    accounts = [{"name": n, "email": f"{n}@example.com", "password_env": "P",
                 "totp_secret_env": "T", **extra.get(n, {})} for n in names]
    return {"accounts": accounts, "va": {"full_name": "Maria Santos", "initials": "MS"}}


# ---- the configuration ----------------------------------------------------------------

@pytest.mark.parametrize(("name", "made"), [
    ("acme", "ACME"), ("birchwood-home", "BH"), ("seller-12", "S12"), ("dune", "DUNE"),
    ("elm_street_books_and_more", "ESBAM"), ("north.face.uk.shop.one.two", "NFUSO"),
    ("x", "X"), ("12shop", None), ("re", None), ("fwd", None), ("---", None)])
def test_a_prefix_is_made_from_the_account_name(name: str, made: str | None) -> None:
    assert derived_prefix(name) == made


def test_one_account_keeps_the_plain_series_and_several_get_one_each() -> None:
    assert parse_config(_accounts("main"), "rpa.yaml").code_series() == {}
    assert parse_config(_accounts("main", main={"code_prefix": "shop"}),
                        "rpa.yaml").code_series() == {"main": "SHOP"}
    cfg = parse_config(_accounts("acme", "birchwood-home", "x2",
                                 x2={"code_prefix": "zz9"}), "rpa.yaml")
    assert cfg.code_series() == {"acme": "ACME", "birchwood-home": "BH", "x2": "ZZ9"}


@pytest.mark.parametrize(("data", "key", "words"), [
    (_accounts("acme-home", "amber-hill"), r"accounts\[1\]\.code_prefix",
     "'acme-home' and 'amber-hill' would both write codes AH-B001"),
    (_accounts("a", "b", b={"code_prefix": "A"}), r"accounts\[1\]\.code_prefix",
     "would both write codes A-B001"),
    (_accounts("shop", "12shop"), r"accounts\[1\]\.code_prefix",
     "no code prefix can be made from the name '12shop'"),
    (_accounts("shop", shop={"code_prefix": "1AB"}), r"accounts\[0\]\.code_prefix",
     "is no code prefix: 1 to 5 letters"),
    (_accounts("shop", shop={"code_prefix": "Re"}), r"accounts\[0\]\.code_prefix",
     "a word mail clients put before a subject"),
    (_accounts("shop", shop={"code_prefix": "TOOLONG"}), r"accounts\[0\]\.code_prefix",
     "1 to 5 letters or digits"),
])
def test_a_prefix_that_cannot_serve_is_a_config_error_naming_the_key(
        data: dict[str, Any], key: str, words: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(data, "rpa.yaml")
    assert "rpa.yaml" in str(err.value)
    assert re.search(key, str(err.value)), str(err.value)
    assert words in str(err.value)


# ---- the ledger ---------------------------------------------------------------------

@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LedgerStore]:
    if request.param == "sqlite":
        made: LedgerStore = Ledger(tmp_path / "ledger.sqlite")
    else:
        db: PgDatabase = request.getfixturevalue("pg_database")
        made = PostgresLedger(db.url, password=db.password)
    yield made
    made.close()


def _escalate(store: LedgerStore, account: str, kind: str, key: str) -> str:
    return store.escalate(account, kind, key, summary="{code}: s", details="d {code}")[0]


def test_each_account_numbers_its_own_series(store: LedgerStore) -> None:
    store.series = {"acme": "ACME", "birch": "BH"}
    assert _escalate(store, "acme", "email", "m1") == "ACME-E001"
    assert _escalate(store, "birch", "buyer_question", "t1") == "BH-B001"
    assert _escalate(store, "acme", "buyer_question", "t2") == "ACME-B002"
    assert _escalate(store, "acme", "email", "m1") == "ACME-E001"  # one matter, one code
    many = store.escalate_many("birch", "email", [
        {"source_key": k, "summary": "{code}", "details": "d"} for k in ("a", "b", "a")])
    assert many == [("BH-E002", True), ("BH-E003", True), ("BH-E002", False)]
    # an account with no prefix (one left out of the configuration) numbers the plain one:
    # after the five rows above, whose ids the plain counter gave
    assert _escalate(store, "solo", "email", "m9") == "E006"
    assert store.series_counter("ACME") == 2 and store.series_counter("BH") == 3
    assert store.series_counters() == {"ACME": 2, "BH": 3}
    assert store.escalation_counter() == 6
    row = store.escalation("BH-E003")
    assert row is not None and row["account"] == "birch" and row["summary"] == "BH-E003"
    assert len(store.answer_token("ACME-B002")) == 4
    assert [e["code"] for e in store.escalations("acme")] == ["ACME-E001", "ACME-B002"]


def test_a_series_goes_on_above_what_the_last_run_recorded(store: LedgerStore) -> None:
    """A ledger restored from an older backup never hands out a code that meant another
    matter: the floor run.json keeps, per series, counts as much as the ledger's own."""
    store.series = {"acme": "ACME"}
    store.series_floor = {"ACME": 41, "GONE": 7}
    assert _escalate(store, "acme", "email", "m1") == "ACME-E042"
    assert store.series_counters() == {"ACME": 42, "GONE": 7}


# ---- reading an owner's answer ------------------------------------------------------

SERIES = ("ACME", "BH", "S12")


@pytest.mark.parametrize(("subject", "fresh", "code"), [
    ("Re: [ACME-B004] Seller Central", "yes", "ACME-B004"),
    ("AW: acme-b004", "", "ACME-B004"),
    ("", "acme b004: yes, refund it", "ACME-B004"),
    ("", "ACMEB004-K7QP yes", "ACME-B004"),
    ("", "bh.e012 k7qp ok", "BH-E012"),
    ("Re B004", "", "B004"),             # no account's prefix: the plain series' code
    ("Re: S12-F003", "", "S12-F003"),
    ("Re: XYZ-B004", "", None),          # no configured account writes XYZ
    ("Hello ACME-B004", "", None),       # quoted in a sentence: no answer
])
def test_an_accounts_code_is_read_as_a_phone_writes_it(subject: str, fresh: str,
                                                       code: str | None) -> None:
    assert code_in(subject, fresh, series=SERIES) == code


def test_without_the_accounts_prefixes_their_codes_are_not_read() -> None:
    assert code_in("", "ACME-B004: yes") is None
    assert code_in("", "B004: yes") == "B004"


def test_the_token_proves_the_code_with_or_without_the_prefix() -> None:
    assert token_quoted(["ACME-B004-K7QP: yes"], "ACME-B004", "K7QP")
    assert token_quoted(["acme b004 k7qp yes"], "ACME-B004", "K7QP")
    assert token_quoted(["B004-K7QP: yes"], "ACME-B004", "K7QP")
    assert not token_quoted(["BH-B004-K7QP: yes"], "ACME-B004", "K7QP")
    assert not token_quoted(["ACME-B004-K7QX: yes"], "ACME-B004", "K7QP")
    assert not token_quoted(["ACME-B0044-K7QP"], "ACME-B004", "K7QP")


@pytest.mark.parametrize(("fresh", "left"), [
    ("ACME-B004-K7QP: yes, refund it", "yes, refund it"),
    ("acme b004 k7qp - yes", "yes"),
    ("B004-K7QP: yes", "yes"),
    ("BH-B004: yes", "BH-B004: yes"),  # another account's code is the owner's words
])
def test_the_answer_loses_only_its_own_leading_code(fresh: str, left: str) -> None:
    assert answer_text(fresh, "ACME-B004", "K7QP") == left


@pytest.mark.parametrize(("typed", "code"), [
    ("acme-b004", "ACME-B004"), ("acme b004", "ACME-B004"), (" ACME.B004 ", "ACME-B004"),
    ("ACMEB004", "ACME-B004"), ("b004", "B004"), ("E12345", "E12345")])
def test_a_code_typed_for_rpa_answer_or_the_console_is_made_whole(typed: str,
                                                                  code: str) -> None:
    assert normalise_code(typed) == code
    assert split_code(code)[1] == code.rpartition("-")[2]


def test_a_code_given_without_its_prefix_is_refused_naming_the_codes_it_may_mean(
        tmp_path: Path) -> None:
    from rpa.owner.answers import AnswerError, submit

    cfg = parse_config(_accounts("acme", "birch"), "rpa.yaml")
    ledger = Ledger(tmp_path / "ledger.sqlite")
    try:
        ledger.series = cfg.code_series()
        assert _escalate(ledger, "acme", "buyer_question", "t1") == "ACME-B001"
        assert _escalate(ledger, "birch", "buyer_question", "t1") == "BIRC-B001"
        with pytest.raises(AnswerError, match="did you mean ACME-B001 or BIRC-B001"):
            submit(ledger, cfg, "b001", "Yes.", via="cli", by="VA")
        with pytest.raises(AnswerError, match=r"no escalation ACME-B002 .*rpa escalations"):
            submit(ledger, cfg, "acme b002", "Yes.", via="cli", by="VA")
        assert ledger.escalation("ACME-B001")["status"] == "open"  # type: ignore[index]
    finally:
        ledger.close()


# ---- a run: the owner answers an account's code by email --------------------------------

@pytest.fixture()
def mailserver() -> Iterator[Any]:
    from rpa.practice import dovecot

    ok, why = dovecot.available()
    if not ok:
        pytest.skip(f"Dovecot is not available: {why}")
    with dovecot.DovecotServer() as server:
        server.start()
        yield server


def test_an_owner_answers_the_code_of_one_of_several_accounts_by_email(
        make_config: Any, mailserver: Any, receiver: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Two accounts: the support mailbox's question gets the account's own code (TEST-E001,
    in the text and run.json); the owner answers with the code as a phone writes it, the
    prefix left out, and the token: the answer is taken and reaches the sender once."""
    from rpa.practice.smtpserver import SmtpServer
    from rpa.run.orchestrator import run
    from tests.test_email_answers import ANSWER, SUPPLIER, _config, _owner_reply, _question

    smtp = SmtpServer().start()
    try:
        one = _config(make_config, mailserver, smtp, receiver, monkeypatch)
        data = one.model_dump(mode="json", exclude_none=True)
        data["accounts"].append({**data["accounts"][0], "name": "other-shop"})
        cfg = parse_config(data, "test-config")
        assert cfg.code_series() == {"test": "TEST", "other-shop": "OS"}
        # a matter from when "test" was the only account: the plain series' E001
        old = Ledger(Path(cfg.paths.state_dir) / "ledger.sqlite")
        assert _escalate(old, "test", "email", "<before@x>") == "E001"
        old.close()
        mailserver.append("INBOX", _question(), flags=("\\Seen",))
        first = run(cfg, account="test")
        assert first.status == "ok", first.data["errors"]
        code = next(e["escalation"] for e in first.data["emails"] if e["escalation"])
        assert code == "TEST-E001"
        assert first.data["escalation_series"] == {"OS": 0, "TEST": 1}
        assert first.data["escalation_counter"] == 2  # the rows' own numbers go on
        texts = receiver.messages("sms")
        found = next((m for t in texts if (m := re.match(r"TEST-E001-([A-Z2-9]{4}):", t))),
                     None)
        assert found, texts
        token = found.group(1)
        mailserver.append("INBOX", _owner_reply(
            "E001", f"e001 {token.lower()}: {ANSWER}", auth=None,
            message_id="<answer.os@acme-goods.example>", subject="Re: cartons"))
        answered = run(cfg, account="test")
        assert answered.status == "ok", answered.data["errors"]
        replies = [m for m in smtp.messages() if SUPPLIER in str(m["To"])]
        assert len(replies) == 1 and replies[0].get_content().startswith(ANSWER)
        ledger = Ledger(Path(cfg.paths.state_dir) / "ledger.sqlite")
        try:
            esc = ledger.escalation("TEST-E001")
            assert esc is not None and esc["status"] == "closed"
            assert esc["answer_via"] == "email" and esc["answer"].startswith(ANSWER)
            plain = ledger.escalation("E001")  # "e001" with TEST-E001's token: not this one
            assert plain is not None and plain["status"] in ("open", "notified")
            assert not plain["answer"]
        finally:
            ledger.close()
    finally:
        smtp.stop()


def test_a_lost_ledger_made_anew_goes_on_with_each_accounts_series(
        make_config: Any, tmp_path: Path) -> None:
    """Every run.json keeps each series' number; `rpa ledger new` writes them into the new
    ledger, so TEST-E004 follows TEST-E003 even with the old ledger gone."""
    from typer.testing import CliRunner

    from rpa.cli import app
    from rpa.ledger import LedgerBroken
    from rpa.run.orchestrator import run
    from tests.test_ledger_reliability import write_config

    one = make_config(flows=["mailbox"])  # no mailbox configured: a run without a browser
    data = one.model_dump(mode="json", exclude_none=True)
    data["accounts"].append({**data["accounts"][0], "name": "other", "code_prefix": "OS"})
    cfg = parse_config(data, "test-config")
    state = Path(cfg.paths.state_dir)
    ledger = Ledger(state / "ledger.sqlite")
    ledger.series = cfg.code_series()
    assert [_escalate(ledger, "test", "email", f"m{i}") for i in range(3)] == [
        "TEST-E001", "TEST-E002", "TEST-E003"]
    ledger.close()
    done = run(cfg, account="test")
    assert done.exit_code == 0
    assert done.data["escalation_series"] == {"OS": 0, "TEST": 3}
    for p in sorted(state.rglob("*"), reverse=True):
        p.rmdir() if p.is_dir() else p.unlink()
    with pytest.raises(LedgerBroken):
        run(cfg, account="test")
    made = CliRunner().invoke(app, ["ledger", "new", "--config",
                                    str(write_config(cfg, tmp_path))])
    assert made.exit_code == 0, made.output
    assert "TEST- after 3" in " ".join(made.output.split())
    ledger = Ledger(state / "ledger.sqlite")  # as a later run opens it: no floor given
    try:
        ledger.series = cfg.code_series()
        assert _escalate(ledger, "test", "email", "new") == "TEST-E004"
        assert _escalate(ledger, "other", "email", "new") == "OS-E001"
    finally:
        ledger.close()


def test_config_check_shows_each_accounts_codes(tmp_path: Path) -> None:
    import yaml
    from typer.testing import CliRunner

    from rpa.cli import app

    path = tmp_path / "rpa.yaml"
    path.write_text(yaml.safe_dump(_accounts("acme", "birchwood-home",
                                             acme={"code_prefix": "AC"})))
    said = " ".join(CliRunner().invoke(app, ["config", "check", "--config", str(path)])
                    .output.split())
    assert "Account 'acme': escalation codes AC-B001, AC-E002... (code_prefix)" in said
    assert ("Account 'birchwood-home': escalation codes BH-B001, BH-E002... (made from the "
            "name)") in said
    path.write_text(yaml.safe_dump(_accounts("acme")))
    said = " ".join(CliRunner().invoke(app, ["config", "check", "--config", str(path)])
                    .output.split())
    assert "Account 'acme': escalation codes B001, E002..." in said


def test_the_refused_prefixes_are_the_reply_words_the_mail_reader_skips() -> None:
    """The configuration may not import the mail reader (the layout), so it keeps its own
    list: the same words, or a prefix could read as a reply word in an owner's subject."""
    from rpa.config.codes import REPLY_WORDS as refused
    from rpa.mail.replying import REPLY_WORDS as skipped

    assert {w.upper() for w in skipped if len(w) <= 5} == set(refused)
