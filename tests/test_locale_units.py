"""Pure tests: counts and Seller Performance words in each language, the config's language,
and the dashboard's text to the owner."""

from __future__ import annotations

from typing import Any

import pytest

from flows.dashboard import owner_text
from flows.performance import summary_text
from rpa.config import LANGUAGES, language_for_marketplace, parse_config
from rpa.errors import ConfigError, PageError
from rpa.practice.sandbox.wording import APP_WORDS
from rpa.seller_central import locale
from rpa.seller_central.home import parse_count
from rpa.seller_central.locale import Unreadable, status_of

NNBSP, NBSP = "\u202f", "\u00a0"


@pytest.mark.parametrize("text, language, count", [
    ("Unshipped: 1,234", "en", 1234),
    ("1,234,567", "en", 1234567),
    ("7", "en", 7),
    ("Buyer Messages: 0", "en", 0),
    ("Nicht versendet: 1.234", "de", 1234),
    ("Nicht versandt: 1.234", "de", 1234),
    ("Nicht versendet (12.345.678)", "de", 12345678),
    ("999", "de", 999),
    ("Non expédiées : 1 234", "fr", 1234),
    (f"Non expédiées : 1{NBSP}234", "fr", 1234),
    (f"Non expédiées : 1{NNBSP}234", "fr", 1234),
    ("Non spediti: 1.234", "it", 1234),
    ("No enviados: 1.234", "es", 1234),
    ("1234", "es", 1234),
    ("未出荷: 1,234", "ja", 1234),
    ("未出荷 (１，２３４)", "ja", 1234),
    ("未出荷: 2,345件", "ja", 2345),
])
def test_counts_in_each_language(text: str, language: str, count: int) -> None:
    assert locale.parse_count(text, language) == count


@pytest.mark.parametrize("text, language", [
    ("Nicht versandt: 1.234", "en"),      # never 234, never 1
    ("Unshipped: 1,234", "de"),           # a German decimal comma, not a count
    ("1 234", "en"),
    ("1 234", "de"),
    ("1.234", "fr"),
    ("1,234", "fr"),
    (f"1{NNBSP}234", "ja"),
    ("5.2%", "en"),
    ("1,23", "en"),                       # not groups of three
    ("12,3456", "en"),
    ("1,234.5", "en"),
    ("1.234,5", "de"),
    ("late responses: 1 of 42", "en"),    # two numbers: which one?
    ("FBM Unshipped: 4 FBA Pending: 12", "en"),
    ("none", "en"),
    ("", "en"),
    ("1234", "nl"),                       # a language without a known format
])
def test_unreadable_counts_are_never_guessed(text: str, language: str) -> None:
    with pytest.raises(Unreadable):
        locale.parse_count(text, language)


def test_home_parse_count_raises_page_error() -> None:
    assert parse_count("Unshipped: 1,204") == 1204
    assert parse_count("Nicht versendet: 1.204", "de") == 1204
    with pytest.raises(PageError) as err:
        parse_count("Nicht versandt: 1.234")
    assert "1.234" in str(err.value)


STATUS_CASES = {
    "en": {"good": ["Good", "Healthy", "healthy"], "fair": ["Fair", "At Risk", "at-risk"],
           "poor": ["Poor", "Unhealthy", "Critical"]},
    "de": {"good": ["Gut", "Gesund"], "fair": ["Mittel", "Gefährdet"],
           "poor": ["Schlecht", "Ungesund", "Kritisch"]},
    "fr": {"good": ["Bon", "Sain", "En bonne santé"], "fair": ["Moyen", "À risque"],
           "poor": ["Mauvais", "Critique", "En mauvaise santé"]},
    "it": {"good": ["Buono", "In buona salute"], "fair": ["Discreto", "A rischio"],
           "poor": ["Scarso", "Critico", "Non sano"]},
    "es": {"good": ["Bueno", "Saludable"], "fair": ["Regular", "En riesgo"],
           "poor": ["Malo", "Deficiente", "No saludable", "Crítico"]},
    "ja": {"good": ["良好", "健全"], "fair": ["普通", "リスクあり"],
           "poor": ["不良", "不健全"]},
}


@pytest.mark.parametrize("language", sorted(STATUS_CASES))
def test_status_words_in_each_language(language: str) -> None:
    for grade, labels in STATUS_CASES[language].items():
        for label in labels:
            assert status_of(label, language) == grade, (label, language)
            assert status_of(f"  {label.upper()} ", language) == grade
        for label in STATUS_CASES["en"][grade]:  # an untranslated page
            assert status_of(label, language) == grade


