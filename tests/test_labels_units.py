"""Reading by labels on aria-snapshot text, and the session's language: no browser.

The snapshots are as Playwright writes them for the sandbox's pages and for markup seen in
public code (a classic line, a Katal card, definition lists, table rows).
"""

from __future__ import annotations

import pytest

from rpa.config import parse_config
from rpa.errors import ConfigError
from rpa.seller_central import beside
from rpa.seller_central.beside import Beside, NotBeside, Token
from rpa.seller_central.language import resolve
from rpa.seller_central.locale import FIGURE_LABELS, TARGET_LABELS, labels_for, language_of_tag

EN_UNSHIPPED = labels_for(FIGURE_LABELS["unshipped"], "en")
DE_UNSHIPPED = labels_for(FIGURE_LABELS["unshipped"], "de")
EN_PERF = labels_for(FIGURE_LABELS["performance"], "en")
DE_PERF = labels_for(FIGURE_LABELS["performance"], "de")
EN_MESSAGES = labels_for(FIGURE_LABELS["buyer_messages"], "en")
STOPS_EN = (*EN_UNSHIPPED, *EN_PERF, *EN_MESSAGES)

CLASSIC_LINE = '- text: "Unshipped:"\n- link "1,204":\n  - /url: /orders-v3/unshipped'
DEFINITIONS_DE = """- heading "Ihre Bestellungen" [level=3]
- term: Ausstehend
- definition: "3"
- term: Nicht versendet
- definition: "1.234"
- term: Rücksendeanfragen
- definition: "0"
- link "Ihre Bestellungen anzeigen":
  - /url: /orders-v3/unshipped"""
HEALTH_TILE = """- heading "Account Health" [level=3]
- text: Healthy Account Health Rating 862
- button "Go to Account Health\""""
HEALTH_TILE_DE = """- heading "Kontozustand" [level=3]
- paragraph: Gefährdet
- paragraph: Kontozustandsbewertung 160
- button "Zum Kontozustand\""""
MESSAGES_CARD = """- link "Buyer Messages":
  - /url: /messaging/inbox-v3?fi=responseNeeded
- text: "2"
- paragraph: Cases requiring attention"""
POLICY_ROW = """- 'row "Policy Compliance 2 violations Target: 0 Fair"':
  - cell "Policy Compliance"
  - cell "2 violations"
  - 'cell "Target: 0"'
  - cell "Fair\""""


def test_tokens_are_the_texts_in_reading_order() -> None:
    assert beside.tokens(CLASSIC_LINE) == [Token("text", "Unshipped:"),
                                           Token("link", "1,204")]
    assert [t.text for t in beside.tokens(POLICY_ROW)] == [
        "Policy Compliance", "2 violations", "Target: 0", "Fair"]
    assert beside.tokens(HEALTH_TILE)[1] == Token("text", "Healthy Account Health Rating 862")
    # numbers, dates and words stay the page's text, never YAML's reading of it
    assert [t.text for t in beside.tokens("- text: 0.50\n- text: 2025-11-24\n- text: no")] == [
        "0.50", "2025-11-24", "no"]
    assert beside.tokens("- : : not yaml [") == []


@pytest.mark.parametrize("text, rest", [
    ("Unshipped: 3", "3"), ("Unshipped", ""), ("Unshipped (5)", "(5)"), ("unshipped:", ""),
    ("FBM Unshipped: 4", "4"), ("Unshipped orders", None), ("Pending: 3", None),
])
def test_a_label_starts_the_text_and_no_word_follows_it(text: str, rest: str | None) -> None:
    assert beside.label_rest(text, EN_UNSHIPPED) == rest


def test_a_longer_label_is_another_label() -> None:
    assert beside.label_rest("Account Health Rating 862", EN_PERF) is None
    assert beside.label_rest("Kontozustandsbewertung 160", DE_PERF) is None
    assert beside.label_rest("Kontozustand", DE_PERF) == ""


def test_count_beside_a_classic_label_in_the_page_language() -> None:
    found = beside.beside(CLASSIC_LINE, EN_UNSHIPPED)
    assert found == [Beside("Unshipped:", ("1,204",), ("link",))]
    assert beside.count_beside(found, "en", "Unshipped") == 1204
    with pytest.raises(NotBeside, match="'1,204'"):  # German reads 1,204 as a decimal
        beside.count_beside(found, "de", "Unshipped")


def test_count_beside_a_definition_stops_at_the_next_term() -> None:
    found = beside.beside(DEFINITIONS_DE, DE_UNSHIPPED)
    assert found == [Beside("Nicht versendet", ("1.234",), ("definition",))]
    assert beside.count_beside(found, "de", "Nicht versendet") == 1234


def test_count_beside_a_card_heading() -> None:
    found = beside.beside(MESSAGES_CARD, EN_MESSAGES)
    assert beside.count_beside(found, "en", "Buyer Messages", STOPS_EN) == 2


def test_two_numbers_beside_a_label_are_not_read() -> None:
    found = beside.beside('- term: Unshipped\n- definition: "3 10"', EN_UNSHIPPED)
    with pytest.raises(NotBeside, match=r"'3 10' .*is not a whole number"):
        beside.count_beside(found, "en", "Unshipped")
    dotted = beside.beside('- term: Unshipped\n- definition: "3 · 10"', EN_UNSHIPPED)
    with pytest.raises(NotBeside, match=r"more than one number in '3 · 10'"):
        beside.count_beside(dotted, "en", "Unshipped")
    split = beside.beside('- text: "Unshipped:"\n- link "3"\n- link "10"', EN_UNSHIPPED)
    with pytest.raises(NotBeside, match=r"2 values beside the label 'Unshipped:'"):
        beside.count_beside(split, "en", "Unshipped")