@pytest.mark.parametrize("label, language", [
    ("Sparkly", "en"), ("Needs Attention", "en"), ("", "en"), ("Good enough", "en"),
    ("Gut", "en"),          # German words only on a German account
    ("Gut", "ja"), ("Buono", "de"), ("良好", "fr"),
    ("Goed", "de"),         # Dutch: a language the bot does not read
])
def test_unknown_status_words(label: str, language: str) -> None:
    assert status_of(label, language) == "unknown"


def test_tables_cover_the_configured_languages() -> None:
    assert set(locale.STATUS_WORDS) == set(LANGUAGES) == set(locale.GROUPING)
    for table in locale.STATUS_WORDS.values():
        for word, grade in table.items():
            assert locale._words(word) == word, word  # keys are written as labels are read
            assert grade in ("good", "fair", "poor")


@pytest.mark.parametrize("marketplace, language", [
    ("Germany", "de"), ("Deutschland", "de"), ("  germany ", "de"), ("France", "fr"),
    ("Italy", "it"), ("Italia", "it"), ("Spain", "es"), ("España", "es"), ("Japan", "ja"),
    ("日本", "ja"), ("United States", "en"), ("Canada", "en"), ("Netherlands", "en"),
    ("", "en"),
])
def test_language_follows_the_marketplace(marketplace: str, language: str) -> None:
    assert language_for_marketplace(marketplace) == language


def _config(**account: Any) -> dict[str, Any]:
    return {"accounts": [{"name": "main", "email": "a@b.c", "password_env": "X_PW",
                          "totp_secret_env": "X_TOTP", **account}],
            "va": {"full_name": "Maria Santos", "initials": "MS"}}


def test_config_language_default_override_and_error() -> None:
    # Left out, the language is read from the page ("auto"); the marketplace's is the one
    # used where the page does not say (rpa.seller_central.language).
    assert parse_config(_config()).accounts[0].marketplace_language == "en"
    german = parse_config(_config(marketplace="Deutschland")).accounts[0]
    assert (german.language, german.marketplace_language) == ("auto", "de")
    assert parse_config(_config(marketplace="日本")).accounts[0].marketplace_language == "ja"
    chosen = parse_config(_config(marketplace="Deutschland", language="EN"))
    assert chosen.accounts[0].language == "en"
    with pytest.raises(ConfigError) as err:
        parse_config(_config(language="nl"), "rpa.yaml")
    text = str(err.value)
    assert "rpa.yaml" in text and "language" in text and "'nl'" in text and "de" in text


def test_owner_text_names_what_was_not_read_and_why() -> None:
    text = owner_text({"performance": "the home page shows no Seller Performance widget"},
                      None, {"unshipped": 3, "performance": None, "buyer_messages": 2})
    assert text == ("Home page: Seller Performance not read (the home page shows no Seller "
                    "Performance widget). Read: Unshipped 3, Buyer Messages 2.")
    unknown = owner_text({}, {"status": "unknown", "label": "Sparkly", "areas": []},
                         {"unshipped": None, "performance": None, "buyer_messages": 0})
    assert '"Sparkly"' in unknown and "does not know" in unknown
    assert "no area listed" not in unknown and "Buyer Messages 0" in unknown


def test_summary_text_names_areas() -> None:
    text = summary_text("At Risk", [{"name": "Late Shipment Rate", "value": "5.2%",
                                     "target": "< 4%"}])
    assert text == "Seller Performance is At Risk: Late Shipment Rate 5.2% (target < 4%)."
    unread = summary_text("At Risk", [{"name": "Late Shipment Rate", "value": "5.2%",
                                       "target": "", "not_read": {"target": "none shown"}}])
    assert unread.endswith("Late Shipment Rate 5.2% (target not read).")


def test_sandbox_wording_tables_use_known_keys() -> None:
    english = set(APP_WORDS["en"])
    for locale_name in ("de", "fr", "ja"):
        assert set(APP_WORDS[locale_name]) <= english, locale_name
    assert {"de", "ja"} <= set(APP_WORDS)
    assert APP_WORDS["de"]["thousands"] == "." and APP_WORDS["fr"]["thousands"] == NNBSP