def test_two_labels_that_disagree_are_not_read_and_that_agree_are() -> None:
    one = Beside("Unshipped", ("3",))
    with pytest.raises(NotBeside, match=r"2 values beside the label 'Unshipped': '3' and '4'"):
        beside.count_beside([one, Beside("Unshipped", ("4",))], "en", "Unshipped")
    assert beside.count_beside([one, Beside("Unshipped:", ("3",))], "en", "Unshipped") == 3


def test_nothing_beside_a_label_is_not_read() -> None:
    with pytest.raises(NotBeside, match="nothing beside the label 'Unshipped' reads as a number"):
        beside.count_beside([Beside("Unshipped", ("none yet",))], "en", "Unshipped")
    with pytest.raises(NotBeside, match="nothing beside"):
        beside.count_beside([], "en", "Unshipped")


def test_a_merged_text_is_cut_where_another_label_starts() -> None:
    found = beside.beside('- text: "Unshipped: 3 Pending: 12"', EN_UNSHIPPED)
    assert beside.count_beside(found, "en", "Unshipped") == 3


def test_status_words_beside_the_account_health_label() -> None:
    assert beside.word_beside(beside.beside(HEALTH_TILE, EN_PERF), "Account Health",
                              STOPS_EN) == "Healthy"
    stops_de = (*DE_PERF, *EN_PERF)
    assert beside.word_beside(beside.beside(HEALTH_TILE_DE, DE_PERF), "Kontozustand",
                              stops_de) == "Gefährdet"
    # an unknown wording is kept as the page says it (the flow reports it as unknown)
    odd = HEALTH_TILE.replace("Healthy", "Needs Attention")
    assert beside.word_beside(beside.beside(odd, EN_PERF), "Account Health",
                              STOPS_EN) == "Needs Attention"
    # two tiles that disagree: not read
    two = beside.beside(HEALTH_TILE + "\n" + HEALTH_TILE.replace("Healthy", "At Risk"), EN_PERF)
    with pytest.raises(NotBeside, match="'Healthy' and 'At Risk'"):
        beside.word_beside(two, "Account Health", STOPS_EN)


def test_a_metric_value_beside_its_name_skips_its_target() -> None:
    row = beside.beside(POLICY_ROW, ["Policy Compliance"])
    targets = labels_for(TARGET_LABELS, "en")
    assert beside.text_beside(row, "Policy Compliance", targets) == "2 violations"
    assert [b.texts[0] for b in beside.beside(POLICY_ROW, targets)] == ["0"]
    no_value = beside.beside('- cell "Policy Compliance"\n- cell "Target: 0"',
                             ["Policy Compliance"])
    with pytest.raises(NotBeside, match="reads as a value"):
        beside.text_beside(no_value, "Policy Compliance", targets)


def test_labels_of_each_language_then_english() -> None:
    assert labels_for(FIGURE_LABELS["unshipped"], "de")[:2] == ("Nicht versendet",
                                                               "FBM nicht versendet")
    assert "Unshipped" in labels_for(FIGURE_LABELS["unshipped"], "de")
    assert labels_for(TARGET_LABELS, "ja") == ("目標", "Target")


# --- the session's language ---------------------------------------------------------------
@pytest.mark.parametrize("tag, code", [
    ("de-DE", "de"), ("en-US", "en"), ("en", "en"), ("ja_JP", "ja"), ("FR-fr", "fr"),
    ("zh-CN", None), ("", None), (None, None),
])
def test_language_of_the_page_tag(tag: str | None, code: str | None) -> None:
    assert language_of_tag(tag) == code


def test_language_configured_else_page_else_marketplace() -> None:
    assert resolve("de", "en-US", "en") == ("de", "configured")
    assert resolve("auto", "de-DE", "en") == ("de", 'page (<html lang="de-DE">)')
    assert resolve("auto", "en-US", "de") == ("en", 'page (<html lang="en-US">)')
    code, source = resolve("auto", "zh-CN", "de")
    assert code == "de" and "zh-CN" in source and source.startswith("marketplace")
    assert resolve("auto", None, "ja") == ("ja", "marketplace (the page does not say)")


def _config(**account: object) -> dict[str, object]:
    return {"accounts": [{"name": "main", "email": "a@b.c", "password_env": "X_PW",
                          "totp_secret_env": "X_TOTP", **account}],
            "va": {"full_name": "Maria Santos", "initials": "MS"}}


def test_config_language_auto_by_default_with_the_marketplace_behind_it() -> None:
    account = parse_config(_config(marketplace="Deutschland")).accounts[0]
    assert (account.language, account.marketplace_language) == ("auto", "de")
    assert parse_config(_config(language=" Auto ")).accounts[0].language == "auto"
    assert parse_config(_config(language="DE")).accounts[0].language == "de"
    with pytest.raises(ConfigError, match="'nl'.*auto"):
        parse_config(_config(language="nl"), "rpa.yaml")
